"""Training runs, learning-rate sweeps and a mini-VeLOdrome of tuned baselines.

- :func:`train`: one run of any optax transform, one jitted ``lax.scan``.
- :func:`train_seeds`, :func:`sweep`: seeds / a learning-rate grid as one vmapped program.
- :func:`tune_learning_rate`: VeLO's protocol, best final training loss on a log grid.
- :func:`run_benchmark`, :func:`write_table`, :func:`plot_speedups`: the benchmark report.
- :func:`register_optimizer`, :func:`get_optimizer`: optimizers by name.
"""

from minivelo.bench.optimizers import (
    get_optimizer,
    list_optimizers,
    parse_spec,
    register_optimizer,
)
from minivelo.bench.report import Row, plot_curves, plot_speedups, run_benchmark, write_table
from minivelo.bench.training import TrainResult, sweep, train, train_seeds, training_run
from minivelo.bench.tuning import (
    DEFAULT_GRID,
    FINAL_FRACTION,
    final_loss,
    log_grid,
    smoothed,
    speedup_over,
    steps_to_reach,
    tune_learning_rate,
)

__all__ = [
    "DEFAULT_GRID",
    "FINAL_FRACTION",
    "Row",
    "TrainResult",
    "final_loss",
    "get_optimizer",
    "list_optimizers",
    "log_grid",
    "parse_spec",
    "plot_curves",
    "plot_speedups",
    "register_optimizer",
    "run_benchmark",
    "smoothed",
    "speedup_over",
    "steps_to_reach",
    "sweep",
    "train",
    "train_seeds",
    "training_run",
    "tune_learning_rate",
    "write_table",
]

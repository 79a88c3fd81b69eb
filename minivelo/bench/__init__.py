"""Training runs, learning-rate sweeps and a mini-VeLOdrome of tuned baselines.

- :func:`train`: one run of any optax transform, one jitted ``lax.scan``.
- :func:`train_seeds`, :func:`sweep`: seeds / a learning-rate grid as one vmapped program.
- :func:`tune_learning_rate`: VeLO's protocol, best final training loss on a log grid.
- :func:`speedup`: the one definition of the speedup of an optimizer over a reference.
- :func:`run_benchmark`, :func:`write_table`, :func:`plot_speedups`: the benchmark report.
- :func:`register_optimizer`, :func:`get_optimizer`: optimizers by name.
- :mod:`~minivelo.bench.suite`, :mod:`~minivelo.bench.velo_eval` (with its ``_report`` and
  ``_figures``): VeLO against default and tuned Adam on unseen tasks.
"""

from minivelo.bench.optimizers import (
    OptimizerEntry,
    OptimizerSpec,
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
    Speedup,
    final_loss,
    log_grid,
    smoothed,
    speedup,
    steps_to_reach,
    tune_learning_rate,
)

__all__ = [
    "DEFAULT_GRID",
    "FINAL_FRACTION",
    "OptimizerEntry",
    "OptimizerSpec",
    "Row",
    "Speedup",
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
    "speedup",
    "steps_to_reach",
    "sweep",
    "train",
    "train_seeds",
    "training_run",
    "tune_learning_rate",
    "write_table",
]

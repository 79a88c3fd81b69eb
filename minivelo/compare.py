"""``python -m minivelo compare``: the main job, every kind of optimizer on one problem.

An MLP on scikit-learn's 8x8 digits (offline) is trained for the same number of steps from
the same initialisations and minibatches (several seeds, vmapped into one program per
optimizer) with

- the classical optimizers at their default learning rates (SGD 0.1, momentum 0.01,
  Adagrad 0.01, RMSProp 1e-3, Adam 1e-3, Lion 1e-4). AdamW is left out: at its default
  weight decay (1e-4, multiplied by the learning rate 1e-3) it moves a weight by 1e-7 a
  step more than Adam, and its row is Adam's to four digits (name ``adamw`` to see it);
- Adam with its learning rate tuned on a log grid (VeLO's protocol: the best final loss,
  chosen on the very seeds it is scored on). The table says what the tuning cost: one run
  per (learning rate, seed), all in one vmapped program;
- the shipped per-parameter MLP optimizer (``mlp_lopt``, meta-trained on MNIST-1D MLPs)
  and the shipped VeLO (``velo``), which have no hyperparameters at all.

It prints a table (final training loss, mean and spread over seeds; speedup over tuned
Adam, :func:`minivelo.bench.tuning.speedup`; wall time) and writes the loss curves to
``figures/compare_loss_curves.png``. Optimizers are specs
(:func:`minivelo.bench.parse_spec`): ``adam``, ``adam:lr=0.003``, ``sgd:tuned``, ``velo``.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Sequence

import numpy as np

from minivelo import bench, tasks
from minivelo.plotting import save_figure

DEFAULT_OPTIMIZERS = (
    "sgd",
    "momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "lion",
    "adam:tuned",
    "mlp_lopt",
    "velo",
)
DEFAULT_TASK = "digits_mlp"
DEFAULT_STEPS = 500
DEFAULT_SEEDS = (0, 1, 2)
FIGURE_NAME = "compare_loss_curves"


def compare(
    task_name: str = DEFAULT_TASK,
    optimizer_specs: Sequence[str] = DEFAULT_OPTIMIZERS,
    num_steps: int = DEFAULT_STEPS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    learning_rates: Sequence[float] = bench.DEFAULT_GRID,
    progress: bool = True,
):
    """Train ``task_name`` with each optimizer; return ``(task, rows)``.

    ``rows`` are :class:`minivelo.bench.Row` (one per spec, in order, each with its speedup
    over tuned Adam), preceded by the tuned-Adam row when ``"adam:tuned"`` is not among the
    specs; the tuned-Adam row holds the whole grid's curves, so its tuning cost is
    ``len(learning_rates) * len(seeds)`` runs.
    """
    task = tasks.get_task(task_name)
    rows = bench.run_benchmark(
        [task],
        [s for s in optimizer_specs if s.replace(" ", "") != "adam:tuned"],
        num_steps,
        seeds,
        baseline="adam",
        learning_rates=learning_rates,
        progress=progress,
    )
    tuned, others = rows[0], rows[1:]
    if any(s.replace(" ", "") == "adam:tuned" for s in optimizer_specs):
        order = [s.replace(" ", "") for s in optimizer_specs]
        others.insert(order.index("adam:tuned"), tuned)
        return task, others
    return task, [tuned, *others]


def tuning_cost(rows, seeds: Sequence[int]) -> str:
    """One line: what tuning Adam's learning rate cost, in runs and in seconds."""
    tuned = next(r for r in rows if r.is_baseline)
    num_rates = len(tuned.grid_learning_rates)
    return (
        f"Tuning Adam's learning rate cost {num_rates * len(seeds)} runs "
        f"({num_rates} rates x {len(seeds)} seeds, one vmapped program: "
        f"{tuned.compile_s:.1f} s compiling, {tuned.run_s:.1f} s running); best rate "
        f"{tuned.learning_rate:.2g}{' (at the grid edge)' if tuned.at_grid_edge else ''}. "
        "VeLO and the MLP optimizer took one run per seed."
    )


def summary_table(rows) -> str:
    """A Markdown table, best first: per optimizer, the final loss (the mean training loss
    over the last 5% of steps, ``bench.FINAL_FRACTION``) as mean ± std over seeds and the
    best seed's, the speedup over tuned Adam (:func:`minivelo.bench.tuning.speedup`), and
    the compile and run times (a tuned row's run time covers its whole grid)."""
    lines = [
        "| optimizer | final loss (mean ± std over seeds) | best seed | "
        "speedup over tuned Adam | compile (s) | run (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    ranked = sorted(rows, key=lambda r: (not np.isfinite(r.final_loss), r.final_loss))
    for r in ranked:
        per_seed = np.asarray(r.seed_final_losses, dtype=np.float64)
        finite = per_seed[np.isfinite(per_seed)]
        if finite.size == per_seed.size:
            loss = f"{np.mean(per_seed):.3g} ± {np.std(per_seed):.2g}"
        else:
            loss = f"diverged on {per_seed.size - finite.size} of {per_seed.size} seeds"
        best = f"{np.min(finite):.3g}" if finite.size else "-"
        run_s = f"{r.run_s:.2f}" + (" (grid)" if r.is_baseline else "")
        lines.append(
            f"| {r.optimizer} | {loss} | {best} | {r.speedup_text()} | {r.compile_s:.1f} | "
            f"{run_s} |"
        )
    return "\n".join(lines)


def plot(task, rows, num_steps: int):
    """The smoothed loss curve (mean over seeds) of every row, on a log scale."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.arange(1, num_steps + 1)
    for i, r in enumerate(rows):
        learned = r.learning_rate is None
        ax.plot(
            steps,
            bench.smoothed(r.curve),
            label=r.optimizer,
            color=f"C{i % 10}",
            lw=2.0 if learned or r.is_baseline else 1.1,
            ls="-" if learned or r.is_baseline else "--",
        )
    ax.set(
        xlabel="step",
        ylabel="training loss (smoothed, mean over seeds)",
        yscale="log",
        title=f"{task.name}: {task.num_params:,} parameters",
    )
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def run(
    task_name: str = DEFAULT_TASK,
    optimizer_specs: Sequence[str] = DEFAULT_OPTIMIZERS,
    num_steps: int = DEFAULT_STEPS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    out=None,
    learning_rates: Sequence[float] = bench.DEFAULT_GRID,
    progress: bool = True,
    log=print,
) -> list[pathlib.Path]:
    """The whole job: train, print the table, write the figure (and, with ``out``, the
    table as ``compare.md`` and the figure as ``compare_loss_curves.png`` in ``out``
    instead of ``figures/``). Returns the paths written."""
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    task, rows = compare(task_name, optimizer_specs, num_steps, seeds, learning_rates, progress)
    seeds = list(seeds)
    header = (
        f"{task.name} ({task.num_params:,} parameters), {num_steps} steps, "
        f"seeds {', '.join(map(str, seeds))}"
    )
    text = "\n\n".join([header, summary_table(rows), tuning_cost(rows, seeds)])
    text += (
        "\n\nFinal loss: mean training loss over the last 5% of steps, mean over seeds. "
        "Speedup (minivelo.bench.speedup): tuned Adam's steps to its own final loss / the "
        "optimizer's steps to that loss, or, if it never gets there, tuned Adam's steps to "
        "the optimizer's final loss / steps taken; 0 if it diverged. AdamW at its default "
        "weight decay matches Adam to four digits, so it is not a default row."
    )
    fig = plot(task, rows, num_steps)
    paths = []
    if out is None:
        paths.append(save_figure(fig, FIGURE_NAME))
    else:
        folder = pathlib.Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "compare.md").write_text(text + "\n")
        fig.savefig(folder / f"{FIGURE_NAME}.png", dpi=110)
        paths += [folder / "compare.md", folder / f"{FIGURE_NAME}.png"]
    plt.close(fig)
    log("\n" + text)
    log(f"\n{time.perf_counter() - start:.0f} s in all; wrote {', '.join(map(str, paths))}")
    return paths

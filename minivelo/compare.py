"""``python -m minivelo compare``: train one offline problem with several optimizers.

The main job of the package, in one screen: an MLP on scikit-learn's 8x8 digits (offline),
trained with each optimizer for the same number of steps from the same initialisations and
minibatches (several seeds, vmapped into one program per optimizer). It prints a summary
table (final training loss, mean and spread over seeds, and wall time) and writes a
loss-curve figure to ``figures/compare_loss_curves.png``.

Optimizers are given as specs (see :func:`minivelo.bench.parse_spec`): ``adam``,
``adam:lr=0.003``, ``velo`` ...
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm.auto import tqdm

from minivelo import bench, tasks
from minivelo.plotting import save_figure

DEFAULT_OPTIMIZERS = (
    "sgd:lr=0.1",
    "momentum:lr=0.05",
    "adagrad:lr=0.05",
    "rmsprop:lr=0.001",
    "adam:lr=0.001",
    "adamw:lr=0.001",
)


def compare(task_name: str, optimizer_specs, num_steps: int, seeds, progress: bool = True):
    """Train ``task_name`` with each optimizer; return ``{label: (losses [S, T], seconds)}``."""
    task = tasks.get_task(task_name)
    specs = [bench.parse_spec(spec) for spec in optimizer_specs]
    for spec in specs:
        if spec.tuned:
            raise ValueError(
                f"compare trains fixed settings; use `python -m minivelo bench` "
                f"to tune ({spec.label})"
            )
    results = {}
    for spec in tqdm(
        specs, desc=f"{task.name}, {num_steps} steps", unit="optimizer", disable=not progress
    ):
        start = time.perf_counter()
        runs = bench.train_seeds(task, spec.make(num_steps), num_steps, seeds)
        results[spec.label] = (runs.losses, time.perf_counter() - start)
    return task, results


def summary_table(results) -> str:
    """A Markdown table: final loss (mean of the last 10% of steps) per optimizer."""
    lines = [
        "| optimizer | final loss (mean ± std over seeds) | best seed | wall time (s) |",
        "| --- | --- | --- | --- |",
    ]
    ranked = sorted(results.items(), key=lambda item: np.nanmean(bench.final_loss(item[1][0])))
    for label, (losses, seconds) in ranked:
        final = bench.final_loss(losses)  # [S]
        lines.append(
            f"| {label} | {np.mean(final):.4f} ± {np.std(final):.4f} | "
            f"{np.min(final):.4f} | {seconds:.1f} |"
        )
    return "\n".join(lines)


def plot(task, results, num_steps: int):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.arange(1, num_steps + 1)
    for label, (losses, _) in results.items():
        # [S, T]: a trailing mean per seed, to read trends through minibatch noise
        curve = np.stack([bench.smoothed(seed_losses) for seed_losses in losses])
        mean = np.mean(curve, axis=0)
        (line,) = ax.plot(steps, mean, label=label)
        ax.fill_between(
            steps,
            curve.min(axis=0),
            curve.max(axis=0),
            color=line.get_color(),
            alpha=0.15,
            linewidth=0,
        )
    ax.set(
        xlabel="step",
        ylabel="training loss (smoothed)",
        yscale="log",
        title=f"{task.name}: {task.num_params:,} parameters, mean and range over seeds",
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minivelo compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", default="digits_mlp", choices=tasks.list_tasks())
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=list(DEFAULT_OPTIMIZERS),
        metavar="SPEC",
        help="e.g. adam adam:lr=0.003 momentum:lr=0.05",
    )
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument(
        "--figure", default="compare_loss_curves", help="figure name, saved as figures/<name>.png"
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.seeds < 1:
        parser.error("--steps and --seeds must be positive")

    task, results = compare(args.task, args.optimizers, args.steps, range(args.seeds))
    print()
    print(f"{task.name} ({task.num_params:,} parameters), {args.steps} steps, {args.seeds} seeds")
    print(summary_table(results))
    path = save_figure(plot(task, results, args.steps), args.figure)
    print(f"\nwrote {path}")
    return 0

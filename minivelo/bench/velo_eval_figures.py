"""The figures of ``velo-eval``: speedups over tuned Adam per task, and the loss curves.

``figures/velo_eval_speedups.png`` and ``figures/velo_eval_curves.png``, drawn from the
:class:`~minivelo.bench.velo_eval.EvalRow` objects of :func:`minivelo.bench.velo_eval.evaluate`.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import numpy as np

from minivelo.bench import tuning


def plot_speedups(rows: Sequence):
    """Speedup over tuned Adam per task (sorted by VeLO's), log scale, lines at 1x and 2x."""
    import matplotlib.pyplot as plt

    floor = 1e-2  # where a diverged run is drawn
    order = sorted(rows, key=lambda r: -r.speedup(r.velo))
    x = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(order) + 2), 4.2))
    for name, pick, color in (("VeLO", "velo", "C0"), ("Adam 1e-3", "adam", "C1")):
        speed = np.array([max(r.speedup(getattr(r, pick)), floor) for r in order])
        ax.plot(x, speed, "o-", color=color, label=name, lw=1, ms=6)
        down = np.array([not math.isfinite(getattr(r, pick).final_loss) for r in order])
        if down.any():
            ax.plot(x[down], speed[down], "x", color="k", ms=8)
    ax.axhline(1.0, color="k", lw=1, ls="--", label="tuned Adam (1x)")
    ax.axhline(2.0, color="C2", lw=1, ls=":", label="2x (goal)")
    ax.set_yscale("log")
    ax.set_xticks(x, [r.label for r in order], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("speedup over tuned Adam (steps)")
    ax.set_title(f"Unseen tasks, {order[0].num_steps if order else 0} steps", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(rows: Sequence):
    """One panel per task: smoothed loss curves of VeLO, Adam 1e-3 and tuned Adam."""
    import matplotlib.pyplot as plt

    cols = min(3, max(1, len(rows)))
    nrows = max(1, math.ceil(len(rows) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        for row, name, color in (
            (r.velo, "VeLO", "C0"),
            (r.adam, "Adam 1e-3", "C1"),
            (r.tuned, f"tuned Adam ({r.tuned.learning_rate:.2g})", "C3"),
        ):
            curve = tuning.smoothed(row.curve)
            ax.plot(np.arange(1, len(curve) + 1), curve, color=color, lw=1.2, label=name)
        ax.set_title(r.label, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    axes.flat[0].set_ylabel("training loss (smoothed)")
    fig.tight_layout()
    return fig


def save_figures(rows: Sequence) -> list[pathlib.Path]:
    """``figures/velo_eval_speedups.png`` and ``figures/velo_eval_curves.png``."""
    import matplotlib.pyplot as plt

    from minivelo.plotting import save_figure

    paths = []
    for name, draw in (("velo_eval_speedups", plot_speedups), ("velo_eval_curves", plot_curves)):
        fig = draw(rows)
        paths.append(save_figure(fig, name))
        plt.close(fig)
    return paths

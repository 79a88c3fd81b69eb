"""Figures of lesson 05 (what tuning costs: grid search, random search, successive halving).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels, smooth


def best_rate_per_task(rows, *, num_steps: int, default_rate: float = 1e-3):
    r"""Each task's final loss against Adam's learning rate, relative to its best
    (:math:`L(\eta) / \min_\eta L`, 1 at the star), with Adam's default marked.

    Args:
      rows: the tuned-baseline rows of :func:`minivelo.bench.run_benchmark` (each with its
        ``grid_learning_rates``, ``grid_final_losses``, ``learning_rate``, ``final_loss``).
      num_steps: the training length, for the title.
      default_rate: the rate drawn as a dotted line.
    """
    fig, (ax,) = panels(1, height=4.8)
    fig.set_size_inches(12.0, 4.8)
    for i, row in enumerate(rows):
        relative = np.asarray(row.grid_final_losses) / row.final_loss
        ax.plot(row.grid_learning_rates, relative, "o-", ms=4, color=f"C{i}", label=row.task)
        ax.plot(row.learning_rate, 1.0, "*", ms=16, color=f"C{i}")
    ax.axvline(default_rate, color="k", ls=":", lw=1.2)
    ax.text(default_rate * 1.1, 60, "Adam's default", va="center")
    ax.set(
        xscale="log",
        yscale="log",
        ylim=(0.8, 100),
        xlabel="learning rate η",
        ylabel="final loss / best final loss",
        title=f"Adam after {num_steps} steps: the best rate (★) depends on the task",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def curves_at_rate(row, lr_index: int, *, window: int = 10):
    """One task's loss curves at every grid rate (grey), the chosen rate's highlighted.

    Args:
      row: a tuned-baseline row (``grid_curves`` ``[L, T]``, ``grid_learning_rates``).
      lr_index: which grid rate to highlight.
      window: the smoothing window in steps (:func:`minivelo.plotting.smooth`).
    """
    curves = np.asarray(row.grid_curves)
    if not 0 <= lr_index < len(curves):
        raise IndexError(f"lr_index {lr_index} is outside the grid of {len(curves)} rates")
    fig, (ax,) = panels(1)
    for j, curve in enumerate(curves):
        if j != lr_index:
            ax.plot(smooth(curve, window), color="0.8", lw=1.0)
    ax.plot(smooth(curves[lr_index], window), color="C0", lw=2.5)
    rate = row.grid_learning_rates[lr_index]
    ax.set(
        yscale="log",
        xlabel="step",
        ylabel="training loss (smoothed)",
        title=f"η = {rate:.2g} (grey: the other rates)",
    )
    return fig


def speedups(rows, *, reference: str = "tuned Adam"):
    r"""VeLO's Figure 1 in miniature: each optimizer's speedups over ``reference``
    (:func:`minivelo.bench.speedup`), sorted across tasks.

    Filled markers: the optimizer reached the reference's final loss (speedup
    :math:`t_R / t_X`); hollow: it never did (speedup :math:`n / T`, the fraction of the run
    the reference needs to match the optimizer's final loss).

    Args:
      rows: rows of :func:`minivelo.bench.run_benchmark`; baseline rows are left out.
    """
    names = list(dict.fromkeys(r.optimizer for r in rows if not r.is_baseline))
    if not names:
        raise ValueError("no non-baseline rows to draw")
    fig, (ax,) = panels(1)
    for i, name in enumerate(names):
        chosen = sorted((r for r in rows if r.optimizer == name and not r.is_baseline),
                        key=lambda r: -r.speedup)  # fmt: skip
        speed = np.array([max(r.speedup, 1e-2) for r in chosen])
        fraction = (np.arange(len(chosen)) + 0.5) / len(chosen)
        reached = np.array([r.reached for r in chosen])
        ax.plot(fraction, speed, "-", color=f"C{i}", label=name)
        ax.scatter(fraction[reached], speed[reached], s=60, color=f"C{i}", zorder=3)
        ax.scatter(fraction[~reached], speed[~reached], s=60, facecolors="white",
                   edgecolors=f"C{i}", linewidths=2, zorder=3)  # fmt: skip
    ax.axhline(1.0, color="k", lw=1, ls="--", label=reference)
    ax.set(
        yscale="log",
        xlim=(0, 1),
        xlabel="fraction of tasks (sorted)",
        ylabel=f"speedup over {reference}",
        title="hollow: never reached its final loss",
    )
    ax.legend(loc="upper right")
    return fig


def grid_random_halving(
    grid, random, survivors, *, halving_steps: int, horizon: int, loss_cap: float = 2.5
):
    r"""Where grid search, random search and successive halving looked (left), and the
    best final loss each found against its cost in training steps (right).

    Args:
      grid: ``(learning_rates, memories, final_losses)`` of the grid's settings
        (memory = :math:`1 - \beta_1`).
      random: the same for the random settings, in the order random search draws them.
      survivors: halving's indices into the random settings alive at each rung
        (the first rung: all of them).
      halving_steps: what successive halving cost, in steps.
      horizon: :math:`T`, the steps of one full training.
      loss_cap: colours saturate at this loss (diverged settings would swamp the scale).
    """
    import matplotlib.pyplot as plt

    grid_lr, grid_memory, grid_final = (np.asarray(a) for a in grid)
    random_lr, random_memory, random_final = (np.asarray(a) for a in random)
    fig, (ax_space, ax_cost) = panels(2, height=4.8)
    fig.set_size_inches(13.0, 4.8)
    norm = plt.matplotlib.colors.LogNorm(vmin=np.nanmin(random_final), vmax=loss_cap)
    ax_space.scatter(
        grid_lr,
        grid_memory,
        c=np.minimum(grid_final, loss_cap),
        norm=norm,
        marker="s",
        s=70,
        cmap="viridis",
    )
    points = ax_space.scatter(
        random_lr,
        random_memory,
        c=np.minimum(random_final, loss_cap),
        norm=norm,
        s=30,
        cmap="viridis",
        edgecolors="k",
        linewidths=0.4,
    )
    for size, alive in zip((90, 220), survivors[1:], strict=False):
        ax_space.scatter(
            random_lr[alive],
            random_memory[alive],
            facecolors="none",
            edgecolors="C3",
            s=size,
            linewidths=1.5,
        )
    ax_space.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate η",
        ylabel="1 - β₁",
        title="squares: grid; dots: random; rings: halving",
    )
    fig.colorbar(points, ax=ax_space, label="final loss")
    best_so_far = np.minimum.accumulate(random_final)
    runs = np.arange(1, len(random_final) + 1)
    ax_cost.plot(runs * horizon, best_so_far, "-", color="C0", label="random search")
    ax_cost.plot(
        len(grid_final) * horizon,
        grid_final.min(),
        "s",
        color="C1",
        ms=10,
        label=f"grid {len(grid_final)} runs",
    )
    ax_cost.plot(
        halving_steps,
        random_final[survivors[-1]].min(),
        "*",
        color="C3",
        ms=18,
        label="successive halving",
    )
    ax_cost.set(
        xscale="log",
        yscale="log",
        xlabel="tuning cost (training steps)",
        ylabel="best final loss found",
        title="what each method buys",
    )
    ax_cost.legend(loc="lower left")
    return fig

"""Figures of lesson 13 (discovered vs learned: Lion against VeLO).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels

#: The colour of each optimizer in every figure of the lesson.
COLOURS = {"Lion": "C3", "Adam": "C0", "VeLO": "k"}


def sign_vs_adam(snr, magnitudes, *, num_updates: int):
    r""":math:`|u_i| / \eta` of each coordinate against its signal-to-noise ratio.

    Args:
      snr: the signal-to-noise ratio of each coordinate's gradient.
      magnitudes: ``{optimizer: |u_i| / eta}``, one value per coordinate.
      num_updates: how many updates the stream had (for the label).
    """
    fig, (ax,) = panels(1)
    for name, values in magnitudes.items():
        ax.semilogx(snr, values, ".", ms=3, alpha=0.6, color=COLOURS.get(name), label=name)
    ax.set(
        xlabel="signal-to-noise ratio of the gradient",
        ylabel=rf"$|u_i| / \eta$ after {num_updates} updates",
        title="Lion moves every coordinate by η",
    )
    ax.legend(markerscale=4)
    return fig


def memory(per_parameter, categories, *, weights_bytes: float = 4.0):
    """Optimizer state in bytes per parameter, one panel per optimizer, one stacked bar
    per model, split by what each part grows with.

    Args:
      per_parameter: ``{optimizer: {model: {category: bytes per parameter}}}``.
      categories: the stacking order (and legend) of the categories.
      weights_bytes: the model's own bytes per parameter (a dotted line, labelled in the
        first panel).
    """
    fig, axes = panels(len(per_parameter), height=4.6, sharey=True)
    colours = dict(zip(categories, ["C0", "C1", "C2", "C4", "0.6"], strict=False))
    top = max(sum(parts.values()) for models in per_parameter.values() for parts in models.values())
    for ax, (name, models) in zip(axes, per_parameter.items(), strict=True):
        for x, parts in enumerate(models.values()):
            bottom = 0.0
            for category in categories:
                value = parts.get(category, 0.0)
                ax.bar(x, value, 0.7, bottom=bottom, color=colours[category], label=category)
                bottom += value
        ax.axhline(weights_bytes, color="k", ls=":", lw=1.5)
        ax.set_xticks(range(len(models)), list(models), rotation=30, ha="right")
        ax.set(title=name, ylim=(0, 1.15 * top))
    axes[0].set_ylabel("state, bytes per parameter")
    axes[0].text(-0.4, weights_bytes * 1.04, "the model's own weights", va="bottom")
    handles, labels = axes[-1].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # one entry per category
    fig.legend(unique.values(), unique.keys(), loc="outside lower center", ncol=3)
    return fig


def quality(results, grid):
    """Top row: each task's final loss against the learning rate for the tuned optimizers
    (stars: the tuned rates), VeLO's single value as a line. Bottom row: the training
    curves of VeLO and of the tuned optimizers.

    Args:
      results: ``{task: {"VeLO": (final loss, curve), optimizer: (final losses on the grid,
        best curve)}}``, at most three tasks; non-finite final losses are left out.
      grid: the learning rates of the grid.
    """
    if not 1 <= len(results) <= 3:
        raise ValueError(f"quality draws one to three tasks, got {len(results)}")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, grid_axes = plt.subplots(2, n, figsize=({1: 7.0, 2: 10.0, 3: 12.0}[n], 8.4), squeeze=False)
    top, bottom = list(grid_axes[0]), list(grid_axes[1])
    grid = np.asarray(grid)
    for ax_rate, ax_curve, (label, runs) in zip(top, bottom, results.items(), strict=True):
        velo_final, velo_curve = runs["VeLO"]
        for name, (finals, curve) in runs.items():
            if name == "VeLO":
                continue
            finals = np.asarray(finals, dtype=float)
            finite = np.isfinite(finals)
            colour = COLOURS.get(name)
            ax_rate.plot(grid[finite], finals[finite], "o-", ms=5, color=colour, label=name)
            best = int(np.nanargmin(np.where(finite, finals, np.nan)))
            ax_rate.plot(grid[best], finals[best], "*", ms=16, color=colour)
            ax_curve.plot(curve, color=colour, label=f"{name}, tuned")
        ax_rate.axhline(velo_final, color=COLOURS["VeLO"], lw=2, label="VeLO (no η)")
        ax_curve.plot(velo_curve, color=COLOURS["VeLO"], label="VeLO")
        ax_rate.set(xscale="log", yscale="log", xlabel="learning rate η", title=label)
        ax_curve.set(yscale="log", xlabel="step")
    top[0].set_ylabel("final training loss")
    bottom[0].set_ylabel("training loss (smoothed)")
    top[0].legend()
    bottom[0].legend()
    return fig


def rate_curves(curves, *, title: str):
    """One task's training curves at one learning rate (the lesson's widget).

    Args:
      curves: ``{legend label: curve}``; a label starting with an optimizer's name takes
        its colour.
    """
    fig, (ax,) = panels(1)
    for label, curve in curves.items():
        curve = np.asarray(curve, dtype=float)
        colour = next((c for name, c in COLOURS.items() if label.startswith(name)), None)
        ax.plot(np.where(np.isfinite(curve), curve, np.nan), color=colour, label=label)
    ax.set(yscale="log", xlabel="step", ylabel="training loss (smoothed)", title=title)
    ax.legend()
    return fig


def weight_decay(decays, rates, train_loss, heldout_loss, *, velo_heldout: float, title: str):
    """Lion's final training loss (left) and held-out loss (right) against its weight
    decay, one line per learning rate; VeLO's held-out loss as a line.

    Args:
      decays: the weight decays (the x axis, one tick each).
      rates: the learning rates (one line each).
      train_loss, heldout_loss: arrays of shape ``(len(rates), len(decays))``.
    """
    fig, (ax_train, ax_test) = panels(2, sharey=False)
    x = np.arange(len(decays))
    for i, rate in enumerate(rates):
        for ax, values in ((ax_train, train_loss), (ax_test, heldout_loss)):
            ax.plot(x, np.asarray(values)[i], "o-", color=f"C{i + 3}", label=f"Lion η={rate:.1e}")
    ax_test.axhline(velo_heldout, color=COLOURS["VeLO"], lw=2, label="VeLO")
    for ax, name in ((ax_train, "final training loss"), (ax_test, "held-out loss")):
        ax.set_xticks(x, [f"{d:g}" for d in decays])
        ax.set(xlabel="Lion's weight decay λ", yscale="log", title=name)
    ax_test.legend()
    fig.suptitle(title)
    return fig

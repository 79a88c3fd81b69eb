"""Figures of lessons 10 (VeLO in practice) and 11 (the published VeLO).

Each function takes results the lesson computed and returns a matplotlib figure drawn in
the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it. At
most three panels a row, at most five legend entries a panel.
"""

from __future__ import annotations

import numpy as np

from minivelo.bench.tuning import smoothed
from minivelo.plotting import panels, smooth

# --------------------------------------------------------------------- lesson 10


def new_task(curves, grid, grid_finals, velo_final, *, title: str, num_steps: int):
    """Loss curves on a new task, and Adam's final loss over its learning-rate grid.

    Args:
      curves: ``{label: (curve, colour)}``, raw loss curves ``[T]`` (smoothed here),
        VeLO's first; at most five.
      grid, grid_finals: Adam's learning rates and their final losses (inf: diverged).
      velo_final: VeLO's final loss, drawn across the grid panel.
    """
    fig, (ax_curve, ax_grid) = panels(2)
    for label, (curve, colour) in curves.items():
        ax_curve.plot(np.arange(1, len(curve) + 1), smoothed(curve), color=colour, label=label)
    ax_curve.set(yscale="log", xlabel="step", ylabel="training loss (smoothed)", title=title)
    ax_curve.legend()
    grid, grid_finals = np.asarray(grid), np.asarray(grid_finals)
    finite = np.isfinite(grid_finals)
    best = int(np.argmin(np.where(finite, grid_finals, np.inf)))
    ax_grid.plot(grid[finite], grid_finals[finite], "o-", color="C0", label="Adam, each rate")
    ax_grid.axhline(velo_final, color="C3", label="VeLO (one run)")
    ax_grid.plot(grid[best], grid_finals[best], "*", ms=16, color="C0", label="tuned: the best")
    ax_grid.set(
        xscale="log",
        yscale="log",
        xlabel="Adam's learning rate",
        ylabel=f"final loss ({num_steps} steps)",
        title=f"{len(grid)} Adam runs; VeLO: one",
    )
    ax_grid.legend()
    return fig


def speedups(labels, velo, default, *, floor: float = 1e-3, ceiling: float = 30.0):
    """Speedups over tuned Adam per task (bars) and sorted (the paper's Figure 1).

    Args:
      labels: short task names.
      velo, default: :class:`minivelo.bench.Speedup` per task, of VeLO and of Adam at its
        default rate. A diverged run, or a speedup below ``floor``, is drawn at ``floor``.
    """
    rows = [(velo, "VeLO (no tuning)", "C3"), (default, "Adam, lr=1e-3", "0.6")]
    fig, (ax_bar, ax_sorted) = panels(2, height=4.6)
    y = np.arange(len(labels))
    for k, (values, _, colour) in enumerate(rows):
        shown = [max(s.speedup, floor) for s in values]
        ax_bar.barh(y - 0.2 + 0.4 * k, shown, height=0.38, color=colour)
        for i, s in enumerate(values):
            text = s.text() if s.speedup >= floor or s.diverged else f"<{floor:g}x"
            ax_bar.text(shown[i] * 1.2, i - 0.2 + 0.4 * k, text, va="center", fontsize=12)
    ax_bar.axvline(1, color="k", ls="--", lw=1)
    ax_bar.set_yticks(y, labels)
    ax_bar.invert_yaxis()
    ax_bar.set(xscale="log", xlim=(floor, ceiling), xlabel="speedup over tuned Adam")
    ax_bar.set_title("per task")  # the colours are keyed in the right panel's legend
    for values, name, colour in rows:
        order = sorted((max(s.speedup, floor) for s in values), reverse=True)
        frac = (np.arange(len(order)) + 0.5) / len(order)
        ax_sorted.plot(frac, order, "o-", color=colour, label=name)
    ax_sorted.axhline(1, color="k", ls="--", lw=1, label="tuned Adam")
    ax_sorted.set(
        yscale="log",
        xlim=(0, 1),
        ylim=(floor / 1.5, ceiling),
        xlabel="fraction of tasks (sorted)",
        ylabel="speedup over tuned Adam",
        title="the paper's Figure 1, in miniature",
    )
    ax_sorted.legend()
    return fig


def implicit_schedule(velo_runs, adam, *, tensor_name: str, title: str, fraction=0.05):
    """VeLO told different horizons: loss, relative update size, and ``|lr_mult|``.

    Args:
      velo_runs: ``{num_steps: (loss [T], size [T], lr_mult [T], colour)}`` (at most four).
      adam: ``(label, loss [T], size [T])`` of the reference, drawn dashed.
    """
    fig, axes = panels(3)
    for horizon, (loss, size, lr_mult, colour) in velo_runs.items():
        steps = np.arange(1, horizon + 1)
        label = f"VeLO, N={horizon}"
        axes[0].plot(steps, smoothed(loss, fraction), color=colour, label=label)
        axes[1].plot(steps / horizon, smoothed(size, fraction), color=colour, label=label)
        axes[2].plot(steps / horizon, np.abs(lr_mult), color=colour, label=label)
    adam_label, adam_loss, adam_size = adam
    steps = np.arange(1, len(adam_loss) + 1)
    axes[0].plot(steps, smoothed(adam_loss, fraction), "--", color="C0", label=adam_label)
    axes[1].plot(steps / len(steps), smoothed(adam_size, fraction), "--", color="C0",
                 label=adam_label)  # fmt: skip
    axes[0].set(yscale="log", xlabel="step", ylabel="training loss (smoothed)", title=title)
    axes[1].set(yscale="log", xlabel="fraction of training done", ylabel="|Δp| / |p|",
                title="relative update size")  # fmt: skip
    axes[2].set(xlabel="fraction of training done", ylabel="|lr_mult|",
                title=f"|lr_mult| of {tensor_name}")  # fmt: skip
    for ax in axes:
        ax.legend()
    return fig


def long_horizon(curves, size_runs, *, train_horizon: int, title: str):
    """A long run against the meta-training horizon: loss curves, and update sizes.

    Args:
      curves: ``{label: (loss [T], colour)}`` (at most five; different lengths allowed),
        drawn smoothed over 1% of each run, on log-log axes.
      size_runs: ``{num_steps: (size [T], colour)}``: update sizes against the fraction
        of training done (at most five).
    """
    fig, (ax_loss, ax_size) = panels(2)
    for label, (loss, colour) in curves.items():
        ax_loss.plot(np.arange(1, len(loss) + 1), smoothed(loss, 0.01), color=colour,
                     label=label)  # fmt: skip
    ax_loss.axvline(train_horizon, color="k", lw=1, ls="--")
    ax_loss.set(xscale="log", yscale="log", xlabel="step", ylabel="training loss (smoothed)",
                title=title)  # fmt: skip
    ax_loss.legend()
    for horizon, (size, colour) in size_runs.items():
        ax_size.plot(np.arange(1, horizon + 1) / horizon, smoothed(size), color=colour,
                     label=f"N={horizon}")  # fmt: skip
    ax_size.set(yscale="log", xlabel="fraction of training done", ylabel="|Δp| / |p|",
                title="VeLO's update size")  # fmt: skip
    ax_size.legend()
    return fig


def deep_mlp(velo_losses, adam_curve, adam_label, tensor_sizes, names, *, title: str):
    """A deep MLP: VeLO's loss per seed against tuned Adam, and its per-matrix step sizes.

    Args:
      velo_losses: ``{seed: loss [T]}`` (at most two seeds).
      tensor_sizes: ``{seed: [T, M]}``, ``|Δp|/|p|`` of each weight matrix, input first.
      names: the ``M`` matrices' names (the first and last are labelled).
    """
    seeds = list(tensor_sizes)
    fig, axes = panels(1 + len(seeds))
    for s, (seed, loss) in enumerate(velo_losses.items()):
        axes[0].plot(np.arange(1, len(loss) + 1), loss, color="C3", lw=1.2,
                     ls=("-", ":")[s % 2], label=f"VeLO, seed {seed}")  # fmt: skip
    axes[0].plot(np.arange(1, len(adam_curve) + 1), adam_curve, color="C0", lw=1.2,
                 label=adam_label)  # fmt: skip
    axes[0].set(yscale="log", xlabel="step", ylabel="training loss", title=title)
    axes[0].legend()
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis")
    for ax, seed in zip(axes[1:], seeds, strict=True):
        sizes = np.asarray(tensor_sizes[seed])
        m = sizes.shape[1]
        for k in range(m):
            ax.plot(np.arange(1, len(sizes) + 1), smoothed(sizes[:, k], 0.02), lw=1.2,
                    color=cmap(k / max(m - 1, 1)),
                    label=names[k] if k in (0, m - 1) else None)  # fmt: skip
        ax.set(yscale="log", xlabel="step", ylabel="|Δp| / |p| (smoothed)",
               title=f"per matrix, seed {seed}")  # fmt: skip
        ax.legend(title="input to output")
    return fig


def rosenbrock(paths, losses, *, title: str, window=((-2.0, 2.0), (-1.0, 3.0))):
    """Paths on the Rosenbrock valley's contours, and the loss curves.

    Args:
      paths: ``{label: ([T, 2] parameters, colour)}`` (at most four).
      losses: ``{label: (loss [T], colour)}``, drawn at least 1e-12 on a log axis.
    """
    (x0, x1), (y0, y1) = window
    fig, (ax_path, ax_loss) = panels(2)
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    ax_path.contour(xs, ys, 100 * (ys - xs**2) ** 2 + (1 - xs) ** 2,
                    levels=np.logspace(-1, 3.5, 14), colors="0.75", linewidths=0.8)  # fmt: skip
    for label, (path, colour) in paths.items():
        path = np.asarray(path)
        ax_path.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, color=colour, label=label)
    ax_path.plot([1], [1], "k*", ms=14, label="minimum")
    ax_path.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x[0]", ylabel="x[1]",
                title="paths (clipped to this window)")  # fmt: skip
    ax_path.legend()
    for label, (loss, colour) in losses.items():
        ax_loss.plot(np.maximum(np.asarray(loss), 1e-12), color=colour, label=label)
    ax_loss.set(yscale="log", xlabel="step", ylabel="loss", title=title)
    ax_loss.legend()
    return fig


# --------------------------------------------------------------------- lesson 11


def digits_training(adam_runs, velo_runs, tensor_names, *, best: int, width: int = 25):
    """Adam's sweep and VeLO variants on one task: loss, update size, cosine, ``lr_mult``.

    A 2 x 2 grid. Adam's rates are keyed in the first panel, VeLO's variants in the second,
    the tensors' line styles in the fourth (each key at most five entries).

    Args:
      adam_runs: ``{label: {"loss", "size", "cos"}}`` (curves ``[T]``; at most five).
      velo_runs: ``{label: ({"loss", "size", "cos", "lr_mult" [T, tensors]}, colour)}``
        (at most five).
      tensor_names: the names of the tensors (at most four line styles).
      best: the index in ``adam_runs`` of the best rate (drawn darker).
      width: the smoothing window in steps (:func:`minivelo.plotting.smooth`).
    """
    import matplotlib.pyplot as plt

    styles = ("-", "--", ":", "-.")
    if len(tensor_names) > len(styles):
        raise ValueError(f"at most {len(styles)} tensors, got {len(tensor_names)}")
    fig, grid = plt.subplots(2, 2, figsize=(12, 8.4))
    axes = list(grid.ravel())
    for i, (label, run) in enumerate(adam_runs.items()):
        style = dict(color="k", alpha=0.3 + 0.7 * (i == best), lw=1.2 + 0.8 * (i == best),
                     ls="--" if i == 0 else "-", label=label)  # fmt: skip
        steps = np.arange(1, len(run["loss"]) + 1)
        axes[0].plot(steps, smooth(run["loss"], width), **style)
        axes[1].plot(steps, run["size"], **{**style, "label": None})
        axes[2].plot(steps, smooth(run["cos"], width), **{**style, "label": None})
    for label, (run, colour) in velo_runs.items():
        steps = np.arange(1, len(run["loss"]) + 1)
        axes[0].plot(steps, smooth(run["loss"], width), color=colour, lw=2)
        axes[1].plot(steps, run["size"], color=colour, lw=1.4, label=label)
        axes[2].plot(steps, smooth(run["cos"], width), color=colour, lw=1.8)
        for t in range(len(tensor_names)):
            axes[3].plot(steps, run["lr_mult"][:, t], color=colour, lw=1.2, ls=styles[t])
    axes[0].set(xlabel="step", ylabel=f"loss (mean of {width} steps)", yscale="log",
                title="training loss")  # fmt: skip
    axes[1].set(xlabel="step", ylabel=r"$\|\Delta p\| \,/\, \|p\|$", yscale="log",
                title="relative size of each update")  # fmt: skip
    axes[2].set(xlabel="step", ylabel=r"cos($\Delta p$, $-g$)", title="is the update downhill?")
    axes[3].set(xlabel="step", ylabel="lr_mult", title="VeLO's lr_mult, per tensor")
    for ax in axes[2:]:
        ax.axhline(0, color="0.5", lw=1)
    for t, name in enumerate(tensor_names):  # a key for the line styles
        axes[3].plot([], [], color="k", lw=1.2, ls=styles[t], label=name)
    axes[0].legend(title="Adam")
    axes[1].legend(title="VeLO")
    axes[3].legend(title="tensor")
    return fig

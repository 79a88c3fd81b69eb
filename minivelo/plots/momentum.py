"""Figures of lesson 02 (momentum: heavy ball and Nesterov).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels


def paths_and_losses(loss_fn, runs, *, minimum, window, name: str):
    r"""Paths on the contours of a 2-D loss (left) and the loss curves (right).

    Args:
      loss_fn: the loss of one point ``theta`` of shape ``(2,)`` (a JAX function; it is
        vmapped over a 200 x 200 grid for the contours).
      runs: ``{label: (losses, path)}``, ``losses`` ``(T,)``, ``path`` ``(T, 2)``.
      minimum: the minimiser, marked with a star.
      window: ``((x_min, x_max), (y_min, y_max))``.
      name: the problem's name, for the titles.
    """
    import jax

    (x0, x1), (y0, y1) = window
    fig, (ax_path, ax_loss) = panels(2)
    xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    points = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)
    zs = np.asarray(jax.vmap(loss_fn)(points)).reshape(xs.shape)
    levels = np.geomspace(max(float(zs.min()), 1e-2), float(zs.max()), 14)
    ax_path.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.8)
    for i, (label, (losses, path)) in enumerate(runs.items()):
        path = np.asarray(path)
        ax_path.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=0.9, color=f"C{i}")
        ax_loss.semilogy(np.asarray(losses), color=f"C{i}", label=label)
    ax_path.plot(*minimum, "k*", ms=12)
    ax_path.set(
        xlim=(x0, x1),
        ylim=(y0, y1),
        xlabel=r"$\theta_1$",
        ylabel=r"$\theta_2$",
        title=f"{name}: paths",
    )
    ax_loss.set(xlabel="step", ylabel="loss", ylim=(1e-10, None), title=f"{name}: loss")
    ax_loss.legend(loc="lower left")
    return fig


def steps_to_shrink(rates, factor: float = 1e-3):
    r"""Steps to shrink the error by ``factor`` at rate :math:`\rho` per step,
    :math:`\log(\text{factor})/\log\rho`; NaN where :math:`\rho \ge 1` (no convergence)."""
    rates = np.asarray(rates, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.log(factor) / np.log(np.minimum(rates, 1 - 1e-12))
    return np.where(rates < 1, steps, np.nan)


def step_size_momentum_map(maps, *, optimum, gradient_descent, nesterov_best=None):
    r"""Steps to shrink the error 1000x over (step size, momentum), one panel a map.

    Args:
      maps: a list of up to three ``(etas, betas, rates, title)``; ``rates`` of shape
        ``(len(betas), len(etas))``, the worst spectral radius per step.
      optimum: Polyak's :math:`(\eta^*, \beta^*)`, marked on every panel.
      gradient_descent: the best :math:`(\eta, 0)` of plain gradient descent.
      nesterov_best: ``(eta, beta)`` marked on the last panel, or ``None``.
    """
    from matplotlib.colors import LogNorm

    fig, axes = panels(len(maps), height=4.6, sharey=True)
    norm = LogNorm(vmin=30, vmax=1e4)
    mesh = None
    for ax, (etas, betas, rates, title) in zip(axes, maps, strict=True):
        ax.set_facecolor("0.85")  # grey where the run diverges (NaN is not drawn)
        ax.grid(False)
        rates = np.asarray(rates)
        mesh = ax.pcolormesh(
            np.asarray(etas),
            np.asarray(betas),
            steps_to_shrink(rates),
            norm=norm,
            cmap="viridis_r",
            shading="nearest",
        )
        ax.contour(etas, betas, np.minimum(rates, 2), levels=[1.0], colors="k", linewidths=1.2)
        ax.plot(*optimum, "r*", ms=16, mec="w", label=r"optimum $(\eta^*, \beta^*)$")
        ax.plot(*gradient_descent, "wo", ms=9, mec="k", label=r"best GD ($\beta = 0$)")
        ax.set(xscale="log", xlabel=r"step size $\eta$", title=title)
    if nesterov_best is not None:
        axes[-1].plot(*nesterov_best, "D", color="orange", ms=10, mec="k", label="best Nesterov")
        axes[-1].legend(loc="upper left")
    axes[0].set_ylabel(r"momentum $\beta$")
    axes[0].legend(loc="upper left")
    fig.colorbar(mesh, ax=axes, label="steps to shrink the error 1000x")
    return fig


def batch_size_scaling(batch_sizes, sgd_steps, momentum_steps, *, target: float):
    """Steps to reach the target loss against the batch size, for tuned SGD and tuned
    momentum, with the perfect-scaling line (steps proportional to 1/B) through SGD's first
    finite point."""
    fig, (ax,) = panels(1)
    batch_sizes = np.asarray(batch_sizes, dtype=np.float64)
    sgd_steps, momentum_steps = np.asarray(sgd_steps), np.asarray(momentum_steps)
    ax.loglog(batch_sizes, sgd_steps, "o-", label=r"SGD (tuned $\eta$)")
    ax.loglog(batch_sizes, momentum_steps, "s-", label=r"momentum (tuned $\eta, \beta$)")
    finite = np.flatnonzero(np.isfinite(sgd_steps))
    if finite.size:
        first = finite[0]
        perfect = sgd_steps[first] * batch_sizes[first] / batch_sizes
        ax.loglog(batch_sizes, perfect, "k:", label=r"steps $\propto 1/B$")
    ax.set(
        xlabel="batch size $B$",
        ylabel=f"steps to loss {target:g}",
        ylim=(10, 5000),
        title="Momentum pays off at large batches",
    )
    ax.legend(loc="upper right")
    return fig

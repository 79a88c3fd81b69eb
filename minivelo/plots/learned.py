"""Figures of lesson 06 (learned optimizers: an optimizer that is a neural network).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels, smooth


def meta_gradient_explosion(alphas, meta_loss, meta_grad, horizons, *, grad_ylim=None):
    r"""The meta-loss :math:`L_K(\alpha)` (left) and :math:`|dL_K/d\alpha|` (right) along a
    one-dimensional slice of the meta-parameters, for each horizon :math:`K`.

    Args:
      alphas: ``[A]`` the slice's coordinate (a shift of the log step size).
      meta_loss: ``[A, N]``: the meta-loss over the first ``K`` steps in column ``K - 1``.
      meta_grad: ``[A, N]``: its derivative in :math:`\alpha`, the same layout.
      horizons: the horizons ``K`` to draw (each between 1 and ``N``).
      grad_ylim: fixed limits of the gradient axis (the live figure keeps them still).
    """
    alphas, meta_loss, meta_grad = (np.asarray(a) for a in (alphas, meta_loss, meta_grad))
    if meta_loss.shape != meta_grad.shape or meta_loss.shape[0] != alphas.size:
        raise ValueError(
            f"need meta_loss and meta_grad of shape [len(alphas), N], got {meta_loss.shape} "
            f"and {meta_grad.shape} for {alphas.size} alphas"
        )
    fig, (ax_loss, ax_grad) = panels(2)
    for K in horizons:
        if not 1 <= K <= meta_loss.shape[1]:
            raise ValueError(f"horizon {K} is outside 1..{meta_loss.shape[1]}")
        ax_loss.plot(alphas, meta_loss[:, K - 1], label=f"K = {K}")
        ax_grad.semilogy(alphas, np.maximum(meta_grad[:, K - 1], 1e-6), label=f"K = {K}")
    ax_loss.set(xlabel=r"$\alpha$ (log step-size shift)", ylabel="meta-loss",
                title="the meta-loss is smooth")  # fmt: skip
    ax_grad.set(xlabel=r"$\alpha$", ylabel=r"$|dL/d\alpha|$", title="its gradient explodes")
    if grad_ylim is not None:
        ax_grad.set_ylim(*grad_ylim)
    ax_loss.legend()
    return fig


def learned_vs_adam(curves, *, title: str, window: int = 10):
    """Smoothed training-loss curves of a learned optimizer and of Adam on one task.

    Args:
      curves: ``{label: [T] losses}``.
      title: the task's name.
      window: the smoothing window in steps (:func:`minivelo.plotting.smooth`).
    """
    fig, (ax,) = panels(1)
    fig.set_size_inches(9.0, 4.6)
    for label, curve in curves.items():
        ax.plot(smooth(np.asarray(curve), window), label=label)
    ax.set(xlabel="step", ylabel="training loss (smoothed)", yscale="log", title=title)
    ax.legend()
    return fig

"""Figures of lesson 03 (adaptive step sizes: AdaGrad and RMSProp).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels


def per_parameter_paths(runs, curvatures, *, window=((-4.5, 1.0), (-1.3, 1.3))):
    r"""Paths of several optimizers on :math:`f(\theta) = \tfrac12(a_1\theta_1^2 + a_2\theta_2^2)`.

    Args:
      runs: ``{label: thetas}``, ``thetas`` of shape ``(T + 1, 2)``.
      curvatures: :math:`(a_1, a_2)`.
      window: ``((x_min, x_max), (y_min, y_max))``.
    """
    (x0, x1), (y0, y1) = window
    a1, a2 = (float(c) for c in np.asarray(curvatures))
    fig, (ax,) = panels(1, height=4.6)
    fig.set_size_inches(10, 4.6)
    t1, t2 = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    f = 0.5 * (a1 * t1**2 + a2 * t2**2)
    ax.contour(t1, t2, f, levels=np.logspace(-1.5, 2, 12), colors="0.8")
    for i, (label, thetas) in enumerate(runs.items()):
        thetas = np.asarray(thetas)
        ax.plot(thetas[:, 0], thetas[:, 1], ".-", color=f"C{i}", lw=1.5, ms=6, label=label)
    ax.plot(0, 0, "k*", ms=14)
    ax.set(
        xlabel=rf"$\theta_1$ (flat, $a_1 = {a1:g}$)",
        ylabel=rf"$\theta_2$ (steep, $a_2 = {a2:g}$)",
        title=f"{len(next(iter(runs.values()))) - 1} steps on an ill-scaled quadratic",
    )
    ax.set_aspect("equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def sparse_features(
    feature_frequency, learning_rates, excess_loss, chosen, errors, step_sizes, *, reference=None
):
    r"""Sparse logistic regression: the learning-rate sweep (left), the error of each weight
    against its feature's frequency (middle) and each weight's step size at the end (right).

    Args:
      feature_frequency: :math:`p_j`, shape ``(features,)``.
      learning_rates: the sweep, shape ``(n,)``.
      excess_loss: ``{optimizer: (n,) excess test losses}``.
      chosen: ``{optimizer: index into learning_rates}``, the runs shown in the middle and
        right panels (circled on the left).
      errors: ``{optimizer: (n, features)}``, the RMS error of each weight.
      step_sizes: ``{optimizer: (n, features)}``, each weight's step size at the end.
      reference: ``(features,)`` values of a predicted step size (e.g. proportional to
        :math:`1/\sqrt{p_j}`), drawn dotted on the right panel; ``None`` for none.
    """
    fig, (ax_sweep, ax_error, ax_step) = panels(3, height=4.4)
    p = np.asarray(feature_frequency)
    lrs = np.asarray(learning_rates)
    for k, name in enumerate(excess_loss):
        color, i = f"C{k}", int(chosen[name])
        ax_sweep.loglog(lrs, np.asarray(excess_loss[name]), "o-", color=color, label=name)
        ax_sweep.plot(lrs[i], np.asarray(excess_loss[name])[i], "o", ms=16, mfc="none", color=color)
        ax_error.semilogx(
            p, np.asarray(errors[name])[i], "o", color=color, label=f"{name}, η = {lrs[i]:.3g}"
        )
        ax_step.loglog(p, np.asarray(step_sizes[name])[i], "o-", ms=5, color=color, label=name)
    if reference is not None:
        ax_step.loglog(p, np.asarray(reference), "k:", lw=1.5, label=r"$\propto 1/\sqrt{p}$")
    ax_sweep.set(
        xlabel="learning rate η", ylabel="excess test loss", title="sweep (circled: shown)"
    )
    ax_error.set(
        xlabel="feature frequency $p_j$",
        ylabel=r"$|w_j - w^\star_j|$",
        title="error of each weight",
    )
    ax_step.set(
        xlabel="feature frequency $p_j$",
        ylabel="step size at the end",
        title="step size per weight",
    )
    ax_sweep.legend(loc="upper center")
    ax_error.legend(loc="upper right")
    ax_step.legend(loc="upper right")
    return fig


def tracking(target, runs, *, reference_lr: float):
    r"""Following a moving minimum: :math:`\theta_t` against the target (left) and each
    optimizer's effective step size with the :math:`\eta/\sqrt t` reference (right).

    Args:
      target: :math:`c_t`, shape ``(T,)``.
      runs: ``{label: (thetas, step_size)}``, both ``(T,)``.
      reference_lr: the :math:`\eta` of the :math:`\eta/\sqrt t` line.
    """
    fig, (ax_theta, ax_step) = panels(2)
    target = np.asarray(target)
    t = np.arange(1, target.size + 1)
    ax_theta.plot(t, target, "k--", lw=1.2)
    for i, (label, (thetas, step_size)) in enumerate(runs.items(), start=1):
        ax_theta.plot(t, np.asarray(thetas), color=f"C{i}", lw=1)
        ax_step.loglog(t, np.asarray(step_size), color=f"C{i}", lw=1.5, label=label)
    ax_step.loglog(t, reference_lr / np.sqrt(t), "k:", lw=1.5, label=r"$\eta/\sqrt{t}$")
    ax_theta.set(
        xlabel="step t", ylabel=r"$\theta_t$ (dashed: $c_t$)", title="following a moving minimum"
    )
    ax_step.set(xlabel="step t", ylabel="η / √(accumulator)", title="effective step size")
    ax_step.legend(loc="lower left")
    return fig


def first_step_sizes(gradient_sizes, groups):
    r"""The size of the first update :math:`|u_1|` against the gradient size, one panel per
    group of conventions.

    Args:
      gradient_sizes: the gradients :math:`|g|`, shape ``(n,)``.
      groups: a list of up to three ``(title, {label: (n,) step sizes})``.
    """
    fig, axes = panels(len(groups), height=4.4, sharey=True)
    g = np.asarray(gradient_sizes)
    for ax, (title, curves) in zip(axes, groups, strict=True):
        for (label, sizes), style in zip(curves.items(), ["-", "--", ":"], strict=False):
            ax.loglog(g, np.asarray(sizes), style, lw=2.5, label=label)
        ax.set(xlabel="gradient size |g|", title=title)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("first step $|u_1|$")
    return fig

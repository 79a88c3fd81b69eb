"""Figures of lesson 04 (Adam and AdamW).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels

_STYLES = ["-", "--", ":", "-."]


def bias_correction(results, *, b1: float, b2: float, learning_rate: float):
    r"""Adam's step for a constant gradient (left) and its iterates on
    :math:`\tfrac12\theta^2` (right), with and without each half of the bias correction.

    Args:
      results: ``{variant: (steps, thetas)}``: ``steps`` the step size divided by
        :math:`\eta` for :math:`g \equiv 1`, ``thetas`` the iterates :math:`\theta_0, \dots`.
      b1, b2: the :math:`\beta`'s, for the title.
      learning_rate: the :math:`\eta` of the quadratic run, for the title.
    """
    fig, (ax_step, ax_theta) = panels(2)
    for (name, (steps, thetas)), style in zip(results.items(), _STYLES, strict=False):
        steps, thetas = np.asarray(steps), np.asarray(thetas)
        ax_step.loglog(np.arange(1, steps.size + 1), steps, style, lw=2.5, label=name)
        ax_theta.plot(np.arange(thetas.size), thetas, style, marker=".", lw=1.8)
    ax_step.set(
        xlabel="step t",
        ylabel="step size / η",
        ylim=(0.05, 50),
        title=f"g ≡ 1, β1 = {b1:.3g}, β2 = {b2:.4g}",
    )
    ax_theta.axhline(0, color="k", lw=0.5)
    ax_theta.set(
        xlabel="step t",
        ylabel=r"$\theta_t$",
        ylim=(-1.5, 1.5),
        title=rf"$\frac{{1}}{{2}}\theta^2$, η = {learning_rate:g}",
    )
    ax_step.legend(loc="upper right")
    return fig


def l2_vs_weight_decay(runs, sigmas, *, learning_rate: float, lam: float):
    r"""Parameters with gradients :math:`\pm\sigma` under Adam + L2 and under AdamW, with the
    decoupled decay :math:`(1-\eta\lambda)^t` for reference.

    Args:
      runs: ``{name: thetas}``, ``thetas`` of shape ``(T, len(sigmas))``.
      sigmas: the gradient size of each parameter.
    """
    fig, axes = panels(len(runs), sharey=True)
    sigmas = np.asarray(sigmas)
    for ax, (name, thetas) in zip(axes, runs.items(), strict=True):
        thetas = np.asarray(thetas)
        t = np.arange(1, thetas.shape[0] + 1)
        for i, sigma in enumerate(sigmas):
            ax.plot(t, thetas[:, i], color=f"C{i}", lw=2, label=f"σ = {sigma:g}")
        ax.plot(t, (1 - learning_rate * lam) ** t, "k:", lw=2, label="$(1 - ηλ)^t$")
        ax.set(xlabel="step t", title=name)
    axes[0].set_ylabel(r"$\theta_t$")
    axes[-1].legend(loc="upper right")
    fig.suptitle(f"η = {learning_rate:.3g}, λ = {lam:.3g}")
    return fig


def digits_weight_decay(bin_centres, shrink, norms, *, unregularised_norm: float):
    r"""Which weights the regulariser shrinks, by gradient RMS (left), and the first-layer
    weight norm against :math:`\lambda` (right).

    Args:
      bin_centres: gradient-RMS bin centres.
      shrink: ``{label: (bins,) RMS weight relative to the unregularised run}``.
      norms: ``{label: (lambdas, first-layer norms)}``.
      unregularised_norm: the first-layer norm with no regularisation.
    """
    fig, (ax_shrink, ax_norm) = panels(2)
    for i, (label, ratio) in enumerate(shrink.items(), start=1):
        ax_shrink.semilogx(
            np.asarray(bin_centres), np.asarray(ratio), "o-", color=f"C{i}", label=label
        )
    ax_shrink.axhline(1.0, color="k", lw=0.5)
    ax_shrink.set(
        xlabel=r"gradient RMS $\sqrt{\hat v}$ (unregularised)",
        ylabel="RMS weight / unregularised",
        ylim=(0, 1.1),
        title="which weights shrink?",
    )
    ax_shrink.legend(loc="lower right")
    for i, (label, (lambdas, values)) in enumerate(norms.items(), start=1):
        ax_norm.semilogx(np.asarray(lambdas), np.asarray(values), "o-", color=f"C{i}", label=label)
    ax_norm.axhline(unregularised_norm, color="k", ls=":", label="none")
    ax_norm.set(xlabel="λ", ylabel="first-layer norm $|W_1|$", title="overall shrinkage")
    ax_norm.legend(loc="lower left")
    return fig


def learning_rate_scale(runs, standardised_loss, *, target_mean: float):
    r"""Fitting :math:`y = wx + b` with Adam to targets around ``target_mean``: the bias
    :math:`b_t` (left) and the relative loss (right), one curve per learning rate.

    Args:
      runs: ``{label: (b, relative_loss)}``, both of shape ``(T,)``.
      standardised_loss: the relative loss on the standardised target, ``(T,)``.
    """
    fig, (ax_b, ax_loss) = panels(2)
    for i, (label, (b, loss)) in enumerate(runs.items()):
        b, loss = np.asarray(b), np.asarray(loss)
        t = np.arange(1, b.size + 1)
        ax_b.semilogx(t, b, color=f"C{i}", label=label)
        ax_loss.loglog(t, loss, color=f"C{i}")
    standardised_loss = np.asarray(standardised_loss)
    t = np.arange(1, standardised_loss.size + 1)
    ax_loss.loglog(t, standardised_loss, "k--", label="η = 0.001,\nstandardised target")
    ax_b.axhline(target_mean, color="k", lw=0.5)
    ax_b.set(xlabel="step t", ylabel="bias b", title=f"b must travel to {target_mean:.0f}")
    ax_loss.set(xlabel="step t", ylabel="MSE / Var(y)", title="relative loss")
    ax_b.legend(loc="upper left")
    ax_loss.legend(loc="lower left")
    return fig


def eps_loss_scale(loss_scales, final_losses, *, threshold: float, label: str):
    r"""The final training loss against the loss scale :math:`c` (decreasing to the right),
    with the scale at which :math:`c` times the median gradient RMS equals :math:`\epsilon`.

    Args:
      loss_scales: the factors :math:`c` the loss was multiplied by.
      final_losses: the final (unscaled) training loss of each run.
      threshold: :math:`\epsilon` / median gradient RMS, drawn as a dotted line.
      label: the legend entry of the curve (the optimizer's settings).
    """
    fig, (ax,) = panels(1)
    ax.loglog(np.asarray(loss_scales), np.asarray(final_losses), "o-", label=label)
    ax.axvline(threshold, color="k", ls=":", label=r"$c \cdot$ median RMS $= \epsilon$")
    ax.set(
        xlabel="loss scale c (we minimise c × loss)",
        ylabel="final train cross-entropy",
        title="Adam ignores c until gradients reach ε",
    )
    ax.invert_xaxis()
    ax.legend(loc="upper left")
    return fig

"""Figures of lesson 07 (evolution strategies: meta-gradients without backprop).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels


def es_variance(pairs, errors, *, title: str = "ES on a 10-d quadratic"):
    """Relative error of each gradient estimator against the number of perturbations.

    Args:
      pairs: the numbers of perturbations (pairs, for the antithetic estimator).
      errors: ``{estimator: relative errors, one per entry of pairs}``.
    """
    fig, (ax,) = panels(1)
    pairs = np.asarray(pairs)
    for name, values in errors.items():
        values = np.asarray(values)
        if values.shape != pairs.shape:
            raise ValueError(f"{name}: {values.size} errors for {pairs.size} perturbation counts")
        ax.loglog(pairs, values, "o-", label=name)
    ax.loglog(pairs, errors[next(iter(errors))][0] / np.sqrt(pairs), "k:", lw=1.2,
              label=r"$\propto 1/\sqrt{n}$")  # fmt: skip
    ax.set(xlabel="perturbations (pairs)", ylabel="relative error", title=title)
    ax.legend()
    return fig


def es_smoothing(xs, exact, slopes):
    """The exact slope of a rugged 1-D function against ES estimates at several widths.

    Args:
      xs: the points.
      exact: the exact derivative at ``xs``.
      slopes: ``{sigma: ES estimate at xs}``.
    """
    fig, (ax,) = panels(1)
    fig.set_size_inches(9.0, 4.4)
    ax.plot(xs, exact, lw=1.0, color="0.6", label="exact gradient")
    for sigma, slope in slopes.items():
        ax.plot(xs, slope, label=f"ES, σ = {sigma}")
    ax.set(xlabel="x", ylabel="slope", title="ES follows the gradient of the smoothed loss")
    ax.legend(loc="upper left")
    return fig


def truncation_bias(results, true_value: float, segment_lengths, *, horizon: int):
    """Per segment length, each estimator's gradient of the episode loss, summed over the
    episode's segments, against the true gradient.

    Args:
      results: ``{K: {estimator: summed gradient}}``.
      true_value: the true gradient (one ``jax.grad`` of the whole episode).
      segment_lengths: which ``K`` to draw, one panel each (at most three a row).
      horizon: the episode's length, for the titles.
    """
    fig, axes = panels(len(segment_lengths), sharey=True)
    for ax, K in zip(axes, segment_lengths, strict=True):
        names = list(results[K])
        ax.bar(range(len(names)), [results[K][n] for n in names],
               color=[f"C{i}" for i in range(len(names))])  # fmt: skip
        ax.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names])
        ax.axhline(true_value, color="k", ls="--", label="true gradient")
        ax.set(title=f"K = {K} of a {horizon}-step episode")
    axes[0].set_ylabel("d(episode loss) / dθ")
    axes[0].legend(loc="upper left")
    return fig


def shipped_meta_training(curve, *, kept_step: int):
    """The shipped optimizer's meta-training log: the meta-loss on the training tasks
    (left) and the validation score (right), with the kept snapshot marked.

    Args:
      curve: ``{"step", "meta_loss", "val_step", "val_score"}`` lists, as the weights'
        ``.json`` records them.
      kept_step: the outer step whose weights shipped.
    """
    fig, (ax_train, ax_val) = panels(2)
    ax_train.plot(curve["step"], curve["meta_loss"])
    ax_train.set(xlabel="outer step", ylabel="meta-loss (moving avg.)", title="training tasks")
    ax_val.plot(curve["val_step"], curve["val_score"], "o-")
    ax_val.axvline(kept_step, color="k", ls="--", label="kept")
    ax_val.set(xlabel="outer step", ylabel="log(final / initial loss)", title="validation tasks")
    ax_val.legend()
    return fig

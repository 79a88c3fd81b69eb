"""Lesson 03's figures (minivelo.plots.adaptive) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import adaptive as plots  # noqa: E402


def test_per_parameter_paths_and_first_steps():
    thetas = np.stack([np.linspace(-4, 0, 41), np.linspace(1, 0, 41)], -1)
    fig = plots.per_parameter_paths({"SGD": thetas, "AdaGrad": thetas * 0.5}, [1.0, 25.0])
    assert fig.axes[0].get_title() == "40 steps on an ill-scaled quadratic"
    assert not legibility_problems(fig)
    g = np.logspace(-9, 1, 11)
    groups = [("AdaGrad", {"a": g, "b": np.sqrt(g)}), ("RMSProp", {"c": g, "d": g, "e": g})]
    fig = plots.first_step_sizes(g, groups)
    assert [len(ax.lines) for ax in fig.axes] == [2, 3]
    assert not legibility_problems(fig)


def test_sparse_features_shows_the_chosen_runs():
    p = np.logspace(np.log10(0.5), np.log10(0.005), 6)
    lrs = np.array([0.1, 0.3, 1.0])
    excess = {"SGD": np.array([0.05, 0.02, 0.04]), "AdaGrad": np.array([0.04, 0.01, 0.02])}
    errors = {name: np.outer(lrs, p) for name in excess}
    steps = {"SGD": np.outer(lrs, np.ones(6)), "AdaGrad": np.outer(lrs, 1 / np.sqrt(p))}
    fig = plots.sparse_features(p, lrs, excess, {"SGD": 1, "AdaGrad": 2}, errors, steps)
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), errors["AdaGrad"][2])
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "SGD, η = 0.3",
        "AdaGrad, η = 1",
    ]
    assert not legibility_problems(fig)
    reference = steps["AdaGrad"][2, 0] * np.sqrt(p[0] / p)
    fig = plots.sparse_features(
        p, lrs, excess, {"SGD": 1, "AdaGrad": 2}, errors, steps, reference=reference
    )
    np.testing.assert_allclose(fig.axes[2].lines[-1].get_ydata(), reference)
    assert len(fig.axes[2].get_legend().get_texts()) == 3
    assert not legibility_problems(fig)


def test_tracking_draws_the_reference_decay():
    target = np.where((np.arange(40) // 10) % 2 == 0, 2.0, -2.0)
    runs = {"AdaGrad": (target * 0.9, 0.5 / np.sqrt(np.arange(1, 41))),
            "RMSProp": (target * 0.8, np.full(40, 0.05))}  # fmt: skip
    fig = plots.tracking(target, runs, reference_lr=0.5)
    np.testing.assert_allclose(fig.axes[1].lines[-1].get_ydata(), 0.5 / np.sqrt(np.arange(1, 41)))
    assert not legibility_problems(fig)

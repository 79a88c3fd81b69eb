"""Lesson 04's figures (minivelo.plots.adam) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import adam as plots  # noqa: E402


def test_bias_correction_and_l2_vs_weight_decay():
    results = {name: (np.full(30, k + 1.0), np.linspace(1, 0, 7)) for k, name in
               enumerate(["Adam", "none", "m only", "v only"])}  # fmt: skip
    fig = plots.bias_correction(results, b1=0.9, b2=0.999, learning_rate=0.05)
    assert len(fig.axes[0].get_legend().get_texts()) == 4 and "0.999" in fig.axes[0].get_title()
    assert not legibility_problems(fig)
    thetas = np.ones((20, 4)) * np.array([1.0, 0.5, 0.1, 0.0])
    fig = plots.l2_vs_weight_decay({"Adam + L2": thetas, "AdamW": thetas}, [10, 1, 0.1, 0.01],
                                   learning_rate=0.01, lam=0.1)  # fmt: skip
    np.testing.assert_allclose(fig.axes[1].lines[-1].get_ydata(), 0.999 ** np.arange(1, 21))
    assert len(fig.axes[1].get_legend().get_texts()) == 5
    assert not legibility_problems(fig)


def test_digits_weight_decay_and_learning_rate_scale():
    centres = np.geomspace(1e-5, 1e-2, 5)
    fig = plots.digits_weight_decay(
        centres, {"Adam + L2": np.linspace(0.2, 1, 5), "AdamW": np.full(5, 0.7)},
        {"Adam + L2": ([1e-4, 1e-3], [13.0, 10.0]), "AdamW": ([0.1, 1.0], [14.0, 10.0])},
        unregularised_norm=15.6,
    )  # fmt: skip
    assert len(fig.axes[1].get_legend().get_texts()) == 3
    assert not legibility_problems(fig)
    t = np.arange(1, 31)
    runs = {f"η = {lr:g}": (np.minimum(lr * t, 290), 1 / t) for lr in [1e-3, 1e-2, 1e-1, 1.0]}
    fig = plots.learning_rate_scale(runs, 1 / t**2, target_mean=290.0)
    assert fig.axes[0].get_title() == "b must travel to 290"
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert not legibility_problems(fig)


def test_eps_loss_scale():
    scales = 10.0 ** -np.arange(6)
    fig = plots.eps_loss_scale(scales, np.linspace(0.03, 2.3, 6), threshold=5e-6, label="Adam")
    ax = fig.axes[0]
    assert ax.get_xlim()[0] > ax.get_xlim()[1]  # c decreases to the right
    assert len(ax.get_legend().get_texts()) == 2 and ax.get_xlabel()
    assert not legibility_problems(fig)

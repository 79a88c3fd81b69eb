"""Lesson 01's figures (minivelo.plots.gradient_descent) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import gradient_descent as plots  # noqa: E402


def test_step_size_1d_draws_each_run_in_a_two_by_two_grid():
    runs = [
        (f"run {i}", -2.0 * (1 - eta) ** np.arange(5)) for i, eta in enumerate([0.3, 0.9, 1.5, 2.1])
    ]
    fig = plots.step_size_1d(runs)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4 and [ax.get_title() for ax in visible] == [t for t, _ in runs]
    np.testing.assert_allclose(visible[3].lines[1].get_xdata(), runs[3][1])
    assert not legibility_problems(fig)
    with pytest.raises(ValueError, match="1 to 4 runs"):
        plots.step_size_1d(runs + runs)


def test_quadratic_paths_and_rate_figures():
    path = np.stack([np.linspace(-9, 0, 6), np.linspace(1.5, 0, 6)], -1)
    runs = {"η = 0.1": (np.geomspace(10, 1e-3, 6), path), "η = 0.2": (np.ones(6), path)}
    fig = plots.quadratic_paths(runs, [1.0, 10.0])
    assert len(fig.axes) == 2 and "curvature 10" in fig.axes[0].get_ylabel()
    assert not legibility_problems(fig)
    steps = np.linspace(0.01, 0.2, 5)
    fig = plots.rate_vs_step_size(
        {"step_sizes": steps, "predicted": 1 - steps, "measured": 1 - steps, "best_step": 0.18},
        {"step_sizes": np.geomspace(0.1, 10, 4), "final_loss": np.array([0.1, 0.05, 1.0, 1.0]),
         "diverged": np.array([False, False, True, True]), "sharpness": 2.0},
    )  # fmt: skip
    diverged_marks = fig.axes[1].lines[1]
    assert list(diverged_marks.get_xdata()) == [pytest.approx(np.geomspace(0.1, 10, 4)[2]),
                                                pytest.approx(10.0)]  # fmt: skip
    assert not legibility_problems(fig)


def test_fractal_boundary_calls_the_grid_once_per_view():
    calls = []

    def grid(lr0s, lr1s):
        calls.append((lr0s.size, lr1s.size))
        return np.tanh(np.log(lr0s)[None, :] + np.log(lr1s)[:, None])

    views = [((-2, 3), (-2, 2)), ((0, 2), (-0.5, 0.5)), ((1.0, 1.5), (-0.4, -0.1))]
    fig = plots.fractal_boundary(grid, views, ["a", "b", "c"], resolution=8)
    assert calls == [(8, 8)] * 3
    assert len(fig.axes[0].patches) == 1 and len(fig.axes[2].patches) == 0  # outlines
    assert not legibility_problems(fig)
    with pytest.raises(ValueError, match="3 views but 2 titles"):
        plots.fractal_boundary(grid, views, ["a", "b"])


def test_sgd_noise_floor_and_implicit_regularisation():
    w1, w2 = np.meshgrid(np.linspace(-3, 4, 10), np.linspace(-3, 4, 10))
    path = np.stack([np.linspace(-2, 2, 8), np.linspace(3, -1, 8)], -1)
    runs = {"GD": (np.geomspace(10, 1e-4, 8), path), "SGD, B=4": (np.geomspace(10, 1e-2, 8), path)}
    fig = plots.sgd_noise(runs, (w1, w2, w1**2 + w2**2 + 0.1), [2.0, -1.0], learning_rate=0.3)
    assert len(fig.axes[1].get_legend().get_texts()) == 2
    assert not legibility_problems(fig)

    ratios = np.array([[0.03, 0.3], [0.0075, 0.075]])
    fig = plots.noise_floor(ratios, 0.1 * ratios, [1, 4], slope=1.0, intercept=np.log(0.1))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][-1] == "slope 1.00"
    assert not legibility_problems(fig)

    ab_path = np.stack([np.linspace(2.5, 1.1, 20), np.linspace(0.2, 0.9, 20)], -1)
    runs = {eta: (ab_path[-1], ab_path) for eta in [0.02, 0.2, 0.3, 0.4, 0.46]}
    rates = np.linspace(0.01, 0.5, 7)
    fig = plots.implicit_regularisation(runs, [2.5, 0.2], rates, 2 / rates, shown_steps=10)
    assert len(fig.axes[0].get_legend().get_texts()) == 5
    assert not legibility_problems(fig)

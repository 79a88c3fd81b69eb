"""Lesson 02's figures (minivelo.plots.momentum) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import momentum as plots  # noqa: E402


def test_paths_and_losses_draws_contours_and_one_curve_a_run():
    def valley(theta):
        return 0.5 * (theta[0] ** 2 + 100 * theta[1] ** 2)

    path = np.stack([np.linspace(-9, 0, 5), np.linspace(0.9, 0, 5)], -1)
    runs = {
        "GD": (np.geomspace(40, 1e-3, 5), path),
        "heavy ball": (np.geomspace(40, 1e-6, 5), path),
    }
    fig = plots.paths_and_losses(valley, runs, minimum=(0, 0), window=((-10, 10), (-1.5, 1.5)),
                                 name="valley")  # fmt: skip
    assert fig.axes[0].get_title() == "valley: paths" and len(fig.axes[1].lines) == 2
    assert not legibility_problems(fig)


def test_steps_to_shrink_is_nan_where_it_does_not_converge():
    steps = plots.steps_to_shrink(np.array([0.5, np.exp(-1), 1.0, 3.0, np.inf]))
    np.testing.assert_allclose(steps[:2], [np.log(1e-3) / np.log(0.5), -np.log(1e-3)])
    assert np.isnan(steps[2:]).all()


def test_step_size_momentum_map_and_batch_scaling():
    etas, betas = np.geomspace(1e-4, 0.08, 6), np.linspace(0, 0.99, 5)
    rates = 0.5 + etas[None, :] * 10 + 0 * betas[:, None]  # crosses rate 1 inside the grid
    maps = [(etas, betas, rates, "theory"), (etas, betas, rates, "measured"),
            (etas, betas, rates, "Nesterov")]  # fmt: skip
    fig = plots.step_size_momentum_map(maps, optimum=(0.033, 0.67), gradient_descent=(0.02, 0),
                                       nesterov_best=(0.013, 0.8))  # fmt: skip
    assert len(fig.axes) == 4  # three maps and the colour bar
    assert len(fig.axes[2].get_legend().get_texts()) == 3
    assert not legibility_problems(fig)
    batches = 4.0 ** np.arange(4)
    fig = plots.batch_size_scaling(batches, [np.inf, 700, 280, 170], [np.inf, 660, 150, 60],
                                   target=1e-4)  # fmt: skip
    perfect = fig.axes[0].lines[2].get_ydata()
    np.testing.assert_allclose(perfect, 700 * 4 / batches)  # through SGD's first finite point
    assert not legibility_problems(fig)

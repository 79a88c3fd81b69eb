"""Lesson 06's figures (minivelo.plots.learned) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import learned as plots  # noqa: E402


def test_meta_gradient_explosion():
    alphas = np.linspace(0.0, 6.0, 9)
    steps = np.arange(1, 21)
    meta_loss = -0.01 * alphas[:, None] * np.log1p(steps)[None]
    meta_grad = np.exp(alphas[:, None] * steps[None] / 10)
    fig = plots.meta_gradient_explosion(alphas, meta_loss, meta_grad, (5, 10, 20))
    loss_ax, grad_ax = fig.axes
    assert loss_ax.get_xlabel() and loss_ax.get_ylabel() and grad_ax.get_ylabel()
    assert grad_ax.get_yscale() == "log" and len(grad_ax.lines) == 3
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "K = 5",
        "K = 10",
        "K = 20",
    ]
    np.testing.assert_allclose(grad_ax.lines[1].get_ydata(), meta_grad[:, 9])
    assert not legibility_problems(fig)
    fig = plots.meta_gradient_explosion(alphas, meta_loss, meta_grad, [20], grad_ylim=(1e-6, 1e30))
    assert fig.axes[1].get_ylim() == pytest.approx((1e-6, 1e30))
    with pytest.raises(ValueError, match="outside"):
        plots.meta_gradient_explosion(alphas, meta_loss, meta_grad, [21])
    with pytest.raises(ValueError, match="shape"):
        plots.meta_gradient_explosion(alphas[:-1], meta_loss, meta_grad, [5])


def test_learned_vs_adam():
    steps = np.arange(1, 101)
    curves = {
        "learned": 1 / steps,
        "Adam, lr = 1e-3": 2 / np.sqrt(steps),
        "Adam, tuned": 1.5 / steps,
    }
    fig = plots.learned_vs_adam(curves, title="mnist1d_mlp[64,gelu]")
    (ax,) = fig.axes
    assert ax.get_title() == "mnist1d_mlp[64,gelu]" and ax.get_yscale() == "log"
    assert len(ax.get_legend().get_texts()) == 3 and ax.get_xlabel() == "step"
    assert ax.lines[0].get_ydata()[0] == pytest.approx(1.0)
    assert not legibility_problems(fig)

"""Lesson 07's figures (minivelo.plots.es) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import es as plots  # noqa: E402


def test_es_variance_and_smoothing():
    pairs = [1, 4, 16, 64]
    errors = {name: scale / np.sqrt(pairs) for name, scale in
              (("vanilla", 30.0), ("forward difference", 3.0), ("antithetic", 3.0))}  # fmt: skip
    fig = plots.es_variance(pairs, errors)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 4  # three estimators and the 1/sqrt(n) guide
    assert not legibility_problems(fig)
    with pytest.raises(ValueError, match="perturbation counts"):
        plots.es_variance(pairs, {"vanilla": [1.0, 0.5]})
    xs = np.linspace(-1, 1, 21)
    fig = plots.es_smoothing(xs, 2 * xs + np.cos(40 * xs), {0.01: 2 * xs + 0.5, 0.1: 2 * xs})
    (ax,) = fig.axes
    assert len(ax.lines) == 3 and len(ax.get_legend().get_texts()) == 3
    assert not legibility_problems(fig)


def test_truncation_bias_and_shipped_meta_training():
    results = {K: {"truncated backprop": 10.0 * K, "truncated ES": 9.0 * K, "PES": 190.0}
               for K in (1, 4, 16)}  # fmt: skip
    fig = plots.truncation_bias(results, 198.5, (1, 4, 16), horizon=16)
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "K = 16 of a 16-step episode"
    assert [p.get_height() for p in fig.axes[1].patches] == [40.0, 36.0, 190.0]
    assert not legibility_problems(fig)
    fig = plots.truncation_bias(results, 198.5, [4], horizon=16)
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel()
    curve = {"step": [0, 10, 20], "meta_loss": [0.0, -0.5, -0.7],
             "val_step": [0, 20], "val_score": [-0.2, -1.0]}  # fmt: skip
    fig = plots.shipped_meta_training(curve, kept_step=20)
    train, val = fig.axes
    assert train.get_xlabel() == val.get_xlabel() == "outer step"
    assert val.get_legend() is not None and val.lines[-1].get_xdata()[0] == 20
    assert not legibility_problems(fig)

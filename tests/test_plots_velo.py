"""Lesson 08's figures (minivelo.plots.velo) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import velo as plots  # noqa: E402

NAMES = ["layer_0/b", "layer_0/w", "layer_1/b", "layer_1/w"]
RNG = np.random.default_rng(0)


def test_data_flow_and_accumulators():
    fig = plots.data_flow()
    assert any("LSTM" in t.get_text() for t in fig.axes[0].texts)
    assert not legibility_problems(fig)
    g, m = RNG.normal(size=(12, 6, 4)), RNG.normal(size=(12, 3, 6, 4))
    v = np.abs(RNG.normal(size=(6, 4)))
    fig = plots.accumulators(g, m, (0.9, 0.99, 0.999), (1, 2), v, v, g[0], g[1])
    assert len(fig.axes) == 4 and "6 + 4" in fig.axes[2].get_title()
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert not legibility_problems(fig)


def test_loss_features_timescale_and_clock():
    curve = np.linspace(2, 0.5, 40)
    smoothed, low = np.tile(curve[:, None], (1, 10)), np.tile(curve[:, None], (1, 10))
    features = np.clip(RNG.normal(size=(40, 9)), -1, 1)
    fig = plots.loss_features(curve, smoothed, low, features, np.full(40, 1e-5),
                              np.geomspace(10, 40, 10), events=[(20, "spike")])  # fmt: skip
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert any(t.get_text() == "spike" for t in fig.axes[0].texts)
    assert not legibility_problems(fig)
    fig = plots.timescale(curve, smoothed, low, features, 3)
    assert fig.axes[0].get_title() == "timescale k = 3"
    assert not legibility_problems(fig)
    taus = (0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)
    fractions = np.linspace(0, 1.3, 27)
    fig = plots.clock(fractions, np.tanh(10 * (fractions[:, None] - np.array(taus))), taus)
    assert len(fig.axes[0].lines) == 10 and fig.axes[0].get_legend() is None
    assert not legibility_problems(fig)
    fig = plots.clock_bars(np.tanh(10 * (0.5 - np.array(taus))), taus, 0.5)
    assert len(fig.axes[0].patches) == 9
    assert not legibility_problems(fig)


def test_tensor_features_coupling_and_banks():
    tables = {"update 10": RNG.normal(size=(4, 30)), "update 150": RNG.normal(size=(4, 30))}
    fig = plots.tensor_features(tables, NAMES)
    assert [ax.get_title(loc="left") for ax in fig.axes[:2]] == list(tables)
    assert not any(ax.texts for ax in fig.axes)  # no numbers in the cells
    assert not legibility_problems(fig)
    fig = plots.coupling(np.abs(RNG.normal(size=(4, 4))), [3, 1, 0, 4], NAMES, 8)
    assert len(fig.axes[0].texts) == 16
    assert not legibility_problems(fig)
    fig = plots.weight_banks(RNG.normal(size=(4, 16)), RNG.normal(size=(4, 30, 4)), NAMES)
    assert sum(ax.get_title().endswith("first layer") for ax in fig.axes) == 4
    assert not legibility_problems(fig)
    with pytest.raises(ValueError):
        plots.weight_banks(RNG.normal(size=(5, 16)), RNG.normal(size=(5, 30, 4)), NAMES + ["x"])


def test_channels_and_xray():
    raw, normalised = np.abs(RNG.normal(size=(4, 30))), np.ones((4, 30))
    fig = plots.channels(raw, normalised, NAMES, [f"c{i}" for i in range(30)], np.sqrt(1e-5))
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert not legibility_problems(fig)
    steps = 15
    history = {
        "loss": np.linspace(2, 1, steps),
        "loss_features": np.zeros((steps, 9)),
        "lstm_inputs": np.zeros((steps, 4, 30)),
        "lr_mult": np.ones((steps, 4)),
        "step_rms": np.ones((steps, 4)),
        "cosine": np.zeros((steps, 4)),
    }
    fig = plots.xray(history, NAMES)
    assert len([ax for ax in fig.axes if ax.get_subplotspec()]) >= 6
    assert not legibility_problems(fig)

"""Lesson 13's figures (minivelo.plots.search) draw on tiny data, in the lesson style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import search as plots  # noqa: E402


def test_sign_vs_adam_and_memory():
    snr = np.logspace(-2, 1, 50)
    fig = plots.sign_vs_adam(snr, {"Adam": snr / (1 + snr), "Lion": np.ones(50)}, num_updates=9)
    assert "9 updates" in fig.axes[0].get_ylabel() and not legibility_problems(fig)
    categories = ["per parameter", "factored moments", "per tensor", "weights", "buffers"]
    state = {
        name: {m: {"per parameter": b, "factored moments": 0.5} for m in ("small", "wide model")}
        for name, b in (("Lion", 4.0), ("Adam", 8.0), ("VeLO", 16.0))
    }
    fig = plots.memory(state, categories)
    assert [ax.get_title() for ax in fig.axes] == ["Lion", "Adam", "VeLO"]
    assert len(fig.legends[0].get_texts()) == 5  # one entry per category
    assert not legibility_problems(fig)


@pytest.mark.parametrize("num_tasks", [1, 3])
def test_quality_rate_curves_and_weight_decay(num_tasks):
    grid = np.logspace(-4, 0, 5)
    finals = np.array([1.0, 0.5, 0.3, np.inf, np.nan])
    curve = np.linspace(2, 0.3, 20)
    results = {
        f"task {k}": {"VeLO": (0.4, curve), "Lion": (finals, curve), "Adam": (finals[::-1], curve)}
        for k in range(num_tasks)
    }
    fig = plots.quality(results, grid)
    assert len(fig.axes) == 2 * num_tasks and fig.axes[0].get_title() == "task 0"
    assert not legibility_problems(fig)
    with pytest.raises(ValueError, match="one to three"):
        plots.quality({f"t{k}": results["task 0"] for k in range(4)}, grid)
    fig = plots.rate_curves({"VeLO": curve, "Lion, η = 1e-3": curve * np.nan}, title="t")
    assert fig.axes[0].lines[0].get_color() == "k" and not legibility_problems(fig)
    fig = plots.weight_decay([0, 1, 10], [1e-3, 3e-3], np.ones((2, 3)), np.ones((2, 3)),
                             velo_heldout=0.5, title="decay")  # fmt: skip
    assert len(fig.axes) == 2 and len(fig.axes[1].get_legend().get_texts()) == 3
    assert not legibility_problems(fig)

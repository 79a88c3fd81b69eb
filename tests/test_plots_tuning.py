"""Lesson 05's figures (minivelo.plots.tuning) draw on tiny data, in the lesson style."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo.plots import tuning as plots  # noqa: E402


def _row(task, *, optimizer="tuned Adam", is_baseline=True, speedup=1.0, reached=True):
    rates = np.geomspace(1e-4, 1.0, 5)
    losses = np.array([3.0, 1.5, 1.0, 2.0, 40.0])
    curves = np.exp(-np.outer(rates, np.arange(30))) + 0.1
    return SimpleNamespace(
        task=task, optimizer=optimizer, is_baseline=is_baseline, speedup=speedup,
        reached=reached, grid_learning_rates=rates, grid_final_losses=losses,
        learning_rate=rates[2], final_loss=1.0, grid_curves=curves,
    )  # fmt: skip


def test_best_rate_per_task_and_curves_at_rate():
    rows = [_row(f"task {i}") for i in range(7)]
    fig = plots.best_rate_per_task(rows, num_steps=200)
    ax = fig.axes[0]
    assert "200 steps" in ax.get_title() and len(ax.get_legend().get_texts()) == 7
    assert not legibility_problems(fig)  # seven entries, placed outside the axes
    fig = plots.curves_at_rate(rows[0], 2, window=5)
    assert "η = 0.01" in fig.axes[0].get_title() and len(fig.axes[0].lines) == 5
    assert not legibility_problems(fig)
    with pytest.raises(IndexError):
        plots.curves_at_rate(rows[0], 5)


def test_speedups():
    rows = [_row("a"), _row("b")] + [
        _row(t, optimizer="Adam η = 1e-3", is_baseline=False, speedup=s, reached=r)
        for t, s, r in [("a", 0.3, False), ("b", 1.5, True)]
    ]
    fig = plots.speedups(rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Adam η = 1e-3", "tuned Adam"]
    assert ax.get_ylabel() == "speedup over tuned Adam"
    assert not legibility_problems(fig)
    with pytest.raises(ValueError):
        plots.speedups(rows[:2])


def test_grid_random_halving():
    rng = np.random.default_rng(0)
    grid = (np.geomspace(1e-4, 1, 4), np.geomspace(1e-2, 1, 4), rng.uniform(0.01, 3, 4))
    random = (10 ** rng.uniform(-4, 0, 9), 10 ** rng.uniform(-2, 0, 9), rng.uniform(0.01, 3, 9))
    survivors = [np.arange(9), np.array([0, 3, 5]), np.array([3])]
    fig = plots.grid_random_halving(grid, random, survivors, halving_steps=42, horizon=10)
    visible = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(visible) == 2 and visible[1].get_xlabel() == "tuning cost (training steps)"
    assert len(visible[1].get_legend().get_texts()) == 3
    assert not legibility_problems(fig)

"""Lessons 10 and 11's figures (minivelo.plots.practice) draw on tiny data, in the lesson
style: at most three panels a row, at most five legend entries, no text below the style."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


from plot_checks import legibility_problems, lesson_style  # noqa: E402, F401

from minivelo import bench  # noqa: E402
from minivelo.plots import practice as plots  # noqa: E402


def curve(T=40, start=2.0, end=0.1):
    return np.geomspace(start, end, T)


def test_lesson_10_figures():
    T = 40
    fig = plots.new_task({"VeLO": (curve(T), "C3"), "Adam": (curve(T, end=0.5), "C0")},
                         bench.log_grid(1e-3, 1.0, 1), [1.0, 0.5, np.inf, 2.0], 0.1,
                         title="task", num_steps=T)  # fmt: skip
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "task"
    assert not legibility_problems(fig)

    reference = curve(T, end=0.2)
    fast, blown = (
        bench.speedup(curve(T, end=0.01), reference),
        bench.speedup(np.geomspace(2.0, 1e15, T), reference),
    )
    assert blown.diverged
    fig = plots.speedups(["a", "b"], [fast, blown], [blown, fast])
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "diverged" in texts and fast.text() in texts
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    assert not legibility_problems(fig)

    runs = {h: (curve(h), curve(h, 0.1, 0.01), np.full(h, -0.2), f"C{i}")
            for i, h in enumerate((20, 40))}  # fmt: skip
    fig = plots.implicit_schedule(runs, ("Adam", curve(T), curve(T, 0.1, 0.001)),
                                  tensor_name="layer_0/w", title="t")  # fmt: skip
    assert len(fig.axes) == 3 and fig.axes[2].lines[0].get_ydata()[0] == pytest.approx(0.2)
    assert not legibility_problems(fig)

    fig = plots.long_horizon({"VeLO": (curve(4 * T), "k"), "Adam": (curve(T), "C0")},
                             {T: (curve(T), "C1"), 4 * T: (curve(4 * T), "k")},
                             train_horizon=T, title="long")  # fmt: skip
    assert len(fig.axes) == 2 and not legibility_problems(fig)

    sizes = {0: np.ones((T, 3)), 1: np.ones((T, 3))}
    fig = plots.deep_mlp({0: curve(T), 1: curve(T)}, curve(T), "Adam", sizes,
                         ["l0", "l1", "l2"], title="deep")  # fmt: skip
    assert len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["l0", "l2"]
    assert not legibility_problems(fig)

    path = np.stack([np.linspace(-1, 1, T), np.linspace(1, 1, T)], axis=1)
    fig = plots.rosenbrock({"VeLO": (path, "C3")}, {"VeLO": (np.r_[curve(T - 1), 0.0], "C3")},
                           title="rosenbrock")  # fmt: skip
    assert fig.axes[1].lines[0].get_ydata().min() == pytest.approx(1e-12)
    assert not legibility_problems(fig)


def test_lesson_11_training_figure():
    T, names = 30, ["b0", "w0", "b1", "w1"]
    run = {"loss": curve(T), "size": curve(T, 1e-3, 1e-4), "cos": np.linspace(-1, 1, T)}
    adam = {f"Adam lr={lr:g}": run for lr in (1e-3, 3e-3, 1e-2, 3e-2)}
    velo = {f"VeLO {k}": ({**run, "lr_mult": np.ones((T, 4))}, f"C{k}") for k in range(3)}
    fig = plots.digits_training(adam, velo, names, best=3, width=5)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    legends = [ax.get_legend() for ax in visible]
    assert [len(lg.get_texts()) for lg in (legends[0], legends[1], legends[3])] == [4, 3, 4]
    assert not legibility_problems(fig)
    with pytest.raises(ValueError, match="at most 4 tensors"):
        plots.digits_training(adam, velo, names + ["x"], best=0)

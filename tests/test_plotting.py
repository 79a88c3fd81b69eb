"""The lessons' plotting helpers: style, panels, tables, smoothing, static-then-live widgets,
and the one size knob."""

from __future__ import annotations

import base64

import matplotlib
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from minivelo import lessons, plotting
from minivelo.bench.tuning import smoothed

matplotlib.use("Agg")


def test_use_style_sets_projector_sizes():
    import matplotlib as mpl

    plotting.use_style()
    assert mpl.rcParams["font.size"] >= 14 and mpl.rcParams["legend.fontsize"] >= 12


@pytest.mark.parametrize(("n", "rows", "cols"), [(1, 1, 1), (3, 1, 3), (4, 2, 3), (5, 2, 3)])
def test_panels_never_more_than_three_a_row(n, rows, cols):
    fig, axes = plotting.panels(n)
    assert len(axes) == n
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (rows, cols)
    with pytest.raises(ValueError, match="positive integer"):
        plotting.panels(0)


ROWS = [["adam", np.float32(0.00123), 3, None], ["velo|fused", 1.5e-7, np.int64(12), "1.3x"]]
HEADERS = ["optimizer", "final loss", "steps", "speedup"]


def test_markdown_table_formats_and_aligns():
    assert plotting.markdown_table(ROWS, HEADERS, floatfmt=".3g").splitlines() == [
        "| optimizer | final loss | steps | speedup |",
        "| --- | ---: | ---: | --- |",
        "| adam | 0.00123 | 3 |  |",
        "| velo\\|fused | 1.5e-07 | 12 | 1.3x |",
    ]


def test_text_table_is_aligned_for_plain_viewers():
    lines = plotting.text_table(ROWS, HEADERS, floatfmt=".2e").splitlines()
    assert lines[0].startswith("optimizer ") and set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["adam", "1.23e-03", "3"]
    # numbers right-aligned: their last characters line up under the header's
    end = lines[0].index("final loss") + len("final loss")
    assert lines[2][end - 1] == "3" and lines[3][end - 1] == "7"


def test_tables_reject_ragged_rows():
    with pytest.raises(ValueError, match="row 1 has 2 entries for 4 headers"):
        plotting.markdown_table([ROWS[0], ["x", 1]], HEADERS)
    with pytest.raises(ValueError, match="at least one header"):
        plotting.text_table([], [])


def test_show_table_prints_text_outside_ipython(capsys):
    plotting.show_table(ROWS, HEADERS)
    assert capsys.readouterr().out.strip() == plotting.text_table(ROWS, HEADERS)


def test_smooth_is_the_benchmarks_trailing_mean():
    rng = np.random.default_rng(0)
    curve = rng.random(101)
    for window in (1, 2, 5, 7, 100, 101, 500):
        expected = [curve[max(0, t - window) : t].mean() for t in range(1, 102)]
        np.testing.assert_allclose(plotting.smooth(curve, window), expected, rtol=1e-12)
    # the same function as bench.smoothed, where both windows agree (ceil(5% of 101) = 6)
    np.testing.assert_allclose(plotting.smooth(curve, 6), smoothed(curve), rtol=1e-12)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="window"):
            plotting.smooth(curve, bad)
    with pytest.raises(ValueError, match="1-D"):
        plotting.smooth(np.ones((2, 3)), 2)


def test_lesson_scale(monkeypatch):
    monkeypatch.delenv(lessons.ENV_VAR, raising=False)
    assert lessons.lesson_scale() == 1.0 and lessons.scaled(2000) == 2000
    monkeypatch.setenv(lessons.ENV_VAR, "0.25")
    assert lessons.scaled(2000) == 500 and lessons.scaled(2, minimum=1) == 1
    assert lessons.scaled(3, minimum=2) == 2
    for bad in ("fast", "0", "-1", "inf", "nan"):
        monkeypatch.setenv(lessons.ENV_VAR, bad)
        with pytest.raises(ValueError, match="MINIVELO_LESSON_SCALE"):
            lessons.scaled(10)
    monkeypatch.setenv(lessons.ENV_VAR, "2")
    with pytest.raises(ValueError, match="non-negative integer"):
        lessons.scaled(2.5)


LESSON = [
    "import matplotlib.pyplot as plt\n"
    "from ipywidgets import FloatSlider\n"
    "from minivelo.plotting import show_table, static_interactive, use_style\n"
    "use_style()\n"
    "show_table([['sgd', 0.5]], ['optimizer', 'loss'])",
    "def plot(rate, steps):\n"
    "    fig, ax = plt.subplots()\n"
    "    ax.plot(range(steps), [rate * t for t in range(steps)])\n"
    "    return fig\n"
    "slider = FloatSlider(value=0.5, min=0.1, max=2.0)\n"
    "static_interactive(plot, rate=slider, steps=10)",
    "slider.value = 1.5  # what moving the slider does",
]


def test_static_interactive_and_show_table_in_a_kernel():
    """Executed as a lesson is: the figure is a plain image output, the controls' text
    form is a clean sentence (no widget repr), and moving a control redraws the image."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in LESSON])
    client = NotebookClient(notebook, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            if index == 1:
                png_before = notebook.cells[1]["outputs"][0]["data"]["image/png"]
    table, figure, _ = (cell["outputs"] for cell in notebook.cells)
    assert table[0]["data"]["text/markdown"].startswith("| optimizer | loss |")
    expected_text = plotting.text_table([["sgd", 0.5]], ["optimizer", "loss"])
    assert table[0]["data"]["text/plain"] == expected_text
    image, controls = figure
    assert "image/png" in image["data"]
    assert controls["data"]["text/plain"] == plotting.LIVE_CONTROLS_TEXT
    assert "application/vnd.jupyter.widget-view+json" in controls["data"]
    texts = [o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in figure + table]
    assert not any(t.startswith(("interactive(", "VBox(", "HBox(")) for t in texts)
    # the third cell moved the slider: the image output was replaced in place
    assert base64.b64decode(png_before) != base64.b64decode(image["data"]["image/png"])

"""Shared checks for the lesson figures (``tests/test_plots_*.py``).

Import both names into a test module: the fixture applies the lesson style to each of its
tests and closes the figures after, and :func:`legibility_problems` lists what breaks it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from minivelo.plotting import MAX_PANELS_PER_ROW, use_style  # noqa: E402

MAX_LEGEND_ENTRIES = 5


@pytest.fixture(autouse=True)
def lesson_style():
    use_style()
    yield
    plt.close("all")


def legibility_problems(fig) -> list[str]:
    """What breaks the lesson style in a drawn figure: more than three panels a row, a
    legend of more than five entries inside the axes (a longer one placed to their right
    is allowed), text smaller than the style's smallest size."""
    fig.canvas.draw()
    smallest = min(
        mpl.font_manager.FontProperties(size=mpl.rcParams[key]).get_size_in_points()
        for key in ("legend.fontsize", "xtick.labelsize", "ytick.labelsize")
    )
    found = []
    for ax in fig.axes:
        spec = ax.get_subplotspec() if ax.get_visible() else None
        if spec is not None and spec.get_gridspec().ncols > MAX_PANELS_PER_ROW:
            found.append(f"a grid of {spec.get_gridspec().ncols} columns")
        legend = ax.get_legend()
        outside = legend is not None and legend.get_bbox_to_anchor().x0 > ax.bbox.x1
        if legend is not None and len(legend.get_texts()) > MAX_LEGEND_ENTRIES and not outside:
            found.append(f"a legend of {len(legend.get_texts())} entries")
    for text in fig.findobj(mpl.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < smallest:
            found.append(f"text {text.get_text()!r} at {text.get_fontsize():.1f} pt")
    return found

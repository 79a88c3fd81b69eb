"""Small plotting helpers shared by the lessons, the CLI and the benchmarks."""

from __future__ import annotations

from pathlib import Path


def figures_dir() -> Path:
    """The repository's ``figures/`` folder, found by walking up from the working directory.

    Lessons run from ``notebooks/`` and the CLI from the repository root; both save into
    the same ``figures/``. Outside a checkout (e.g. on Colab) it is ``./figures``.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "minivelo").is_dir():
            return folder / "figures"
    return here / "figures"


def save_figure(fig, name: str, *, dpi: int = 110) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` and return the path."""
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    # Fixed metadata keeps the PNG bytes identical when the figure is (a determinism aid).
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path


# ----------------------------------------------------------------- lesson style

#: Matplotlib settings for lessons shown on a projector: a 1024-px-wide screen shows a
#: 10-inch-wide figure at ~100 px per inch, so 15-pt labels are ~20 px tall there.
LESSON_STYLE: dict = {
    "figure.figsize": (10.0, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 15,
    "axes.titlesize": 16,
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 12,
    "legend.title_fontsize": 13,
    "lines.linewidth": 2.2,
    "lines.markersize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.constrained_layout.use": True,
}

#: At most this many panels side by side (wider rows shrink every label below legibility).
MAX_PANELS_PER_ROW = 3


def use_style() -> None:
    """Apply :data:`LESSON_STYLE` (call once at the top of a lesson) and, inside IPython,
    ask for high-dpi (retina) inline PNGs."""
    import matplotlib as mpl

    mpl.rcParams.update(LESSON_STYLE)
    try:  # only inside a notebook kernel; a plain script has no IPython
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("retina")
    except ImportError:
        pass


def panels(n: int, *, height: float = 4.2, **kwargs):
    """``plt.subplots`` with ``n`` panels, at most :data:`MAX_PANELS_PER_ROW` a row.

    Returns ``(fig, axes)`` with ``axes`` a flat list of ``n`` axes (extra grid cells are
    hidden).
    """
    import matplotlib.pyplot as plt

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    cols = min(n, MAX_PANELS_PER_ROW)
    rows = -(-n // cols)
    width = {1: 7.0, 2: 10.0, 3: 12.0}[cols]
    fig, grid = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False, **kwargs)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


# ----------------------------------------------------------------- tables


def _is_number(value) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _cell_text(value, floatfmt: str) -> str:
    import numpy as np

    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format(float(value), floatfmt)
    return str(value)


def _table_cells(rows, headers, floatfmt: str):
    """Headers and cell texts, checked; and which columns hold only numbers (or blanks)."""
    headers = [str(h) for h in headers]
    if not headers:
        raise ValueError("a table needs at least one header")
    rows = [list(row) for row in rows]
    for number, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(
                f"row {number} has {len(row)} entries for {len(headers)} headers: {row!r}"
            )
    numeric = [
        bool(rows) and all(row[c] is None or _is_number(row[c]) for row in rows)
        for c in range(len(headers))
    ]
    texts = [[_cell_text(value, floatfmt) for value in row] for row in rows]
    return headers, texts, numeric


def markdown_table(rows, headers, *, floatfmt: str = ".4g") -> str:
    """A Markdown table of ``rows`` (sequences, one entry per header).

    Floats (Python or numpy) are written with ``format(x, floatfmt)``, integers as they
    are, ``None`` as an empty cell, anything else with ``str``. Columns of numbers are
    right-aligned. A ``|`` inside a cell is escaped.
    """
    headers, texts, numeric = _table_cells(rows, headers, floatfmt)
    escape = lambda cell: cell.replace("|", "\\|")
    lines = [
        "| " + " | ".join(map(escape, headers)) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in texts]
    return "\n".join(lines)


def text_table(rows, headers, *, floatfmt: str = ".4g") -> str:
    """The same table as aligned plain text (the fallback where Markdown is not rendered)."""
    headers, texts, numeric = _table_cells(rows, headers, floatfmt)
    widths = [max(len(row[c]) for row in [headers, *texts]) for c in range(len(headers))]

    def line(cells):
        return "  ".join(
            cell.rjust(w) if n else cell.ljust(w)
            for cell, w, n in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, texts)])


def show_table(rows, headers, *, floatfmt: str = ".4g") -> None:
    """Display ``rows`` as a rendered table: Markdown in a notebook, with the aligned text
    table as its plain-text form (what a terminal, nbval's diff or a text viewer shows);
    outside IPython, print the text table."""
    rows = [list(row) for row in rows]  # an iterator is read once, for both forms
    markdown = markdown_table(rows, headers, floatfmt=floatfmt)
    text = text_table(rows, headers, floatfmt=floatfmt)
    shell = _ipython()
    if shell is None:
        print(text)
        return
    from IPython.display import display

    display({"text/markdown": markdown, "text/plain": text}, raw=True)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


# ----------------------------------------------------------------- curves


def smooth(values, window: int):
    """Trailing mean of a 1-D curve over ``window`` steps (shorter at the start):
    :math:`s_t = \\frac{1}{t - \\max(0, t-w)} \\sum_{i=\\max(0,t-w)+1}^{t} x_i`.

    The same smoothing the benchmark uses for final losses and steps-to-match
    (:func:`minivelo.bench.tuning.smoothed`, which takes the window as a fraction of the
    run); here the window is a number of steps. A non-finite value makes the windows that
    contain it non-finite.
    """
    import numpy as np

    from minivelo.bench.tuning import smoothed

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"smooth takes a non-empty 1-D curve, got shape {values.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer number of steps, got {window!r}")
    # smoothed's window is ceil(fraction * n); (window - 1/2) / n gives exactly `window`
    return smoothed(values, fraction=(int(window) - 0.5) / values.size)


# ----------------------------------------------------------------- widgets

#: What a saved notebook shows in place of the live controls where widgets cannot run
#: (GitHub, nbviewer, a notebook opened without running it).
LIVE_CONTROLS_TEXT = "Live controls: run the notebook to use the sliders."


def _figure_of(result):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if isinstance(result, Figure):
        return result
    if result is not None and hasattr(result, "figure"):  # an Axes
        return result.figure
    return plt.gcf()


def static_interactive(plot, /, **controls):
    """Show ``plot(**defaults)`` as an ordinary figure, then live controls that redraw it.

    ``controls`` maps ``plot``'s keyword arguments to ipywidgets controls (their ``value``
    is the default) or to plain values (held fixed). ``plot`` draws a figure and returns
    it (or an Axes, or nothing: then the current figure is used).

    The figure is a normal image output, updated in place (a display id) when a control
    moves, so a notebook opened without running it shows the figure at the defaults; the
    controls' plain-text form is :data:`LIVE_CONTROLS_TEXT`, not an
    ``interactive(children=...)`` repr. Returns nothing, so a call on a cell's last line
    adds no second repr.
    """
    import ipywidgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not callable(plot):
        raise TypeError(f"plot must be callable, got {type(plot).__name__}")
    live = {name: c for name, c in controls.items() if isinstance(c, ipywidgets.ValueWidget)}
    fixed = {name: c for name, c in controls.items() if name not in live}
    for name, control in live.items():
        if not getattr(control, "description", ""):
            control.description = name

    def draw():
        figure = _figure_of(plot(**fixed, **{name: c.value for name, c in live.items()}))
        plt.close(figure)
        return figure

    handle = display(draw(), display_id=True)

    def redraw(_change=None):
        if handle is not None:
            handle.update(draw())

    for control in live.values():
        control.observe(redraw, names="value")
    box = ipywidgets.VBox(list(live.values()))
    if live:
        bundle = box._repr_mimebundle_() if hasattr(box, "_repr_mimebundle_") else None
        if not bundle:  # ipywidgets 7 displays itself instead of returning a bundle
            bundle = {
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "model_id": box.model_id,
                }
            }
        bundle = dict(bundle, **{"text/plain": LIVE_CONTROLS_TEXT})
        display(bundle, raw=True)

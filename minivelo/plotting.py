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

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

"""``python -m minivelo figures``: regenerate every figure in ``figures/`` in one command.

Figures come from two places: the lessons (each notebook saves its figures with
:func:`minivelo.plotting.save_figure` while it runs) and the command-line jobs
(``compare``, the benchmarks). This command re-executes the notebooks in place, so their
committed outputs are refreshed at the same time, and then reruns the jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

from minivelo.plotting import figures_dir

# Command-line jobs that write figures: (command name, argv).
JOBS: list[tuple[str, list[str]]] = [
    ("compare", []),
]


def execute_notebook(path: Path, timeout: int = 600) -> float:
    """Run ``path`` top to bottom in its own folder, write outputs in place; return seconds."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:  # the "notebooks" extra is not installed
        raise SystemExit(
            "regenerating lesson figures needs Jupyter: pip install 'minivelo[notebooks]'"
        ) from error
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no per-cell timestamps: a rerun changes only what changed
    )
    client.execute()
    # Sliders are live-only (each has a static figure too): their saved state is just bulk.
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def regenerate(run_command, only=None, skip_notebooks: bool = False) -> int:
    """Re-execute the lessons (all, or those whose names start with a prefix in ``only``)
    unless ``skip_notebooks``, then, when ``only`` is None, rerun the command-line jobs
    through ``run_command(argv) -> exit status`` (the CLI's ``main``, passed in by the CLI
    so that this module does not import it back)."""
    root = figures_dir().parent
    notebooks = sorted((root / "notebooks").glob("[0-9]*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in only)]
    if not skip_notebooks:
        for notebook in notebooks:
            print(f"executing {notebook.relative_to(root)} ...", flush=True)
            print(f"  done in {execute_notebook(notebook):.0f} s", flush=True)
    if only is None:
        for name, job_argv in JOBS:
            print(f"running python -m minivelo {name} {' '.join(job_argv)}", flush=True)
            status = run_command([name, *job_argv])
            if status:
                return status
    print(f"figures are in {figures_dir()}")
    return 0

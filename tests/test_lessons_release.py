"""Every lesson's Colab badge and install cell agree with the one release table.

The address, ref and Colab pins live in pyproject's ``[tool.minivelo]`` and the versions in
``.ci/constraints.txt``; ``.ci/sync_lessons.py`` writes the lessons from them. These tests
run its check on the repository and its rewrite on copies.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


sync_lessons = _load("sync_lessons")
LESSONS = ("03_adaptive_step_sizes", "05b_tuning_with_optuna")


@pytest.fixture
def copy(tmp_path):
    """A repository copy with two lessons (one with an extra), the README and the tables."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / ".ci").mkdir()
    for lesson in LESSONS:
        shutil.copy(ROOT / "notebooks" / f"{lesson}.ipynb", tmp_path / "notebooks")
    for name in ("README.md", "pyproject.toml", ".ci/constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_committed_lessons_agree_with_the_release():
    assert sync_lessons.sync(ROOT, check=True) == {}


def test_release_table_reads_and_pins_only_what_sets_the_numbers():
    release = sync_lessons.load_release(ROOT)
    constraints = sync_lessons.read_pins(ROOT / ".ci" / "constraints.txt")
    assert release.ref == f"v{release.version}" or re.fullmatch(r"[0-9a-f]{7,40}", release.ref)
    assert release.pins["jax"] == constraints["jax"]
    assert release.pins["jaxlib"] == constraints["jaxlib"]
    # Colab's widgets and Jupyter are never replaced (googlecolab/colabtools#3020)
    for kept in ("ipywidgets", "matplotlib", "jupyter", "ipykernel", "notebook"):
        assert kept not in release.pins
    cell = release.install_cell("05b_tuning_with_optuna")
    assert f"optuna=={constraints['optuna']}" in cell and "minivelo[tuning] @" in cell
    assert "[notebooks]" not in cell and "@main" not in cell
    assert all(len(line) <= 100 for line in cell.splitlines())


OLD_INSTALL = [
    "import sys\n",
    "\n",
    'if "google.colab" in sys.modules:\n',
    '    %pip install -q "minivelo[notebooks] @ git+https://github.com/minivelo/minivelo@main"',
]


def _make_stale(root: Path) -> None:
    """Give the copy's lessons and README an unpinned ``@main`` badge and install cell."""
    release = sync_lessons.load_release(root)
    for path in (root / "notebooks").glob("*.ipynb"):
        notebook = json.loads(path.read_text())
        badge = "".join(notebook["cells"][0]["source"])
        notebook["cells"][0]["source"] = badge.replace(f"/blob/{release.ref}/", "/blob/main/")
        notebook["cells"][1]["source"] = OLD_INSTALL
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace(f"/blob/{release.ref}/", "/blob/main/"))


def test_sync_rewrites_only_badges_and_install_cells(copy):
    _make_stale(copy)
    before = {p.name: _cells(p) for p in (copy / "notebooks").glob("*.ipynb")}
    stale = sync_lessons.sync(copy)
    assert set(stale) == {f"notebooks/{lesson}.ipynb" for lesson in LESSONS} | {"README.md"}
    release = sync_lessons.load_release(copy)
    for path in (copy / "notebooks").glob("*.ipynb"):
        cells = _cells(path)
        assert len(cells) == len(before[path.name])
        changed = [
            i for i, (a, b) in enumerate(zip(before[path.name], cells, strict=True)) if a != b
        ]
        assert changed == [0, 1], f"{path.name}: cells {changed} changed"
        assert release.badge_url(path.stem) in "".join(cells[0]["source"])
        assert "".join(cells[1]["source"]) == release.install_cell(path.stem)
        assert cells[1]["outputs"] == before[path.name][1]["outputs"]
    readme = (copy / "README.md").read_text()
    assert "/blob/main/" not in readme and release.badge_url("01_gradient_descent") in readme
    # idempotent, and the check agrees
    assert sync_lessons.sync(copy) == {}
    assert sync_lessons.main(["--check", "--root", str(copy)]) == 0


def test_check_names_the_notebook_that_disagrees(copy):
    sync_lessons.sync(copy)
    path = copy / "notebooks" / "03_adaptive_step_sizes.ipynb"
    path.write_text(path.read_text().replace("/blob/v", "/blob/main-v"))
    before = path.read_text()
    stale = sync_lessons.sync(copy, check=True)
    assert stale == {"notebooks/03_adaptive_step_sizes.ipynb": ["cell 0: Colab badge"]}
    assert path.read_text() == before  # --check writes nothing
    assert sync_lessons.main(["--check", "--root", str(copy)]) == 1


def test_a_fork_changes_the_address_in_one_place(copy):
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'repository = "https://github.com/minivelo/minivelo"',
            'repository = "https://github.com/a-lecturer/minivelo-fork"',
        )
    )
    sync_lessons.sync(copy)
    for path in (copy / "notebooks").glob("*.ipynb"):
        text = path.read_text()
        assert "github/a-lecturer/minivelo-fork/blob/" in text
        assert "git+https://github.com/a-lecturer/minivelo-fork@" in text
        assert "github.com/minivelo/minivelo" not in text
    assert "github/minivelo/minivelo/" not in (copy / "README.md").read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('release_ref = "v0.1.0"', 'release_ref = "v9.9.9"', "version tag"),
        ('release_ref = "v0.1.0"', 'release_ref = "two words"', "not a git ref"),
        ('"https://github.com/minivelo/minivelo"', '"https://gitlab.com/x/y"', "github.com"),
        ('"mnist1d"]', '"mnist1d", "no-such-package"]', "not pinned"),
    ],
)
def test_bad_release_tables_are_clear_errors(copy, old, new, message):
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    assert old in text, f"the fixture no longer holds {old!r}"
    pyproject.write_text(text.replace(old, new, 1))
    with pytest.raises(sync_lessons.ReleaseError, match=message):
        sync_lessons.sync(copy, check=True)


def test_a_lesson_without_an_install_cell_is_a_clear_error(copy):
    path = copy / "notebooks" / "03_adaptive_step_sizes.ipynb"
    notebook = json.loads(path.read_text())
    del notebook["cells"][1]
    path.write_text(json.dumps(notebook, indent=1))
    with pytest.raises(sync_lessons.ReleaseError, match="03_adaptive.*one install cell"):
        sync_lessons.sync(copy, check=True)


def test_constraints_match_this_environment():
    """CI installs with the constraints, so its environment reproduces them exactly."""
    freeze = _load("freeze_constraints")
    assert (ROOT / ".ci" / "constraints.txt").read_text() == freeze.render(), (
        "run .venv/bin/python .ci/freeze_constraints.py"
    )

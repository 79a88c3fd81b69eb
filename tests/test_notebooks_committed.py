"""Lessons are read on GitHub and Colab without running: each is committed executed.

(nbval then compares every cell's fresh output with the committed one; a notebook saved
without outputs would pass nbval while teaching nothing on the page.)
"""

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    never_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert code and not never_run, f"{path.name}: code cells {never_run} were never executed"
    assert any(c.get("outputs") for c in code), f"{path.name} has no outputs at all"


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 4

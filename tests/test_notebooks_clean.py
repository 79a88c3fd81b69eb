"""The committed lessons carry nothing of the machine they ran on, and the house conventions.

Over each ``notebooks/*.ipynb`` as committed (outputs included):

- no absolute paths of the machine (``/root``, ``/work``, ``/tmp``, ``/home``, a
  ``PosixPath('/...')`` repr) in any output;
- no network-error text (``urlopen error``, ``Name or service not known``, ``Errno -2``);
- no bare widget repr (a ``text/plain`` beginning ``interactive(``, ``VBox(`` or ``HBox(``)
  unless the same cell also shows a static image (see
  :func:`minivelo.plotting.static_interactive`);
- no "skipping" lines (a lesson whose data is missing says so in one clean sentence);
- no progress-bar timings hidden by the sanitize rules in a cell without an nbval marker;
- every worked solution (the code cell after a "**Solution**" markdown cell) tagged
  ``solution``;
- every lesson calls ``minivelo.plotting.use_style()``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:root|work|tmp|home)(?=/|\b)|PosixPath\(['\"]/")
NETWORK_ERROR = re.compile(r"urlopen error|Name or service not known|Errno -2\b")
SKIPPING = re.compile(r"(?i)\bskipping\b")
PROGRESS_TIMING = re.compile(r"\[\d+:\d+(<[\d:?]+)?, *[\d.?]+ ?[a-z/]+\]")  # tqdm's [00:01, 3it/s]
WIDGET_REPR = ("interactive(", "VBox(", "HBox(")
NBVAL_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")
NBVAL_TAGS = ("nbval-ignore-output", "nbval-skip", "raises-exception")
USE_STYLE = re.compile(r"\buse_style\(\s*\)")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_texts(output: dict) -> list[str]:
    """Every text an output shows: stream text, text/* data, an error's traceback."""
    texts = []
    if "text" in output:
        texts.append(_text(output["text"]))
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/"):
            texts.append(_text(value))
    if "traceback" in output:
        texts.append("\n".join(output["traceback"]))
    return texts


def _line_at(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : end if end >= 0 else None].strip()[:160]


def problems(notebook: dict) -> list[str]:
    """What is wrong with one notebook, one entry per finding (empty: clean)."""
    found = []
    cells = notebook["cells"]
    for index, cell in enumerate(cells):
        source = _text(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and source.lstrip().startswith("**Solution**"):
            after = cells[index + 1] if index + 1 < len(cells) else None
            if after is None or after["cell_type"] != "code":
                found.append(f"cell {index}: '**Solution**' is not followed by a code cell")
            elif "solution" not in after.get("metadata", {}).get("tags", []):
                found.append(f"cell {index + 1}: a worked solution without the 'solution' tag")
        if cell["cell_type"] != "code":
            continue
        outputs = cell.get("outputs", [])
        marked = any(m in source for m in NBVAL_MARKERS) or any(t in tags for t in NBVAL_TAGS)
        has_image = any(
            mime.startswith("image/") for output in outputs for mime in output.get("data", {})
        )
        for output in outputs:
            plain = _text(output.get("data", {}).get("text/plain", ""))
            if plain.startswith(WIDGET_REPR) and not has_image:
                found.append(f"cell {index}: bare widget repr {plain[:60]!r}")
            for text in output_texts(output):
                for name, pattern in (
                    ("an absolute path", ABSOLUTE_PATH),
                    ("network-error text", NETWORK_ERROR),
                    ("a 'skipping' line", SKIPPING),
                ):
                    if match := pattern.search(text):
                        found.append(f"cell {index}: {name}: {_line_at(text, match.start())!r}")
                if not marked and (match := PROGRESS_TIMING.search(text)):
                    found.append(
                        f"cell {index}: progress-bar timing without an nbval marker: "
                        f"{_line_at(text, match.start())!r}"
                    )
    code = "\n".join(_text(c["source"]) for c in cells if c["cell_type"] == "code")
    if not USE_STYLE.search(code):
        found.append("never calls minivelo.plotting.use_style()")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_clean(path):
    found = problems(json.loads(path.read_text()))
    assert not found, f"{path.name}:\n  " + "\n  ".join(found)


def _notebook(*cells) -> dict:
    return {"cells": list(cells)}


def _code(source, *outputs, tags=()):
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {"tags": list(tags)},
        "outputs": list(outputs),
    }


def _markdown(source):
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def _stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _data(**data):
    return {"output_type": "display_data", "data": data, "metadata": {}}


STYLE = _code("from minivelo.plotting import use_style\nuse_style()")


def test_a_clean_notebook_passes():
    notebook = _notebook(
        STYLE,
        _code("save_figure(fig, 'x')", _data(**{"text/plain": "PosixPath('figures/x.png')"})),
        _code("show()", _data(**{"image/png": "iVBOR", "text/plain": "<Figure>"}),
              _data(**{"text/plain": "Live controls: run the notebook to use the sliders."})),
        _markdown("**Solution**"),
        _code("answer = 42", tags=["solution"]),
        _code("print(url)", _stream("see https://example.org/home/page and ~/tmp-notes\n")),
    )  # fmt: skip
    assert problems(notebook) == []


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (_code("p", _data(**{"text/plain": "PosixPath('/work/main/figures/a.png')"})), "absolute"),
        (_code("print(p)", _stream("wrote /tmp/abc/figure.png\n")), "absolute"),
        (_code("print(p)", _stream("loaded /home/me/data.npz\n")), "absolute"),
        (_code("f()", _stream("<urlopen error [Errno -2] Name or service not known>\n")),
         "network-error"),
        (_code("f()", _stream("golden bundle not found: skipping the check\n")), "skipping"),
        (_code("interact(f)", _data(**{"text/plain": "interactive(children=(FloatSlider("})),
         "bare widget"),
        (_code("train()", {"output_type": "stream", "name": "stderr",
                           "text": "100%|##| 50/50 [00:03<00:00, 14.2it/s]"}), "progress-bar"),
    ],
)  # fmt: skip
def test_each_kind_of_dirt_is_found(cell, expected):
    found = problems(_notebook(STYLE, cell))
    assert len(found) == 1 and expected in found[0], found


def test_markers_solutions_and_style_are_checked():
    timing = {"output_type": "stream", "name": "stderr", "text": "[00:03<00:00, 14.2it/s]"}
    marked = _code("# NBVAL_IGNORE_OUTPUT\ntrain()", timing)
    assert problems(_notebook(STYLE, marked)) == []
    untagged = _notebook(STYLE, _markdown("**Solution**"), _code("answer = 42"))
    assert problems(untagged) == ["cell 2: a worked solution without the 'solution' tag"]
    dangling = _notebook(STYLE, _markdown("**Solution**"), _markdown("text"))
    assert "not followed by a code cell" in problems(dangling)[0]
    assert problems(_notebook(_code("import minivelo"))) == [
        "never calls minivelo.plotting.use_style()"
    ]

"""Every lesson exports as a reveal.js slide deck (``jupyter nbconvert --to slides``).

No execution: the deck is built from the committed cells and outputs. The deck's slides
follow the cells' ``slideshow.slide_type`` metadata (see notebooks/LECTURER.md for the
convention): a ``slide`` cell starts a top-level slide, ``subslide`` a vertical one below
it, ``skip`` leaves the cell out. Where a lesson carries that metadata, the convention is
checked too: the Colab install cell and worked solutions are skipped, and every ``## ``
section heading starts a slide.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import SlidesExporter

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


class _Sections(HTMLParser):
    """Counts the deck's top-level ``<section>`` elements (the horizontal slides) and
    the nested ones (vertical subslides)."""

    def __init__(self):
        super().__init__()
        self.depth, self.slides, self.subslides, self.cell_ids = 0, 0, 0, set()

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.depth += 1
            self.slides += self.depth == 1
            self.subslides += self.depth == 2
        identifier = dict(attrs).get("id") or ""
        if identifier.startswith("cell-id="):
            self.cell_ids.add(identifier.removeprefix("cell-id="))

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def expected_slides(notebook) -> tuple[int, int]:
    """(horizontal slides, subslides) nbconvert builds from the cells' metadata."""
    slides, subslides = 1, 1  # the deck opens one slide holding one subslide
    started = False
    for cell in notebook.cells:
        kind = slide_type(cell)
        if kind == "skip":
            continue
        if started and kind == "slide":
            slides += 1
            subslides += 1
        elif started and kind == "subslide":
            subslides += 1
        started = True
    return slides, subslides


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_exports_as_a_slide_deck(path):
    notebook = nbformat.read(path, as_version=4)
    deck, _ = SlidesExporter().from_notebook_node(notebook)
    assert "Reveal.initialize" in deck and 'class="reveal"' in deck
    sections = _Sections()
    sections.feed(deck)
    assert sections.depth == 0, "unbalanced <section> tags"
    nested = sections.subslides + sections.slides  # every slide holds >= 1 subslide
    assert (sections.slides, nested - sections.slides) == expected_slides(notebook)
    for cell in notebook.cells:
        if slide_type(cell) == "skip" and cell.get("id"):
            assert cell.id not in sections.cell_ids, f"skipped cell {cell.id} is in the deck"
    if any(slide_type(cell) != "-" for cell in notebook.cells):
        check_convention(notebook)


def check_convention(notebook):
    for index, cell in enumerate(notebook.cells):
        source = cell.source
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and '"google.colab" in sys.modules' in source:
            assert slide_type(cell) == "skip", f"cell {index}: the install cell is not skipped"
        if "solution" in tags:
            assert slide_type(cell) == "skip", f"cell {index}: a solution is on a slide"
        if cell.cell_type == "markdown" and re.match(r"## ", source):
            assert slide_type(cell) == "slide", f"cell {index}: section heading not a slide"


def test_the_jupyter_command_builds_a_deck(tmp_path):
    """The command a lecturer types, on one lesson, into an empty folder."""
    lesson = min(NOTEBOOKS, key=lambda p: p.stat().st_size)
    shutil.copy(lesson, tmp_path)
    jupyter = Path(sys.executable).parent / "jupyter"
    command = [str(jupyter)] if jupyter.exists() else [sys.executable, "-m", "jupyter"]
    subprocess.run(
        [*command, "nbconvert", "--to", "slides", lesson.name],
        cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    deck = tmp_path / f"{lesson.stem}.slides.html"
    assert deck.is_file() and "Reveal.initialize" in deck.read_text()

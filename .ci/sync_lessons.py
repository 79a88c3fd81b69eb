#!/usr/bin/env python3
"""Write every lesson's Colab badge and install cell, and the README's badges, from one place.

The repository address, the release ref and the packages pinned on Colab live in the
``[tool.minivelo]`` table of ``pyproject.toml``; the pinned versions in
``.ci/constraints.txt``. This script rewrites, in each ``notebooks/*.ipynb``:

- the "Open In Colab" badge: ``colab.research.google.com/github/OWNER/NAME/blob/REF/...``;
- the install cell (the code cell that tests ``"google.colab" in sys.modules``): on Colab
  only, ``pip install`` of minivelo from ``git+REPOSITORY@REF`` together with the
  ``colab_pins`` (and the packages of a lesson's extras) at their constrained versions;

and the badge links of ``README.md``. Only cell sources change; outputs, metadata and the
file's JSON layout stay as they are. ::

    python .ci/sync_lessons.py           # rewrite
    python .ci/sync_lessons.py --check   # exit 1, listing each disagreement, if any
    python .ci/sync_lessons.py --root DIR  # a copy of the repository instead of this one
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    raise SystemExit("sync_lessons.py needs Python >= 3.11 (tomllib)") from None

ROOT = Path(__file__).resolve().parents[1]
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: A Colab badge link for a lesson, whatever address and ref it holds today.
BADGE_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/"
    r"notebooks/(?P<lesson>[^/\s)]+)\.ipynb"
)
COLAB_GUARD = '"google.colab" in sys.modules'


class ReleaseError(ValueError):
    """The release table, the constraints or a lesson is not in the shape this script needs."""


@dataclass(frozen=True)
class Release:
    repository: str  # https://github.com/OWNER/NAME
    ref: str  # a tag such as v0.1.0, or a commit
    version: str  # [project] version
    pins: dict[str, str]  # the pins every lesson installs on Colab: name -> version
    lesson_pins: dict[str, dict[str, str]] = field(default_factory=dict)  # extras' pins
    lesson_extras: dict[str, list[str]] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.repository.removeprefix("https://github.com/")

    def badge_url(self, lesson: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.ref}/notebooks/{lesson}.ipynb"

    def install_cell(self, lesson: str) -> str:
        """The exact source of ``lesson``'s first code cell."""
        extras = self.lesson_extras.get(lesson, [])
        spec = "minivelo" + (f"[{','.join(extras)}]" if extras else "")
        pins = {**self.pins, **self.lesson_pins.get(lesson, {})}
        # pins in quoted chunks of at most 76 characters, so the cell keeps to the
        # project's line length and ruff format leaves it as it is
        chunks, line = [], ""
        for name, version in pins.items():
            item = f"{name}=={version}"
            if line and len(line) + 1 + len(item) > 76:
                chunks.append(line)
                line = ""
            line = f"{line} {item}" if line else item
        chunks.append(line)
        pin_lines = "".join(
            f'        "{" " if i else ""}{chunk}"\n' for i, chunk in enumerate(chunks)
        )
        return (
            "import sys\n"
            "\n"
            f"if {COLAB_GUARD}:  # on Colab only; elsewhere this cell does nothing\n"
            "    # minivelo at the release these outputs belong to, with the versions that made\n"
            "    # them (.ci/constraints.txt); Colab's own ipywidgets and Jupyter are kept\n"
            f'    MINIVELO = "{spec} @ git+{self.repository}@{self.ref}"\n'
            f"    PINS = (\n{pin_lines}    )\n"
            '    %pip install -q "{MINIVELO}" {PINS}'
        )


def read_pins(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a constraints file."""
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if not match:
            raise ReleaseError(f"{path}:{number}: not a 'name==version' pin: {line!r}")
        pins[_canonical(match[1])] = match[2]
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.match(r"[A-Za-z0-9._-]+", requirement.strip())[0])


def load_release(root: Path = ROOT) -> Release:
    """Read ``[tool.minivelo]``, the version and the extras from pyproject, pins from CI."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    table = pyproject.get("tool", {}).get("minivelo")
    if table is None:
        raise ReleaseError(f"{root / 'pyproject.toml'} has no [tool.minivelo] table")
    repository = str(table.get("repository", "")).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ReleaseError(
            f"[tool.minivelo] repository must be https://github.com/OWNER/NAME, got {repository!r}"
        )
    ref = str(table.get("release_ref", ""))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", ref):
        raise ReleaseError(f"[tool.minivelo] release_ref is not a git ref: {ref!r}")
    version = pyproject["project"]["version"]
    if re.fullmatch(r"v\d+(\.\d+)*.*", ref) and ref != f"v{version}":
        raise ReleaseError(
            f"release_ref {ref!r} is a version tag but [project] version is {version!r}: "
            f"bump one to match the other (v{version})"
        )
    constraints = read_pins(root / ".ci" / "constraints.txt")

    def pinned(names, where):
        missing = [n for n in map(_canonical, names) if n not in constraints]
        if missing:
            raise ReleaseError(f"{where}: {missing} not pinned in .ci/constraints.txt")
        return {n: constraints[n] for n in map(_canonical, names)}

    pins = pinned(table.get("colab_pins", []), "[tool.minivelo] colab_pins")
    extras_table = pyproject["project"].get("optional-dependencies", {})
    lesson_extras = {k: list(v) for k, v in table.get("lesson_extras", {}).items()}
    lesson_pins = {}
    for lesson, extras in lesson_extras.items():
        names = []
        for extra in extras:
            if extra not in extras_table:
                raise ReleaseError(f"lesson_extras {lesson}: no extra {extra!r} in [project]")
            names += [_requirement_name(r) for r in extras_table[extra]]
        lesson_pins[lesson] = pinned(names, f"lesson_extras {lesson}")
    return Release(repository, ref, version, pins, lesson_pins, lesson_extras)


# ------------------------------------------------------------------ rewriting


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set_source(cell, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def sync_notebook(path: Path, release: Release) -> tuple[str, list[str]]:
    """The notebook's text with badge and install cell written from ``release``, and what
    changed (empty when it already agrees)."""
    lesson = path.stem
    original = path.read_text()
    notebook = json.loads(original)
    changes: list[str] = []
    badges = installs = 0
    for index, cell in enumerate(notebook["cells"]):
        text = _source(cell)
        if cell["cell_type"] == "markdown" and BADGE_LINK.search(text):
            new = BADGE_LINK.sub(lambda m: release.badge_url(m["lesson"]), text)
            for match in BADGE_LINK.finditer(text):
                if match["lesson"] != lesson:
                    raise ReleaseError(f"{path.name} cell {index}: badge opens {match['lesson']}")
            badges += 1
            if new != text:
                changes.append(f"cell {index}: Colab badge")
                _set_source(cell, new)
        elif cell["cell_type"] == "code" and COLAB_GUARD in text and "pip install" in text:
            installs += 1
            new = release.install_cell(lesson)
            if new != text:
                changes.append(f"cell {index}: install cell")
                _set_source(cell, new)
    if badges != 1 or installs != 1:
        raise ReleaseError(
            f"{path}: expected one Colab badge and one install cell, found {badges} and {installs}"
        )
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", changes


def sync_readme(path: Path, release: Release) -> tuple[str, list[str]]:
    text = path.read_text()
    new = BADGE_LINK.sub(lambda m: release.badge_url(m["lesson"]), text)
    changed = sum(a != b for a, b in zip(text.splitlines(), new.splitlines(), strict=True))
    return new, ([f"{changed} badge line(s)"] if changed else [])


def sync(root: Path = ROOT, *, check: bool = False) -> dict[str, list[str]]:
    """Rewrite (or, with ``check``, only compare) every lesson and the README under ``root``.

    Returns ``{file: [what differs]}`` for the files that disagreed.
    """
    release = load_release(root)
    lessons = sorted((root / "notebooks").glob("*.ipynb"))
    if not lessons:
        raise ReleaseError(f"no lessons in {root / 'notebooks'}")
    stale = {}
    targets = [(p, sync_notebook) for p in lessons] + [(root / "README.md", sync_readme)]
    for path, function in targets:
        text, changes = function(path, release)
        if changes:
            stale[str(path.relative_to(root))] = changes
            if not check:
                path.write_text(text)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        stale = sync(args.root.resolve(), check=args.check)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    release = load_release(args.root.resolve())
    for name, changes in stale.items():
        print(f"{name}: {'; '.join(changes)}" + (" disagree" if args.check else " rewritten"))
    where = f"{release.repository}@{release.ref}"
    if args.check:
        print(f"{len(stale)} file(s) disagree with {where}" if stale else f"all agree with {where}")
        return 1 if stale else 0
    print(f"{len(stale)} file(s) rewritten for {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The docstring examples run: every module listed here, and every module of the package
whose docstrings hold a ``>>>`` example, passes ``doctest`` (fast: tiny examples only)."""

import doctest
import importlib
import pathlib

import pytest

import minivelo

PACKAGE = pathlib.Path(minivelo.__file__).resolve().parent
# Modules that must keep runnable examples (the learned-optimizer contract and its users).
REQUIRED = ["minivelo.lopt.base", "minivelo.lopt.mlp_lopt", "minivelo.meta.runs"]


def modules_with_examples() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text():
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_the_required_modules_have_examples():
    assert set(REQUIRED) <= set(modules_with_examples())


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.attempted > 0, f"{name} has '>>>' but doctest found no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"

"""The lessons' output comparison (``notebooks/conftest.py``): numbers within tolerance."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("nbval")
spec = importlib.util.spec_from_file_location(
    "lesson_conftest", Path(__file__).resolve().parents[1] / "notebooks" / "conftest.py"
)
comparison = importlib.util.module_from_spec(spec)
spec.loader.exec_module(comparison)
Text = comparison.ApproxText


@pytest.mark.parametrize(
    "committed, new",
    [
        ("final loss 0.446\n", "final loss 0.447\n"),  # last digit, another summation order
        ("loss 2.170 after 300 steps", "loss 2.201 after 300 steps"),  # within 3 %
        ("v8 at 1.0e-06", "v8 at 1.1e-06"),  # one unit of the last digit, with an exponent
        ("<td>12</td><td>inf</td>", "<td>12</td><td>inf</td>"),  # HTML tables, non-finite
    ],
)
def test_close_outputs_compare_equal(committed, new):
    assert Text(committed) == Text(new) and not (Text(committed) != Text(new))


@pytest.mark.parametrize(
    "committed, new",
    [
        ("SGD at 31.6: 2.17", "SGD at 31.6: 1.96"),  # 10 % off
        ("tanh 1.7%", "tanh 1.9%"),  # two units of the last digit, 12 % off
        ("loss 3.0", "loss inf"),  # diverged
        ("loss nan", "loss 0.1"),
        ("Adam wins", "VeLO wins"),  # the words changed
        ("losses 0.1 0.2", "losses 0.1"),  # a number went missing
        ("step 41 of 300", "step 41 of 3000"),
    ],
)
def test_different_outputs_compare_unequal(committed, new):
    assert Text(committed) != Text(new) and not (Text(committed) == Text(new))


def test_words_containing_digits_are_not_numbers():
    assert comparison.NUMBER.findall("v8 x1 1e-3 -2.5 .5") == ["1e-3", "-2.5", ".5"]
    assert comparison.last_digit_unit("2.17") == pytest.approx(0.01)
    assert comparison.last_digit_unit("1.2e-06") == pytest.approx(1e-7)

"""minivelo.plots.printing: the lessons' short-number printer."""

from __future__ import annotations

import numpy as np
import pytest

from minivelo.plots.printing import print_values


def test_print_values_rounds_and_aligns(capsys):
    print_values("gradient", np.array([[-4.0, 25.000001]]), width=10)
    print_values("one number", 0.000123456, digits=2, width=10)
    assert capsys.readouterr().out.splitlines() == [
        "  gradient: -4  25",
        "one number: 0.00012",
    ]


@pytest.mark.parametrize("digits", [0, -1, 2.5, True])
def test_print_values_rejects_bad_digits(digits):
    with pytest.raises(ValueError, match="digits must be a positive integer"):
        print_values("x", 1.0, digits=digits)

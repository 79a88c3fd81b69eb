"""nbval compares a lesson's numbers within a tolerance, not digit for digit.

A lesson's committed outputs were made on one processor. Another processor (or another
XLA build) may sum in another order, and after hundreds of optimizer steps the last
printed digit moves: 0.446 becomes 0.447. Digit-for-digit comparison then fails a lesson
whose every statement still holds. Here, in each compared text output, every number is
checked against the committed one within

    |new - committed| <= max(RTOL * (the larger magnitude), UNITS * (one unit of the last
                             printed digit, of the coarser of the two))

and everything between the numbers must match exactly, as must non-finite values
(``inf``, ``nan``) and the count of numbers. A change in what a cell says, or a number off
by more than that, still fails. Cells whose outputs are chaotic by construction (a run on
the edge of divergence, a fractal's pixel counts) carry the ``nbval-ignore-output`` tag:
they must still run without error.

``.ci/lessons_from_wheel`` copies this file next to each lesson it runs, so CI compares
the same way.
"""

from __future__ import annotations

import math
import re

from nbval import plugin

RTOL = 0.03
UNITS = 1.5

#: A printed number: optional sign, digits with an optional fraction, optional exponent.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\b(?:inf|nan)\b")


def last_digit_unit(text: str) -> float:
    """One unit of the last printed digit of ``text``: 0.01 for "2.17", 1e-7 for "1.2e-06"."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_close(x: str, y: str) -> bool:
    """Whether two printed numbers agree within tolerance (the coarser side's digits count)."""
    if x == y:
        return True
    a, b = float(x), float(y)
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    unit = max(last_digit_unit(x), last_digit_unit(y))
    return abs(a - b) <= max(RTOL * max(abs(a), abs(b)), UNITS * unit)


class ApproxText(str):
    """A sanitized output whose ``==`` compares its numbers within tolerance."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        if str.__eq__(self, other):
            return True
        if NUMBER.split(self) != NUMBER.split(other):
            return False
        return all(map(numbers_close, NUMBER.findall(self), NUMBER.findall(other)))

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal


_sanitize = plugin.IPyNbCell.sanitize


def sanitize_approx(self, s):
    """nbval's sanitize, returning text that compares its numbers within tolerance."""
    s = _sanitize(self, s)
    return ApproxText(s) if isinstance(s, str) else s


plugin.IPyNbCell.sanitize = sanitize_approx

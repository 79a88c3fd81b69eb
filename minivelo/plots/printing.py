"""Printing numbers in lessons so that nbval's output comparison is robust."""

from __future__ import annotations


def print_values(label: str, values, *, digits: int = 4, width: int = 24) -> None:
    """Print ``label: v1  v2 ...`` with every value to ``digits`` significant digits.

    A lesson's printed numbers are compared by nbval; a few significant digits keep the
    last-bit float differences between machines and library versions out of the text.
    ``values`` is a number or any array-like (flattened).
    """
    import numpy as np

    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    flat = np.ravel(np.asarray(values))
    print(f"{label:>{width}}: " + "  ".join(f"{v:.{digits}g}" for v in flat))

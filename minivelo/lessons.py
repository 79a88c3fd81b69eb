"""The lessons' one size knob: the environment variable ``MINIVELO_LESSON_SCALE``.

A lesson sizes its costly loops (training steps, seeds, sweep points, meta-training
iterations) with :func:`scaled`, so one number shrinks or grows every lesson::

    from minivelo.lessons import scaled

    NUM_STEPS = scaled(2000)  # 2000 at the default scale 1, 500 at 0.25

``MINIVELO_LESSON_SCALE`` is a positive float, 1 when unset. The committed outputs are
made at 1, and nbval's output comparison holds only there: at another scale the numbers
change (run ``pytest --nbval-lax`` to execute without comparing, e.g. a quick smoke run at
0.1, or a longer, smoother run at 4 on a faster machine). CI runs at 1.
"""

from __future__ import annotations

import math
import os

ENV_VAR = "MINIVELO_LESSON_SCALE"


def lesson_scale() -> float:
    """The value of ``MINIVELO_LESSON_SCALE`` (1.0 when unset or empty)."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a positive number, got {text!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"{ENV_VAR} must be a positive, finite number, got {text!r}")
    return scale


def scaled(n: int, *, minimum: int = 1) -> int:
    """``max(minimum, round(n * scale))``: a loop size ``n`` at the lesson scale.

    At scale 1 it is ``n`` exactly, so the committed outputs do not depend on the knob.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"scaled takes a non-negative integer size, got {n!r}")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
        raise ValueError(f"minimum must be a non-negative integer, got {minimum!r}")
    scale = lesson_scale()
    if scale == 1.0:
        return max(minimum, n)
    return max(minimum, round(n * scale))

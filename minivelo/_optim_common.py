r"""Helpers shared by the hand-written optimizers (:mod:`minivelo.optim`,
:mod:`minivelo.second_order`): learning rates, step counters, and one check of
hyperparameters.

Both modules import from here and nothing here imports them, so the imports run one way:
``optim -> second_order -> _optim_common`` (``optim`` re-exports ``adahessian``).

Hyperparameter checks (:func:`check_hyperparameters`) refuse values that no one can mean,
with a ``ValueError`` that names the optimizer, the argument and the allowed range. Where
optax accepts such a value silently, the optimizer's docstring says so. A value that is
traced by JAX (e.g. a weight decay under ``jax.vmap``) cannot be inspected and is taken
as given.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ScalarOrSchedule = float | Callable[[jax.Array], jax.Array]


# ---------------------------------------------------------------------------------------
# Learning rates, counters, zeros
# ---------------------------------------------------------------------------------------


def no_decay(weight_decay) -> bool:
    """True only for a Python zero: a traced (e.g. vmapped) decay is always applied."""
    return isinstance(weight_decay, (int, float)) and weight_decay == 0


def learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
    """The step size :math:`\\eta_t` at step ``count`` (0 on the first update)."""
    return learning_rate(count) if callable(learning_rate) else jnp.asarray(learning_rate)


def zeros_like(params):
    """A pytree of zeros shaped like ``params``."""
    return jax.tree.map(jnp.zeros_like, params)


def increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating instead of overflowing int32 after 2^31 - 1 steps (as optax)."""
    return jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)


def nan_unless_finite(update: jax.Array, accumulator: jax.Array) -> jax.Array:
    """``update`` where ``accumulator`` is finite, NaN where it is not.

    A running sum or mean of squares that has become infinite would otherwise divide every
    later gradient down to an update of exactly 0: the coordinate would freeze silently.
    """
    return jnp.where(jnp.isfinite(accumulator), update, jnp.nan)


# ---------------------------------------------------------------------------------------
# One check for every hyperparameter
# ---------------------------------------------------------------------------------------


class Interval(NamedTuple):
    """Allowed values ``low <= x`` (or ``<``) and ``x < high`` (or ``<=``), said as ``text``."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool
    text: str

    def __contains__(self, x: float) -> bool:
        above = x >= self.low if self.low_closed else x > self.low
        below = x <= self.high if self.high_closed else x < self.high
        return above and below


DECAY = Interval(0.0, 1.0, True, False, "in [0, 1)")  # EMA coefficients b1, b2, rho, ...
UNIT = Interval(0.0, 1.0, True, True, "in [0, 1]")
NON_NEGATIVE = Interval(0.0, math.inf, True, False, "a finite number >= 0")
FINITE = Interval(-math.inf, math.inf, False, False, "a finite number")


def check_hyperparameters(optimizer: str, **rules: tuple[object, Interval]) -> None:
    """Raise a ``ValueError`` for the first ``name=(value, interval)`` whose value is outside.

    ``value`` must be a real number (not a bool) inside ``interval``; NaN and inf are
    outside every interval. A JAX tracer passes unchecked (see the module docstring), and
    so does a 0-d array only once it is concrete.

    Example::

        check_hyperparameters("adam", b1=(b1, DECAY), eps=(eps, NON_NEGATIVE))
    """
    for name, (value, interval) in rules.items():
        if isinstance(value, jax.core.Tracer):
            continue
        number = _as_real(value)
        if number is None:
            raise ValueError(f"{optimizer}: {name} must be a number, got {value!r}")
        if not (math.isfinite(number) and number in interval):
            raise ValueError(f"{optimizer}: {name} must be {interval.text}, got {value!r}")


def check_learning_rate(optimizer: str, learning_rate) -> None:
    """A learning rate is a schedule (any callable) or a finite number.

    A negative number is allowed, as in optax: it steps uphill (gradient ascent).
    """
    if callable(learning_rate):
        return
    check_hyperparameters(optimizer, learning_rate=(learning_rate, FINITE))


def _as_real(value) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        if jnp.issubdtype(value.dtype, jnp.floating) or jnp.issubdtype(value.dtype, jnp.integer):
            return float(value)
    return None

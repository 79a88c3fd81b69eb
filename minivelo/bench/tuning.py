r"""Tuning a learning rate, and measuring how many steps a baseline needs to catch up.

Definitions used throughout the benchmark:

- **Final loss** of a run of :math:`T` steps: the mean minibatch training loss over its last
  :math:`w = \max(1, \lceil f T \rceil)` steps, :math:`f` = ``FINAL_FRACTION`` = 5%.
  Averaging smooths minibatch noise. A run that produced NaN or inf has final loss inf.
- **Tuned baseline** (VeLO's protocol): the learning rate on a log grid whose final
  training loss (mean over seeds) is lowest.
- **Steps to match**: the first step :math:`t` at which the baseline's loss curve, smoothed
  by the same trailing mean of :math:`w` steps, is at or below a target final loss.
- **Speedup** of an optimizer over the tuned baseline: (steps the baseline needs to match the
  optimizer's final loss) / (steps the optimizer took). Above 1 the optimizer is faster.
  If the baseline never gets there, the speedup is a lower bound (``reached = False``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import optax

from minivelo.bench import training
from minivelo.tasks.base import Task

FINAL_FRACTION = 0.05


def log_grid(low: float = 1e-4, high: float = 1.0, per_decade: int = 2) -> np.ndarray:
    """Log-spaced learning rates from ``low`` to ``high``, ``per_decade`` per factor of 10."""
    if not (0 < low < high) or per_decade < 1:
        raise ValueError(
            f"need 0 < low < high and per_decade >= 1, got {low}, {high}, {per_decade}"
        )
    num = int(round(math.log10(high / low) * per_decade)) + 1
    return np.logspace(math.log10(low), math.log10(high), num)


DEFAULT_GRID = log_grid(1e-4, 1.0, per_decade=2)  # 1e-4, 3.2e-4, ..., 1: nine rates


def window(num_steps: int, fraction: float = FINAL_FRACTION) -> int:
    return max(1, math.ceil(fraction * num_steps))


def final_loss(losses, fraction: float = FINAL_FRACTION) -> np.ndarray:
    """Mean of the last ``fraction`` of steps along the last axis; non-finite runs -> inf."""
    losses = np.asarray(losses, dtype=np.float64)
    w = window(losses.shape[-1], fraction)
    tail = losses[..., -w:]
    value = tail.mean(-1)
    return np.where(np.all(np.isfinite(tail), axis=-1), value, np.inf)


def smoothed(curve, fraction: float = FINAL_FRACTION) -> np.ndarray:
    """Trailing mean over ``w`` steps (shorter at the start); its last entry is the final loss."""
    curve = np.asarray(curve, dtype=np.float64)
    w = window(curve.shape[-1], fraction)
    cumsum = np.cumsum(np.concatenate([[0.0], curve]))
    t = np.arange(1, len(curve) + 1)
    start = np.maximum(0, t - w)
    with np.errstate(invalid="ignore", over="ignore"):  # a diverged curve gives nan/inf
        return (cumsum[t] - cumsum[start]) / (t - start)


def steps_to_reach(curve, target: float, fraction: float = FINAL_FRACTION) -> int | None:
    """First step count at which the smoothed curve is ``<= target``; None if never."""
    s = smoothed(curve, fraction)
    below = np.flatnonzero(np.isfinite(s) & (s <= target))
    return int(below[0]) + 1 if below.size else None


class Speedup(NamedTuple):
    steps_baseline_needs: int | None  # None: the baseline never matched
    speedup: float  # a lower bound when not reached
    reached: bool


def speedup_over(baseline_curve, target_final_loss: float, num_steps: int) -> Speedup:
    """How much faster an optimizer that reached ``target_final_loss`` in ``num_steps`` was."""
    if not np.isfinite(target_final_loss):
        return Speedup(None, 0.0, True)  # the optimizer diverged: no speedup
    needed = steps_to_reach(baseline_curve, target_final_loss)
    if needed is None:
        return Speedup(None, len(baseline_curve) / num_steps, False)
    return Speedup(needed, needed / num_steps, True)


class TuneResult(NamedTuple):
    learning_rates: np.ndarray  # [L]
    losses: np.ndarray  # [L, S, T]
    final_losses: np.ndarray  # [L], mean over seeds of each seed's final loss
    best_index: int
    compile_s: float
    run_s: float

    @property
    def best_learning_rate(self) -> float:
        return float(self.learning_rates[self.best_index])

    @property
    def best_curve(self) -> np.ndarray:
        """``[T]``: the tuned learning rate's loss curve, mean over seeds."""
        return self.losses[self.best_index].mean(0)

    @property
    def at_edge(self) -> bool:
        """True if the best rate is the grid's first or last: widen the grid."""
        return self.best_index in (0, len(self.learning_rates) - 1)


def tune_learning_rate(
    task: Task,
    make_optimizer: Callable[..., optax.GradientTransformation],
    num_steps: int,
    learning_rates: Sequence[float] = DEFAULT_GRID,
    seeds: Sequence[int] = (0,),
) -> TuneResult:
    """Run the whole grid (x seeds) as one vmapped program; pick the lowest final loss."""
    result = training.sweep(task, make_optimizer, learning_rates, num_steps, seeds)
    finals = final_loss(result.losses).mean(1)  # [L]; inf if any seed diverged
    if not np.any(np.isfinite(finals)):
        raise RuntimeError(f"every learning rate diverged on {task.name}; lower the grid")
    return TuneResult(
        np.asarray(learning_rates, dtype=np.float64),
        result.losses,
        finals,
        int(np.argmin(finals)),
        result.compile_s,
        result.run_s,
    )

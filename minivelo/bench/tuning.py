r"""Tuning a learning rate, and measuring how many steps one optimizer saves over another.

Definitions used throughout the benchmark, the reports and the lessons:

- **Smoothed curve**: the trailing mean of the minibatch training loss over
  :math:`w = \max(1, \lceil f T \rceil)` steps for a run of :math:`T` steps, with
  :math:`f` = ``FINAL_FRACTION`` = 5% (shorter at the start). Averaging smooths minibatch
  noise.
- **Final loss** of a run: the mean loss over its last :math:`w` steps, i.e. the last point
  of the smoothed curve. A run that produced NaN or inf has final loss inf.
- **Diverged**: a run whose final loss is not finite, or is more than
  ``DIVERGENCE_FACTOR`` = 10 times its first loss (when that is positive): it ended an
  order of magnitude worse than it started, even if every loss was a finite number.
- **Tuned baseline** (VeLO's protocol): the learning rate on a log grid whose final
  training loss (mean over seeds) is lowest.
- **Steps to reach** a loss :math:`L`: the first step :math:`t` at which the smoothed
  curve is :math:`\le L`.
- **Speedup** of an optimizer :math:`X` over a reference :math:`R` (:func:`speedup`, the
  one definition every report and lesson uses): with :math:`L_R` the reference's final
  loss and :math:`t_R \le T` the steps the reference needs to reach it,

  .. math::
      \text{speedup} = \begin{cases}
        t_R / t_X & \text{if } X \text{ reaches } L_R \text{ at step } t_X, \\
        n / T & \text{otherwise, with } n \text{ the steps } R
                \text{ needs to reach } X\text{'s final loss,}
      \end{cases}

  and 0 if :math:`X` diverged. Above 1, :math:`X` is faster ("it gets to the reference's
  result :math:`t_R/t_X` times sooner"); below 1 the reference gets to :math:`X`'s result
  :math:`T/n` times sooner. Both branches meet at :math:`t_R / T`, so the measure is
  continuous in :math:`X`'s final loss and neither branch is a bound. VeLO's Figure 1 counts
  the same ratio of steps.

References:
  L. Metz, J. Harrison, C. D. Freeman, A. Merchant, L. Beyer, J. Bradbury, N. Agrawal,
  B. Poole, I. Mordatch, A. Roberts, J. Sohl-Dickstein. "VeLO: Training Versatile Learned
  Optimizers by Scaling Up", 2022. https://arxiv.org/abs/2211.09760 (Figure 1:
  speedup over learning-rate-tuned Adam, in steps, on the VeLOdrome tasks).
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
DIVERGENCE_FACTOR = 10.0  # final loss above this many times the first: diverged


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
    """The speedup of an optimizer over a reference, and the step counts behind it."""

    speedup: float  # 0 if the optimizer diverged; inf if only the reference did
    reference_steps: int | None  # t_R: the reference's steps to its own final loss
    steps_to_reference: int | None  # t_X: the optimizer's steps to that loss; None: never
    reference_steps_to_match: int | None  # n: the reference's steps to the optimizer's final
    diverged: bool

    @property
    def reached(self) -> bool:
        """Whether the optimizer reached the reference's final loss within the run."""
        return self.steps_to_reference is not None

    def text(self) -> str:
        """``"2.31x"`` (two decimals; two significant digits below 0.1), or ``"diverged"``."""
        if self.diverged:
            return "diverged"
        if not math.isfinite(self.speedup):
            return "inf (reference diverged)"
        return f"{self.speedup:.2f}x" if self.speedup >= 0.1 else f"{self.speedup:.2g}x"


def speedup(curve, reference_curve, fraction: float = FINAL_FRACTION) -> Speedup:
    r"""The speedup of the run ``curve`` over the run ``reference_curve`` (module docstring).

    Args:
      curve: ``[T]`` the optimizer's loss per step (the mean over seeds, for several seeds).
      reference_curve: ``[T]`` the reference's (e.g. tuned Adam's), over the same steps.
      fraction: the smoothing window as a fraction of ``T`` (``FINAL_FRACTION``).

    Both final losses are the last points of the smoothed curves, so the reference always
    reaches its own final loss, at a step :math:`t_R \le T`.

    A run *diverged* (``Speedup.diverged``; speedup 0, or inf if only the reference did)
    when its final loss is not finite or exceeds ``DIVERGENCE_FACTOR`` times its first
    loss (a positive one): a loss that blew up to 1e15 without overflowing counts, too.
    """
    curve = np.asarray(curve, dtype=np.float64)
    reference_curve = np.asarray(reference_curve, dtype=np.float64)
    if curve.ndim != 1 or curve.shape != reference_curve.shape or curve.size == 0:
        raise ValueError(
            f"speedup needs two non-empty curves [T] of one length, got shapes "
            f"{curve.shape} and {reference_curve.shape}"
        )
    num_steps = curve.size
    final, reference_final = final_loss(curve, fraction), final_loss(reference_curve, fraction)

    def diverged(run, run_final):
        first = run[0]
        blew_up = np.isfinite(first) and first > 0 and run_final > DIVERGENCE_FACTOR * first
        return not np.isfinite(run_final) or bool(blew_up)

    if diverged(curve, final):
        return Speedup(0.0, None, None, None, diverged=True)
    if diverged(reference_curve, reference_final):
        return Speedup(math.inf, None, None, None, diverged=False)
    # the smoothed curves' last points: the final losses as the smoothing computes them
    target = smoothed(reference_curve, fraction)[-1]
    reference_steps = steps_to_reach(reference_curve, target, fraction)
    steps = steps_to_reach(curve, target, fraction)
    matched = steps_to_reach(reference_curve, smoothed(curve, fraction)[-1], fraction)
    if steps is not None:
        value = reference_steps / steps
    else:
        value = (num_steps if matched is None else matched) / num_steps
    return Speedup(float(value), reference_steps, steps, matched, diverged=False)


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

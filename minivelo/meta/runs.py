r"""Whole training runs of a learned optimizer, and the validation score of their losses.

What meta-training (:mod:`.train`) validates with and evaluation (:mod:`.evaluate`) builds
on; it sits below both, so train does not import evaluate to validate.

The validation score of a run with training losses :math:`l_0, \dots, l_{T-1}`:

.. math::
    s = \max\big(\log \bar l_{\text{end}} - \log l_0,\ \log 10^{-12}\big)

where :math:`\bar l_{\text{end}}` is the final loss (mean of the last 5% of steps,
:func:`minivelo.bench.final_loss`); a final loss of exactly 0 scores the floor, a
diverged run (NaN or infinite) scores 10. Lower is better; runs are averaged.

>>> import numpy as np
>>> round(validation_score(np.array([[1.0, 0.5, 0.1]])), 6)  # fell tenfold: log 0.1
-2.302585
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from minivelo import bench
from minivelo.lopt.base import LearnedOptimizer
from minivelo.meta import unroll
from minivelo.tasks.base import Task

DIVERGED_SCORE = 10.0


def lopt_runner(task: Task, lopt: LearnedOptimizer, num_steps: int):
    """A jitted ``(theta, keys [S]) -> losses [S, T]``: theta is an argument (no recompiles)."""

    def run(theta, keys):
        opt = lopt.as_optax(theta)
        return jax.vmap(lambda k: bench.training_run(task, opt, num_steps, k).losses)(keys)

    return jax.jit(run)


def seeds_keys(seeds) -> jax.Array:
    """``[PRNGKey(s) for s in seeds]``, stacked."""
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(list(seeds)))


def validation_score(losses: np.ndarray) -> float:
    """Mean over runs of ``log(final loss) - log(first loss)`` (lower is better).

    Floored at ``log(1e-12)``, which a final loss of exactly 0 (a perfect fit) scores; a
    run that diverged (NaN or infinite final loss) scores 10.
    """
    losses = np.asarray(losses, np.float64)
    final = bench.final_loss(losses)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.log(np.where(final == 0, 1.0, final)) - np.log(losses[..., 0])
    score = np.where(final == 0, unroll.LOG_RATIO_FLOOR, score)
    score = np.where(np.isfinite(score), np.maximum(score, unroll.LOG_RATIO_FLOOR), DIVERGED_SCORE)
    return float(np.mean(score))

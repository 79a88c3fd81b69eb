"""What a training task is: the contract every optimizer, benchmark and meta-trainer uses.

A task is pure functions over pytrees, so that a whole training run can be jitted, and a
population of runs (seeds, learning rates, sampled tasks of one shape) can be vmapped:

- ``init(key) -> params``: fresh parameters.
- ``sample_batch(key) -> batch``: one minibatch (a full-batch task ignores the key).
- ``loss(params, batch) -> scalar``: the training loss on a batch.
- optional ``eval_batch`` (held-out data) and ``accuracy(params, batch)``.

``TaskFamily.sample(key) -> Task`` draws a task: an architecture and its settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Task:
    """One training problem: parameters, data and a loss, all pure functions."""

    name: str
    init: Callable[[jax.Array], PyTree]
    loss: Callable[[PyTree, PyTree], jax.Array]
    sample_batch: Callable[[jax.Array], PyTree]
    # Free-form description of the sampled settings (depth, width, batch size, ...).
    config: dict = dataclasses.field(default_factory=dict)
    # Optional: a fixed held-out batch (test split) and, for classifiers, an accuracy
    # ``accuracy(params, batch) -> scalar``. Optimizers and meta-trainers never need them.
    eval_batch: PyTree | None = None
    accuracy: Callable[[PyTree, PyTree], jax.Array] | None = None

    @property
    def num_params(self) -> int:
        """Number of scalar parameters (counted from shapes, no computation)."""
        shapes = jax.eval_shape(self.init, jax.random.PRNGKey(0))
        return int(sum(np.prod(s.shape, dtype=int) for s in jax.tree.leaves(shapes)))

    def __repr__(self) -> str:
        return f"Task({self.name!r}, {self.num_params:,} params)"


@dataclasses.dataclass(frozen=True)
class TaskFamily:
    """A distribution over tasks: ``sample(key)`` draws one (architecture and settings)."""

    name: str
    sample: Callable[[jax.Array], Task]

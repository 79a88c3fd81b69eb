"""Training runs as single jitted programs: one run, a set of seeds, a learning-rate sweep.

One training run is a ``lax.scan`` over steps; a set of seeds or a grid of learning rates
is that scan under ``jax.vmap``, compiled once and run as one program (not a Python loop of
separate trainings). Step ``t`` of seed ``s`` always sees the same minibatch, whatever the
optimizer, so comparisons between optimizers use common random numbers.

The optimizer is any ``optax.GradientTransformation``. If it is an
``optax.GradientTransformationExtraArgs`` (optax's type for transforms whose ``update``
takes extra keyword arguments, e.g. VeLO, which reads the loss), ``update`` also gets
``loss=`` the minibatch loss; optax's own chains ignore extra arguments they do not use.
A transform marked by :func:`minivelo.bench.optimizers.needs_hessian_diagonal` (AdaHessian)
also gets ``hessian_diagonal=``, Hutchinson's one-probe estimate on the same minibatch, with
probes drawn from a third key stream (``fold_in(probe_key, t)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.bench.optimizers import needs_hessian_diagonal
from minivelo.second_order import grad_and_hutchinson_diagonal
from minivelo.tasks.base import Task

PyTree = Any


class TrainResult(NamedTuple):
    losses: jax.Array  # [num_steps]: minibatch loss at each step, before its update
    params: PyTree  # parameters after the last update


def check_num_steps(num_steps) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(f"num_steps must be an integer, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return int(num_steps)


def check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"expected an optax.GradientTransformation, got {type(optimizer).__name__}; "
            "call the factory first, e.g. minivelo.optim.adam(1e-3)"
        )


def takes_loss(optimizer: optax.GradientTransformation) -> bool:
    """Whether ``optimizer.update`` gets ``loss=`` (it is a GradientTransformationExtraArgs)."""
    return isinstance(optimizer, optax.GradientTransformationExtraArgs)


def training_run(
    task: Task, optimizer: optax.GradientTransformation, num_steps: int, key: jax.Array
) -> TrainResult:
    """One training run, traceable: jit it, vmap it, differentiate through it.

    ``key`` splits into the initialisation key and the data key; step ``t`` draws its
    minibatch with ``fold_in(data_key, t)``.
    """
    init_key, data_key = jax.random.split(key)
    probe_key = jax.random.fold_in(key, 2)  # only read by Hessian-diagonal transforms
    params = task.init(init_key)
    opt_state = optimizer.init(params)
    extra = takes_loss(optimizer)
    hessian = needs_hessian_diagonal(optimizer)

    def step(carry, t):
        params, opt_state = carry
        batch = task.sample_batch(jax.random.fold_in(data_key, t))
        kwargs = {}
        if hessian:
            loss = task.loss(params, batch)
            grads, kwargs["hessian_diagonal"] = grad_and_hutchinson_diagonal(
                lambda p: task.loss(p, batch), params, jax.random.fold_in(probe_key, t)
            )
        else:
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
        if extra:
            kwargs["loss"] = loss
        updates, opt_state = optimizer.update(grads, opt_state, params, **kwargs)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(num_steps))
    return TrainResult(losses, params)


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    seeds = np.asarray(list(seeds))
    if seeds.ndim != 1 or seeds.size == 0 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds.tolist()!r}")
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))


def timed(fn: Callable, *args):
    """Compile ``jax.jit(fn)`` for ``args``, then run it once: ``(output, compile_s, run_s)``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, compile_s, time.perf_counter() - start


def train(
    task: Task, optimizer: optax.GradientTransformation, num_steps: int, seed: int = 0
) -> TrainResult:
    """Train once with a fixed seed, as one jitted ``lax.scan``."""
    check_optimizer(optimizer)
    num_steps = check_num_steps(num_steps)
    run = lambda key: training_run(task, optimizer, num_steps, key)
    return jax.jit(run)(jax.random.PRNGKey(seed))


class RunsResult(NamedTuple):
    losses: np.ndarray  # [..., num_steps]
    compile_s: float
    run_s: float


def train_seeds(
    task: Task,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    seeds: Sequence[int] = (0,),
) -> RunsResult:
    """One run per seed, vmapped into a single program. ``losses`` is ``[S, T]``."""
    check_optimizer(optimizer)
    num_steps = check_num_steps(num_steps)
    run = jax.vmap(lambda key: training_run(task, optimizer, num_steps, key).losses)
    losses, compile_s, run_s = timed(run, seed_keys(seeds))
    return RunsResult(np.asarray(losses), compile_s, run_s)


def sweep(
    task: Task,
    make_optimizer: Callable[[jax.Array], optax.GradientTransformation],
    learning_rates: Sequence[float],
    num_steps: int,
    seeds: Sequence[int] = (0,),
) -> RunsResult:
    """Every (learning rate, seed) pair as one jitted, vmapped program.

    ``make_optimizer(lr)`` is called inside the traced function with a traced ``lr``, so
    it must use the learning rate arithmetically (all optax and minivelo optimizers do).
    ``losses`` is ``[L, S, T]``.
    """
    num_steps = check_num_steps(num_steps)
    rates = np.asarray(list(learning_rates), dtype=np.float32)
    if rates.ndim != 1 or rates.size == 0 or not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        raise ValueError(f"learning_rates must be positive numbers, got {list(learning_rates)}")
    check_optimizer(make_optimizer(1e-3))  # fail early and clearly on a wrong factory

    def one(lr, key):
        return training_run(task, make_optimizer(lr), num_steps, key).losses

    run = jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, None))
    losses, compile_s, run_s = timed(run, jnp.asarray(rates), seed_keys(seeds))
    return RunsResult(np.asarray(losses), compile_s, run_s)

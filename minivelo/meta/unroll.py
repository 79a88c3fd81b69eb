r"""Inner training as truncated unrolls, and the meta-objective of one segment.

Meta-training never runs a whole inner training at once. Each member of the population
holds a persistent :class:`InnerState` (parameters, optimizer state, step counter) and
advances it by one *segment* of ``K`` inner steps per outer step; after ``N / K`` segments
its episode ends and it restarts from fresh parameters. Members start staggered (the first
episode of member ``i`` is cut short), so at any outer step the population covers every
phase of training, from fresh initialisation to the end of the horizon.

The meta-objective of a segment, for a member whose episode started at loss :math:`l_0`:

.. math::
    L(\theta) = \frac{1}{K} \sum_{t=1}^{K} \min\Big(\log l_t(\theta) - \log l_0,\ c\Big)

the mean log training loss over the segment, normalised per task (so a task whose loss
starts at 2.3 and one whose loss starts at 0.05 weigh alike), and capped at :math:`c`
(a diverging run costs :math:`c`, not infinity; a non-finite loss also counts as :math:`c`),
and floored at :math:`\log 10^{-12}` (a loss that reaches exactly 0, a perfect fit in float32,
is as good as training gets, not a failure: :math:`\log 0 = -\infty` must not count as
non-finite).
``l_t`` is the minibatch loss before step ``t``'s update, so the segment's losses are free.

Step ``t`` of an episode draws its minibatch with ``fold_in(data_key, t)``: two runs of
one member (e.g. the two antithetic copies of ES) see the same batches.

**Whole episodes over a range of horizons** (:func:`episode_meta_loss`, the ``es_sign``
recipe). The horizon :math:`N` is drawn anew every outer step and passed to the learned
optimizer *as data* (VeLO reads the fraction trained :math:`t/N`), and the episode is one
``lax.fori_loop`` whose trip count is that traced :math:`N`: one compiled program per task
serves every horizon. Its objective is the final loss, read as the mean capped log ratio
over the last :math:`T = \max(1, \lceil N/10 \rceil)` steps (the minibatch losses of the
run's end, free to compute):

.. math::
    L(\theta; N) = \frac{1}{T} \sum_{t=N-T}^{N-1}
        \mathrm{clip}\big(\log l_t(\theta) - \log l_0,\ \log 10^{-12},\ c\big)

with the same floor and cap (and non-finite losses counted as :math:`c`) as above.
The config's ``episode_tail`` sets the fraction :math:`T/N` (default 0.1). At 1.0 the
objective is the mean over the whole run: then of two copies that both diverge, and so both
end at the cap, the one that diverged later still scores lower, where the final loss
alone would call them a tie (and sign ES would learn nothing from the pair).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from minivelo.lopt.base import LearnedOptimizer
from minivelo.tasks.base import Task

PyTree = Any


class InnerState(NamedTuple):
    """One member's inner training run (vmapped: every leaf gains a leading axis)."""

    params: PyTree
    opt_state: PyTree
    step: jax.Array  # int32: inner steps done in this episode
    end_step: jax.Array  # int32: the episode ends (and resets) when step reaches it
    episode: jax.Array  # int32: episodes this member has started
    member_key: jax.Array  # PRNG key: episode e uses fold_in(member_key, e)
    log_loss_init: jax.Array  # float32: log of the episode's first loss, the normaliser


def episode_keys(member_key: jax.Array, episode: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(init_key, data_key)`` of one episode."""
    init_key, data_key = jax.random.split(jax.random.fold_in(member_key, episode))
    return init_key, data_key


def batch_at(task: Task, state: InnerState) -> PyTree:
    _, data_key = episode_keys(state.member_key, state.episode)
    return task.sample_batch(jax.random.fold_in(data_key, state.step))


def start_episode(
    task: Task,
    lopt: LearnedOptimizer,
    theta: PyTree,
    member_key: jax.Array,
    episode: jax.Array,
    end_step: jax.Array,
) -> InnerState:
    """Fresh parameters and optimizer state for episode ``episode`` of a member."""
    init_key, _ = episode_keys(member_key, episode)
    params = task.init(init_key)
    state = InnerState(
        params=params,
        opt_state=lopt.init(theta, params),
        step=jnp.zeros((), jnp.int32),
        end_step=jnp.asarray(end_step, jnp.int32),
        episode=jnp.asarray(episode, jnp.int32),
        member_key=member_key,
        log_loss_init=jnp.zeros((), jnp.float32),
    )
    first_loss = task.loss(params, batch_at(task, state))
    return state._replace(log_loss_init=jnp.log(first_loss))


def init_members(
    task: Task,
    lopt: LearnedOptimizer,
    theta: PyTree,
    key: jax.Array,
    num_members: int,
    num_steps: int,
    unroll_length: int,
) -> InnerState:
    """``num_members`` members (leading axis), staggered across the horizon.

    Member ``i``'s first episode ends after ``N - o_i`` steps, with offsets ``o_i`` spread
    evenly over ``[0, N)`` in multiples of ``K``; every later episode has ``N`` steps.
    """
    segments = num_steps // unroll_length
    offsets = (jnp.arange(num_members) * segments // num_members) * unroll_length
    keys = jax.random.split(key, num_members)
    start = lambda k, o: start_episode(task, lopt, theta, k, jnp.int32(0), num_steps - o)
    return jax.vmap(start)(keys, offsets)


LOG_RATIO_FLOOR = -27.631021  # log(1e-12): a loss 1e-12 of its start is fully trained


def capped_log_ratio(losses: jax.Array, log_loss_init: jax.Array, cap: float) -> jax.Array:
    """Elementwise ``clip(log l_t - log l_0, LOG_RATIO_FLOOR, cap)``.

    A loss of exactly 0 scores the floor; NaN or infinity (a diverged run) scores ``cap``.
    """
    zero = losses == 0
    relative = jnp.log(jnp.where(zero, 1.0, losses)) - log_loss_init  # no log(0) gradient
    relative = jnp.where(zero, LOG_RATIO_FLOOR, relative)
    return jnp.where(jnp.isfinite(relative), jnp.clip(relative, LOG_RATIO_FLOOR, cap), cap)


def meta_objective(losses: jax.Array, log_loss_init: jax.Array, cap: float) -> jax.Array:
    """Mean over the segment of :func:`capped_log_ratio`."""
    return jnp.mean(capped_log_ratio(losses, log_loss_init, cap))


TAIL_FRACTION = 0.1  # the episode objective averages the last 10% of the run's losses


def tail_length(num_steps: jax.Array, fraction: float = TAIL_FRACTION) -> jax.Array:
    r""":math:`\max(1, \lceil f N \rceil)` (:math:`f` = ``fraction``, default 1/10): the
    steps the episode objective averages; ``fraction=1`` is the whole run."""
    num_steps = jnp.asarray(num_steps, jnp.int32)
    if fraction == TAIL_FRACTION:  # the integer formula earlier runs used, bit for bit
        return jnp.maximum(1, (num_steps + 9) // 10)
    tail = jnp.ceil(fraction * num_steps.astype(jnp.float32)).astype(jnp.int32)
    return jnp.clip(tail, 1, jnp.maximum(num_steps, 1))


def episode_meta_loss(
    task: Task,
    lopt: LearnedOptimizer,
    theta: PyTree,
    num_steps: jax.Array,
    init_key: jax.Array,
    data_key: jax.Array,
    cap: float,
    tail_fraction: float = TAIL_FRACTION,
) -> jax.Array:
    """A whole inner training of ``num_steps`` steps (may be traced), scored by the mean
    :func:`capped_log_ratio` over its last :func:`tail_length` steps (``tail_fraction`` of
    the run: 0.1 reads the final loss; 1.0 the whole run).

    ``lopt`` must have been built for the same horizon (``learned_optimizers.build(settings,
    num_steps)``). Step ``t`` trains on the batch ``fold_in(data_key, t)``, so two runs
    with the same keys (an antithetic pair) see the same initial weights and batches.
    """
    num_steps = jnp.asarray(num_steps, jnp.int32)
    batch = lambda t: task.sample_batch(jax.random.fold_in(data_key, t))
    params = task.init(init_key)
    opt_state = lopt.init(theta, params)
    log_loss_init = jnp.log(task.loss(params, batch(0)))
    tail = tail_length(num_steps, tail_fraction)
    tail_start = num_steps - tail

    def step(t, carry):
        params, opt_state, total = carry
        loss, grads = jax.value_and_grad(task.loss)(params, batch(t))
        updates, opt_state = lopt.update(theta, grads, opt_state, params, loss)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        score = capped_log_ratio(loss, log_loss_init, cap)
        total = total + jnp.where(t >= tail_start, score, 0.0)
        return params, opt_state, total

    carry = (params, opt_state, jnp.zeros((), jnp.float32))
    _, _, total = jax.lax.fori_loop(0, num_steps, step, carry)
    return total / tail.astype(jnp.float32)


def sample_horizon(key: jax.Array, shortest: int, longest: int) -> jax.Array:
    r"""A horizon :math:`N` log-uniform on ``[shortest, longest]`` (int32, traced):
    :math:`\log N \sim \mathcal U(\log N_{min}, \log N_{max})`, rounded."""
    u = jax.random.uniform(key, (), jnp.float32)
    log_n = jnp.log(float(shortest)) + u * (jnp.log(float(longest)) - jnp.log(float(shortest)))
    return jnp.clip(jnp.round(jnp.exp(log_n)), shortest, longest).astype(jnp.int32)


def segment(
    task: Task, lopt: LearnedOptimizer, theta: PyTree, state: InnerState, length: int
) -> tuple[jax.Array, InnerState]:
    """``length`` inner steps from ``state``: ``(losses [length], state after)``.

    Differentiable in ``theta`` (truncated backprop differentiates exactly this).
    """

    def step(state: InnerState, _):
        loss, grads = jax.value_and_grad(task.loss)(state.params, batch_at(task, state))
        updates, opt_state = lopt.update(theta, grads, state.opt_state, state.params, loss)
        params = jax.tree.map(lambda p, u: p + u, state.params, updates)
        return state._replace(params=params, opt_state=opt_state, step=state.step + 1), loss

    state, losses = jax.lax.scan(step, state, None, length=length)
    return losses, state


def unroll_meta_loss(
    task: Task,
    lopt: LearnedOptimizer,
    theta: PyTree,
    state: InnerState,
    length: int,
    cap: float,
) -> tuple[jax.Array, InnerState]:
    """One segment scored by :func:`meta_objective`: ``(meta_loss, state after)``."""
    losses, new_state = segment(task, lopt, theta, state, length)
    return meta_objective(losses, state.log_loss_init, cap), new_state


def is_finite(tree: PyTree) -> jax.Array:
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def needs_reset(state: InnerState) -> jax.Array:
    """The episode is over, or its parameters or optimizer state went non-finite."""
    finite = is_finite((state.params, state.opt_state))
    return (state.step >= state.end_step) | ~finite


def reset_where(
    task: Task,
    lopt: LearnedOptimizer,
    theta: PyTree,
    state: InnerState,
    reset: jax.Array,
    num_steps: int,
) -> InnerState:
    """(One member) the next episode's fresh state where ``reset``, else ``state``."""
    fresh = start_episode(task, lopt, theta, state.member_key, state.episode + 1, num_steps)
    return jax.tree.map(lambda f, s: jnp.where(reset, f, s), fresh, state)

"""VeLO's optimizer state, shared by the reference and the fused update.

Per-tensor entries are tuples in jax's leaf order of the parameters (dicts by sorted key),
the same order as the rows of the LSTM state: entry t is tensor t.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from minivelo.lopt.velo import accumulators as acc
from minivelo.lopt.velo.features import LossBuffer, init_loss_buffer


class VeLOState(NamedTuple):
    iteration: jax.Array  # int32, updates applied so far
    momentum: tuple  # per tensor (3, *shape): decays 0.9, 0.99, 0.999
    second_moment: tuple  # per tensor (*shape): EMA of g^2, decay 0.999
    factored: tuple  # per tensor FactoredMoments (row, col) or (diagonal, None)
    lstm_hidden: jax.Array  # (T, H)
    lstm_cell: jax.Array  # (T, H)
    loss_buffer: LossBuffer


def init_state(params, theta: dict) -> VeLOState:
    """Zero accumulators; every tensor's LSTM state starts at ``lstm_init_state``."""
    leaves = jax.tree.leaves(params)
    num_tensors = len(leaves)
    init = theta["lstm_init_state"]
    hidden = jnp.broadcast_to(init["hidden"], (num_tensors, init["hidden"].shape[-1]))
    cell = jnp.broadcast_to(init["cell"], (num_tensors, init["cell"].shape[-1]))
    return VeLOState(
        iteration=jnp.zeros((), jnp.int32),
        momentum=tuple(acc.init_momentum(p) for p in leaves),
        second_moment=tuple(acc.init_second_moment(p) for p in leaves),
        factored=tuple(acc.init_factored(p) for p in leaves),
        lstm_hidden=jnp.asarray(hidden, jnp.float32),
        lstm_cell=jnp.asarray(cell, jnp.float32),
        loss_buffer=init_loss_buffer(),
    )


def next_state(state: VeLOState, momentum, second_moment, factored, hidden, cell, loss_buffer):
    """The state after one update: the counter moves on, everything else is replaced."""
    return VeLOState(
        iteration=state.iteration + 1,
        momentum=tuple(momentum),
        second_moment=tuple(second_moment),
        factored=tuple(factored),
        lstm_hidden=hidden,
        lstm_cell=cell,
        loss_buffer=loss_buffer,
    )


def make_trace(loss_features, fraction_trained, lstm_inputs, controls, lr_mult) -> dict:
    """The intermediate values of one update that the golden bundles record."""
    return {
        "loss_features": loss_features,  # (9,)
        "fraction_trained": fraction_trained,  # t / N
        "lstm_inputs": lstm_inputs,  # (T, 30)
        "controls": controls,  # (T, J)
        "lr_mult": lr_mult,  # (T,)
    }

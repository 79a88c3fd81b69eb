r"""One VeLO update, written out plainly, piece by piece: the oracle.

This is the reading of VeLO that lesson 08 shows and that the tests hold the fast
:mod:`.fused` update to. It follows the published model step for step:

1. add the loss to the loss buffer; compute the 9 loss features;
2. clip the gradient to [-1000, 1000] (everything below uses the clipped g);
3. fraction trained :math:`f = t / N` (t before it is incremented; not capped at 1);
4. per tensor, the 30 LSTM features from p and the OLD momentum and second moment;
5. the controller: mix across tensors, one LSTM step, heads -> controls, lr_mult;
6. update momentum, second moment and factored moments with g;
7. per tensor, the MLP on the 30 normalised channels (NEW accumulators) -> step;
8. :math:`p \leftarrow p - \Delta p`; increment t; keep the new LSTM state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from minivelo.lopt.velo import accumulators as acc
from minivelo.lopt.velo import features as feat
from minivelo.lopt.velo.controller import controller
from minivelo.lopt.velo.mlp import mix_weight_banks, per_parameter_mlp, velo_step
from minivelo.lopt.velo.state import VeLOState, make_trace, next_state

GRADIENT_CLIP = 1000.0


def update(theta: dict, state: VeLOState, grads, params, loss, num_steps: int):
    """One update. Returns ``(steps, new_state, trace)``; the new params are ``p - steps``.

    ``trace`` holds the intermediate values the golden bundles record: ``loss_features``
    (9,), ``fraction_trained``, ``lstm_inputs`` (T, 30), ``controls`` (T, J), ``lr_mult`` (T,).
    """
    leaves, treedef = jax.tree.flatten(params)
    grad_leaves = treedef.flatten_up_to(grads)

    # 1. loss features from the updated buffer
    decays = feat.loss_decays(num_steps)  # (10,)
    loss_buffer = feat.update_loss_buffer(state.loss_buffer, loss, decays)
    loss_feats = feat.loss_features(loss_buffer, decays)  # (9,)

    # 2. g <- clip(g, -1000, 1000)
    grad_leaves = [jnp.clip(g, -GRADIENT_CLIP, GRADIENT_CLIP) for g in grad_leaves]

    # 3. f = t / N, before t is incremented
    fraction_trained = state.iteration.astype(jnp.float32) / num_steps

    # 4. per-tensor features from the old accumulators, (T, 30)
    lstm_inputs = jnp.stack(
        [
            feat.tensor_features(p, m, v, fraction_trained, loss_feats)
            for p, m, v in zip(leaves, state.momentum, state.second_moment, strict=True)
        ]
    )

    # 5. controller: (T, 30) -> controls (T, J), lr_mult (T,)
    controls, lr_mult, hidden, cell = controller(
        theta["rnn_params"], lstm_inputs, state.lstm_hidden, state.lstm_cell
    )

    # 6. new accumulators
    momentum = [acc.update_momentum(m, g) for m, g in zip(state.momentum, grad_leaves)]
    second_moment = [
        acc.update_second_moment(v, g) for v, g in zip(state.second_moment, grad_leaves)
    ]
    factored = [acc.update_factored(f, g) for f, g in zip(state.factored, grad_leaves)]

    # 7. per tensor: its own MLP weights, 30 normalised channels, the step
    mlp_weights = mix_weight_banks(theta["ff_mod_stack"]["~"], controls)  # each (T, ...)
    steps = []
    for t, (p, g) in enumerate(zip(leaves, grad_leaves)):
        groups = feat.parameter_features(g, p, momentum[t], second_moment[t], factored[t])
        channels = feat.normalise_channels(jnp.concatenate(groups))  # (30, *shape)
        weights_t = {name: w[t] for name, w in mlp_weights.items()}
        direction, magnitude, _ = per_parameter_mlp(weights_t, channels)
        steps.append(velo_step(direction, magnitude, p, lr_mult[t]))

    # 8. the new state
    new_state = next_state(state, momentum, second_moment, factored, hidden, cell, loss_buffer)
    trace = make_trace(loss_feats, fraction_trained, lstm_inputs, controls, lr_mult)
    return jax.tree.unflatten(treedef, steps), new_state, trace

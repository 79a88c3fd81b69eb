r"""The same VeLO update as :mod:`.reference`, restructured so XLA runs it fast and lean.

Nothing here changes the mathematics (``tests/test_velo_fused.py`` proves it equal to the
reference); it changes how often full-size data is read and what gets materialised.
Per tensor, full-size arrays are touched in only three fused passes:

1. **one variadic reduction** over :math:`(p, g, m_{old}, v_{old})` computes every
   tensor-wide sum the update needs: the per-tensor LSTM statistics and the 30
   per-channel sums of squares (most channels are recomputed on the fly from the
   accumulators, never stored);
2. the factored row/column means of :math:`g^2` (two small partial reductions);
3. **one elementwise pass** computes the new accumulators and the step.

Two algebraic facts make this possible:

- *Normalisation folds into the first layer.* Channel :math:`c` enters the MLP as
  :math:`x_c s_c` with :math:`s_c = (10^{-5} + \mathrm{mean}(x_c^2))^{-1/2}`, so
  :math:`h_{0,k} = b_{0,k} + \sum_c x_c\,(s_c W_{0,ck})`: only the sums of squares are
  needed, and :math:`W'_{ck} = s_c W_{0,ck}` is a (30, 4) matrix per tensor.
- *Broadcast channels pre-sum.* The row/column statistics (groups 9-12) are constant
  along one axis, so their contribution to :math:`h_0` is computed on the small row and
  column arrays and broadcast once; their sums of squares are
  :math:`n_{d_0} \sum r^2` without touching the full tensor.

Variances use a shift (the tensor's first element), :math:`\mathrm{var}(x) =
\mathrm{mean}((x-K)^2) - \mathrm{mean}(x-K)^2`, which stays accurate when values are
nearly constant, unlike :math:`E[x^2] - E[x]^2`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from minivelo.lopt.velo import accumulators as acc
from minivelo.lopt.velo import features as feat
from minivelo.lopt.velo.controller import controller
from minivelo.lopt.velo.mlp import first_layer_weights, mix_weight_banks
from minivelo.lopt.velo.params import EXP_MULT, STEP_MULT
from minivelo.lopt.velo.reference import GRADIENT_CLIP
from minivelo.lopt.velo.state import VeLOState, make_trace, next_state

# Offsets of the 14 input groups among the 30 channels (see features.parameter_features).
G, G_CLIP, P, M, V, M_RHO, RHO, FAC_G, G_RHO, ROW, COL, RSQRT_ROW, RSQRT_COL, FAC_M = (
    0, 1, 2, 3, 6, 7, 10, 11, 14, 15, 18, 21, 24, 27
)  # fmt: skip


def _sums(terms: list[jax.Array]) -> list[jax.Array]:
    """Sum every term over all its elements, in ONE pass over memory.

    A variadic ``lax.reduce`` is one loop: XLA fuses each term's elementwise expression
    into it, so no term is ever materialised (separate ``jnp.sum`` calls would each
    re-read the inputs). It reduces only the last axis, then sums the small per-row
    results with ``jnp.sum``: XLA runs a variadic reduce as one sequential float32
    accumulation, which over millions of equal terms would drift by ~10%.
    """
    shape = jnp.broadcast_shapes(*(t.shape for t in terms))
    if not shape:
        return [jnp.asarray(t, jnp.float32) for t in terms]
    terms = tuple(jnp.broadcast_to(t, shape) for t in terms)
    zeros = tuple(jnp.zeros((), jnp.float32) for _ in terms)
    add = lambda xs, ys: tuple(x + y for x, y in zip(xs, ys, strict=True))
    row_sums = jax.lax.reduce(terms, zeros, add, (len(shape) - 1,))
    return [jnp.sum(r) for r in row_sums]


def _after(statistics: jax.Array, new: jax.Array, old: jax.Array) -> jax.Array:
    """``new``, but computed only once ``statistics`` (computed from ``old``) are done.

    Steers the compiler: XLA does not order the reads of a donated buffer before an
    in-place write to it, so it copies the whole state. A select on an always-true flag
    derived from the statistics (x | 1 is never 0) is a data dependency that orders them.
    """
    bits = jax.lax.bitcast_convert_type(jnp.sum(statistics), jnp.int32)
    return jnp.where((bits | 1) != 0, new, old)


def _first(x: jax.Array) -> jax.Array:
    """The first element of each decay slice, ``(3, *shape) -> (3, 1, ..., 1)``: a shift."""
    return jax.lax.stop_gradient(
        x.reshape(x.shape[0], -1)[:, :1].reshape((-1,) + (1,) * (x.ndim - 1))
    )


def update(theta: dict, state: VeLOState, grads, params, loss, num_steps: int):
    """One update, equal to :func:`.reference.update`. Returns ``(steps, new_state, trace)``."""
    leaves, treedef = jax.tree.flatten(params)
    grad_leaves = [jnp.clip(g, -GRADIENT_CLIP, GRADIENT_CLIP) for g in treedef.flatten_up_to(grads)]

    decays = feat.loss_decays(num_steps)
    loss_buffer = feat.update_loss_buffer(state.loss_buffer, loss, decays)
    loss_feats = feat.loss_features(loss_buffer, decays)
    fraction_trained = state.iteration.astype(jnp.float32) / num_steps

    # Pass 1: LSTM statistics of p and the OLD accumulators, one reduction per tensor.
    old_stats = [
        _old_statistics(p, m, v)
        for p, m, v in zip(leaves, state.momentum, state.second_moment, strict=True)
    ]

    lstm_inputs = jnp.stack(
        [
            _lstm_features(s, p.shape, fraction_trained, loss_feats)
            for s, p in zip(old_stats, leaves, strict=True)
        ]
    )  # (T, 30)

    # Pass 2: new accumulators, written once (into the donated buffers), each only after
    # its tensor's LSTM features, the last values read from the old accumulators.
    momentum = [
        _after(row, acc.update_momentum(m, g), m)
        for row, m, g in zip(lstm_inputs, state.momentum, grad_leaves)
    ]
    second_moment = [
        _after(row, acc.update_second_moment(v, g), v)
        for row, v, g in zip(lstm_inputs, state.second_moment, grad_leaves)
    ]
    factored = [acc.update_factored(f, g) for f, g in zip(state.factored, grad_leaves)]

    # Pass 3: the 30 channels' sums of squares, one reduction per tensor.
    channel_scales = [
        _channel_scales(p, g, m, v, f)
        for p, g, m, v, f in zip(leaves, grad_leaves, momentum, second_moment, factored)
    ]

    controls, lr_mult, hidden, cell = controller(
        theta["rnn_params"], lstm_inputs, state.lstm_hidden, state.lstm_cell
    )
    mlp_weights = mix_weight_banks(theta["ff_mod_stack"]["~"], controls)  # each (T, ...)

    # Pass 4: the step, one elementwise pass per tensor.
    steps = []
    for t, (p, g, m, v, f) in enumerate(
        zip(leaves, grad_leaves, momentum, second_moment, factored)
    ):
        weights_t = {name: w[t] for name, w in mlp_weights.items()}
        scale = jnp.sqrt(old_stats[t]["mean_p2"] + 1e-9) * STEP_MULT * lr_mult[t]
        steps.append(_tensor_step(weights_t, channel_scales[t], scale, p, g, m, v, f))

    new_state = next_state(state, momentum, second_moment, factored, hidden, cell, loss_buffer)
    trace = make_trace(loss_feats, fraction_trained, lstm_inputs, controls, lr_mult)
    return jax.tree.unflatten(treedef, steps), new_state, trace


# ---------------------------------------------------------------- per-tensor pieces
def _factors(f: acc.FactoredMoments, shape):
    """Per decay, the factored-gradient scale q_b and the factored-momentum scale (each
    broadcastable to ``shape``), and the row and column statistics (broadcastable)."""
    if acc.factored_axes(shape) is None:
        u = f.row  # (3, *shape), the diagonal EMA
        q = jax.lax.rsqrt(jnp.maximum(u + 1e-9, 1e-9))
        return list(q), list(jax.lax.rsqrt(u)), u, u
    d0, d1 = acc.factored_axes(shape)
    row_factor, col_factor = acc.factored_scales(f, shape)  # (3, ...) broadcastable
    q = row_factor * col_factor  # (3, ...) broadcastable: an outer product, never stored
    row = jnp.expand_dims(f.row, d0 + 1)
    col = jnp.expand_dims(f.col, d1 + 1)
    return [q[i] for i in range(3)], [q[i] for i in range(3)], row, col


def _old_statistics(p, m_old, v_old) -> dict:
    """mean(p^2) and the shifted moments of the old accumulators, in one pass."""
    n = p.size
    shift_m, shift_v = _first(m_old), _first(v_old[None])[0]  # K: first elements
    m_dev = [m_old[i] - shift_m[i] for i in range(3)]
    v_dev = v_old - shift_v
    sums = _sums([p * p, v_dev, v_dev * v_dev] + m_dev + [d * d for d in m_dev])
    sum_p2, sum_v, sum_v2 = sums[0:3]
    sum_m, sum_m2 = sums[3:6], sums[6:9]
    mean_m = [shift_m[i].reshape(()) + sum_m[i] / n for i in range(3)]
    var_m = [jnp.maximum(sum_m2[i] / n - (sum_m[i] / n) ** 2, 0.0) for i in range(3)]
    return dict(
        mean_p2=sum_p2 / n,
        mean_v=shift_v.reshape(()) + sum_v / n,
        var_v=jnp.maximum(sum_v2 / n - (sum_v / n) ** 2, 0.0),
        mean_m=jnp.stack(mean_m),
        var_m=jnp.stack(var_m),
    )


def _lstm_features(stats, shape, fraction_trained, loss_feats) -> jax.Array:
    """The 30 LSTM features (:func:`.features.tensor_features`) from the statistics."""
    inv_scale = jax.lax.rsqrt(jnp.maximum(1e-9, stats["mean_p2"]))  # n
    mean_rms = stats["mean_v"] * inv_scale
    var_m = stats["var_m"] * inv_scale**2  # var(m n)
    # mean((v n - mean(m n))^2) = n^2 (var(v) + (mean(v) - mean(m))^2)
    rms_quirk = inv_scale**2 * (stats["var_v"] + (stats["mean_v"] - stats["mean_m"]) ** 2)
    return jnp.concatenate(
        [
            feat.fraction_trained_features(fraction_trained),
            loss_feats,
            feat.clipped_log_abs(mean_rms)[None],
            feat.rank_one_hot(shape),
            feat.clipped_log_abs(var_m),
            feat.clipped_log_abs(rms_quirk),
        ]
    )


def _channel_scales(p, g, m, v, f: acc.FactoredMoments) -> jax.Array:
    """:math:`s_c = (10^{-5} + \\mathrm{mean}(x_c^2))^{-1/2}` for all 30 channels, (30,)."""
    shape, n = p.shape, p.size
    # Spelled so that no full-size value is shared with the step pass (XLA would store it
    # as a temporary): rho^2 as a division, not rsqrt(.)^2; (g q)^2 as g^2 q^2.
    rho2 = 1.0 / (v + 1e-6)
    q, q_m, _, _ = _factors(f, shape)
    g_clip = jnp.clip(g, -0.1, 0.1)
    full = _sums(
        [g * g, g_clip * g_clip, p * p]  # channels 0-2
        + [m[i] * m[i] for i in range(3)]  # 3-5
        + [v * v]  # 6
        + [m[i] * m[i] * rho2 for i in range(3)]  # 7-9
        + [rho2]  # 10
        + [g * g * (q[i] * q[i]) for i in range(3)]  # 11-13
        + [g * g * rho2]  # 14
        + [m[i] * m[i] * (q_m[i] * q_m[i]) for i in range(3)]  # 27-29
    )
    if acc.factored_axes(shape) is None:
        u = f.row.reshape(3, -1)  # channels 15-26 are full-size for vectors and scalars
        row2, rsqrt_row2 = jnp.sum(u * u, axis=1), jnp.sum(1.0 / (u + 1e-8), axis=1)
        col2, rsqrt_col2 = row2, rsqrt_row2
    else:
        d0, d1 = acc.factored_axes(shape)
        row, col = f.row.reshape(3, -1), f.col.reshape(3, -1)
        # A row statistic is repeated shape[d0] times in the full tensor.
        row2 = shape[d0] * jnp.sum(row * row, axis=1)
        rsqrt_row2 = shape[d0] * jnp.sum(1.0 / (row + 1e-8), axis=1)
        col2 = shape[d1] * jnp.sum(col * col, axis=1)
        rsqrt_col2 = shape[d1] * jnp.sum(1.0 / (col + 1e-8), axis=1)
    sums_of_squares = jnp.concatenate(
        [jnp.stack(full[:15]), row2, col2, rsqrt_row2, rsqrt_col2, jnp.stack(full[15:])]
    )  # (30,) in channel order
    return jax.lax.rsqrt(1e-5 + sums_of_squares / n)


def _tensor_step(weights, channel_scales, scale, p, g, m, v, f):
    """The step of one tensor from the NEW accumulators, in one elementwise pass.

    ``scale`` is :math:`\\mathrm{rms}(p) \\cdot 0.001 \\cdot \\text{lr\\_mult}`.
    """
    w0 = first_layer_weights(weights) * channel_scales[:, None]  # W' = s_c W_0: folded
    b0, w1, b1, w2, b2 = (weights[k] for k in ("b0", "w1", "b1", "w2", "b2"))

    # The broadcast channels (groups 9-12) pre-summed on the small row/col arrays: (4, ...)
    q, q_m, row, col = _factors(f, p.shape)
    row_term = jnp.einsum("b...,bk->k...", row, w0[ROW : ROW + 3]) + jnp.einsum(
        "b...,bk->k...", jax.lax.rsqrt(row + 1e-8), w0[RSQRT_ROW : RSQRT_ROW + 3]
    )
    col_term = jnp.einsum("b...,bk->k...", col, w0[COL : COL + 3]) + jnp.einsum(
        "b...,bk->k...", jax.lax.rsqrt(col + 1e-8), w0[RSQRT_COL : RSQRT_COL + 3]
    )

    # The 18 per-element channels (unnormalised: the scales are folded into w0).
    rho = jax.lax.rsqrt(v + 1e-6)
    channels = {G: g, G_CLIP: jnp.clip(g, -0.1, 0.1), P: p, V: v, RHO: rho, G_RHO: g * rho}
    for i in range(3):
        channels[M + i] = m[i]
        channels[M_RHO + i] = m[i] * rho
        channels[FAC_G + i] = g * q[i]
        channels[FAC_M + i] = m[i] * q_m[i]

    # First layer, 4 units, written out as scalar-weighted sums so XLA emits one loop.
    hidden0 = []
    for k in range(4):
        h = b0[k] + row_term[k] + col_term[k]
        for c, x in channels.items():
            h = h + w0[c, k] * x
        hidden0.append(jax.nn.relu(h))
    hidden1 = [jax.nn.relu(b1[j] + sum(w1[k, j] * hidden0[k] for k in range(4))) for j in range(4)]
    direction = b2[0] + sum(w2[j, 0] * hidden1[j] for j in range(4))
    magnitude = b2[1] + sum(w2[j, 1] * hidden1[j] for j in range(4))
    # step = d * exp(0.001 a) * [rms(p) * 0.001 * lr_mult]
    return direction * jnp.exp(EXP_MULT * magnitude) * scale

r"""From controls to steps: weight banks, the per-parameter MLP, the step.

Each tensor :math:`t` gets its own small MLP, a mixture of :math:`J` banks :math:`\Theta_j`
weighted by the controller's output:

.. math::
    W_t = 100 \cdot \frac1J \sum_j \text{controls}_{t,j}\, \Theta_j

The MLP maps the 30 normalised channels :math:`x` of every parameter to 3 outputs:

.. math::
    h_0 = \mathrm{relu}\Bigl(\sum_{i=0}^{13} x_i W_{0,i} + b_0\Bigr), \quad
    h_1 = \mathrm{relu}(h_0 W_1 + b_1), \quad
    [d, a, \cdot] = h_1 W_2 + b_2

and the step, scaled by the tensor's RMS and the controller's ``lr_mult``:

.. math::
    \Delta p = d \cdot \sqrt{\mathrm{mean}(p^2) + 10^{-9}} \cdot e^{0.001\, a}
               \cdot 0.001 \cdot \text{lr\_mult}, \qquad p \leftarrow p - \Delta p
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from minivelo.lopt.velo.params import EXP_MULT, INPUT_GROUP_SIZES, STEP_MULT


def mix_weight_banks(banks: dict, controls: jax.Array) -> dict:
    """Bank tensors ``(J, ...)`` and ``controls (T, J)`` -> per-tensor weights ``(T, ...)``."""
    num_banks = controls.shape[-1]
    return {
        name: 100.0 * jnp.einsum("tj,j...->t...", controls, bank) / num_banks
        for name, bank in banks.items()
    }


def first_layer_weights(weights: dict) -> jax.Array:
    """The 14 blocks ``w0__i (..., k_i, 4)`` stacked into one ``(..., 30, 4)`` matrix."""
    blocks = [weights[f"w0__{i}"] for i in range(len(INPUT_GROUP_SIZES))]
    return jnp.concatenate(blocks, axis=-2)


def per_parameter_mlp(weights: dict, channels: jax.Array) -> jax.Array:
    """One tensor's MLP (weights without the T axis): ``(30, *shape)`` -> ``(3, *shape)``."""
    w0 = first_layer_weights(weights)  # (30, 4)
    expand = (slice(None),) + (None,) * (channels.ndim - 1)  # bias (k,) -> (k, 1, ..., 1)
    h0 = jax.nn.relu(jnp.einsum("c...,ck->k...", channels, w0) + weights["b0"][expand])
    h1 = jax.nn.relu(jnp.einsum("c...,ck->k...", h0, weights["w1"]) + weights["b1"][expand])
    return jnp.einsum("c...,ck->k...", h1, weights["w2"]) + weights["b2"][expand]


def parameter_scale(p: jax.Array) -> jax.Array:
    r""":math:`\sqrt{\mathrm{mean}(p^2) + 10^{-9}}`, the tensor's root-mean-square."""
    return jnp.sqrt(jnp.mean(p * p) + 1e-9)


def velo_step(
    direction: jax.Array, magnitude: jax.Array, p: jax.Array, lr_mult: jax.Array
) -> jax.Array:
    r"""The step :math:`\Delta p = d \cdot \mathrm{rms}(p) \cdot e^{0.001 a} \cdot 0.001
    \cdot \text{lr\_mult}`."""
    return direction * parameter_scale(p) * jnp.exp(EXP_MULT * magnitude) * STEP_MULT * lr_mult

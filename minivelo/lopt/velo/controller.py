r"""The per-tensor controller: mix features across tensors, one LSTM step, two heads.

For the T tensors' feature rows :math:`x \in \mathbb{R}^{T \times 30}`:

.. math::
    x' &= W_2 x + b_2 + \max_{\text{tensors}} \mathrm{relu}(W_1 x + b_1)
    \qquad \text{(the only place tensors see each other)} \\
    [i, \tilde g, f, o] &= [x', h]\, W + b, \qquad
    c' = \sigma(f + 1)\, c + \sigma(i) \tanh \tilde g, \qquad h' = \sigma(o) \tanh c' \\
    \text{controls} &= W_c h' + b_c \in \mathbb{R}^{J}, \qquad
    \text{lr\_mult} = W_s h' + b_s \in \mathbb{R} \ \text{(used raw)}

One LSTM state :math:`(h, c)` per tensor, shared weights; the initial state of every
tensor is the meta-parameter ``lstm_init_state``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def linear(layer: dict, x: jax.Array) -> jax.Array:
    """``x @ w + b`` for a ``{'w', 'b'}`` layer of the published tree."""
    return x @ layer["w"] + layer["b"]


def mix_tensors(rnn_params: dict, x: jax.Array) -> jax.Array:
    """``(T, 30) -> (T, H)``: a direct branch plus a max-pool over tensors."""
    mixed = jax.nn.relu(linear(rnn_params["linear_1"], x))  # (T, H)
    pooled = jnp.max(mixed, axis=0, keepdims=True)  # (1, H)
    return linear(rnn_params["linear_2"], x) + pooled


def lstm_cell(
    lstm: dict, x: jax.Array, hidden: jax.Array, cell: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One LSTM step, gates in the order [input, candidate, forget, output], forget bias 1."""
    gates = linear(lstm, jnp.concatenate([x, hidden], axis=-1))  # (T, 4H)
    i, candidate, f, o = jnp.split(gates, 4, axis=-1)
    new_cell = jax.nn.sigmoid(f + 1.0) * cell + jax.nn.sigmoid(i) * jnp.tanh(candidate)
    new_hidden = jax.nn.sigmoid(o) * jnp.tanh(new_cell)
    return new_hidden, new_cell


def heads(rnn_params: dict, hidden: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(controls (T, J), lr_mult (T,))`` from the new hidden state."""
    controls = linear(rnn_params["rnn_to_controls"], hidden)
    lr_mult = linear(rnn_params["step_size"], hidden)[:, 0]
    return controls, lr_mult


def controller(
    rnn_params: dict, x: jax.Array, hidden: jax.Array, cell: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Features ``(T, 30)`` and LSTM state -> ``(controls, lr_mult, new_hidden, new_cell)``."""
    mixed = mix_tensors(rnn_params, x)
    new_hidden, new_cell = lstm_cell(rnn_params["rnn/linear"], mixed, hidden, cell)
    controls, lr_mult = heads(rnn_params, new_hidden)
    return controls, lr_mult, new_hidden, new_cell

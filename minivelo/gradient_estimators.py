r"""Learning without backpropagation: forward gradients and direct feedback alignment.

Backprop stores every activation of the forward pass and then runs a second, sequential
pass backwards through the transposed weights. Two ways around it, each returning
something to hand to any optax optimizer in place of the gradient:

- **Forward gradient** (Baydin et al. 2022, "Gradients without Backpropagation"). Draw a
  random direction :math:`v \sim \mathcal N(0, I)`; one forward-mode pass
  (``jax.jvp``) gives the loss and its directional derivative :math:`\nabla f \cdot v`
  together, with no stored activations. Then

  .. math::
      \hat g = (\nabla f \cdot v)\, v, \qquad
      \mathbb{E}[\hat g] = \mathbb{E}[v v^\top]\, \nabla f = \nabla f,

  an *unbiased* estimate. Its price is variance:
  :math:`\mathbb{E}\|\hat g - \nabla f\|^2 = (d+1)\,\|\nabla f\|^2` for :math:`d`
  parameters (from :math:`\mathbb{E}[v_i^4] = 3`), so the step must shrink like
  :math:`1/d`, and it gets worse the bigger the network.

- **Direct feedback alignment** (Nøkland 2016). The output error
  :math:`e = \partial L / \partial a_L` is sent to *every* hidden layer through a fixed
  random matrix :math:`B_\ell` instead of back through the transposed forward weights:

  .. math::
      \delta_\ell = (e\, B_\ell) \odot \sigma'(a_\ell) \quad\text{instead of}\quad
      \delta_\ell = (\delta_{\ell+1} W_{\ell+1}^\top) \odot \sigma'(a_\ell),

  so all layers can update in parallel once the error is known. It is *biased* (not the
  gradient) but works because the forward weights learn to align with the feedback.

Parameters for DFA follow :mod:`minivelo.tasks.layers`: ``{"layer_i": {"w": [in, out],
"b": [out]}}`` with ``a_i = h_{i-1} @ w + b``, the layout of the ``*_mlp`` tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "forward_gradient",
    "init_feedback",
    "dfa_gradients",
    "cosine_similarity",
]

PyTree = Any


# ---------------------------------------------------------------------------------------
# Forward gradient
# ---------------------------------------------------------------------------------------


def _normal_like(key: jax.Array, params: PyTree) -> PyTree:
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef,
        [jax.random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)],
    )


def forward_gradient(
    loss_fn: Callable[[PyTree], jax.Array],
    params: PyTree,
    key: jax.Array,
    num_directions: int = 1,
) -> tuple[jax.Array, PyTree]:
    r"""The forward gradient :math:`\hat g = (\nabla f \cdot v)\, v` with Gaussian :math:`v`.

    One ``jax.jvp`` per direction: the loss and the directional derivative come out of a
    single forward pass (about the cost of 1-3 forward passes, no backward pass, no stored
    activations). With ``num_directions`` :math:`K > 1` the :math:`K` estimates are
    averaged, dividing the variance by :math:`K`:

    .. math::
        \hat g = \frac1K \sum_{k=1}^K (\nabla f \cdot v_k)\, v_k, \qquad
        \mathbb{E}\|\hat g - \nabla f\|^2 = \frac{d+1}{K}\, \|\nabla f\|^2.

    Args:
      loss_fn: ``params -> scalar`` (close over the minibatch).
      params: where to evaluate.
      key: a JAX key for the directions.
      num_directions: :math:`K` (>= 1).

    Returns:
      ``(loss, grad_estimate)``, like ``jax.value_and_grad(loss_fn)(params)``.
    """
    if (
        isinstance(num_directions, bool)
        or not isinstance(num_directions, int)
        or num_directions < 1
    ):
        raise ValueError(f"num_directions must be a positive integer, got {num_directions!r}")

    def one_direction(direction_key):
        v = _normal_like(direction_key, params)
        loss, directional_derivative = jax.jvp(loss_fn, (params,), (v,))  # f, grad f . v
        return loss, jax.tree.map(lambda vi: directional_derivative * vi, v)  # (grad f . v) v

    def add_direction(total, direction_key):
        _, estimate = one_direction(direction_key)
        return jax.tree.map(jnp.add, total, estimate), None

    keys = jax.random.split(key, num_directions)
    loss, first = one_direction(keys[0])
    total, _ = jax.lax.scan(add_direction, first, keys[1:])
    return loss, jax.tree.map(lambda t: t / num_directions, total)


# ---------------------------------------------------------------------------------------
# Direct feedback alignment
# ---------------------------------------------------------------------------------------


def _num_layers(params: dict) -> int:
    names = [f"layer_{i}" for i in range(len(params))]
    if sorted(params) != sorted(names):
        raise ValueError(
            "DFA expects MLP parameters {'layer_0': {'w', 'b'}, 'layer_1': ...} "
            f"(minivelo.tasks.layers.init_mlp), got keys {sorted(params)}"
        )
    return len(names)


def init_feedback(key: jax.Array, params: dict) -> dict:
    r"""Fixed random feedback matrices :math:`B_\ell`, one per hidden layer.

    :math:`B_\ell` has shape ``[num_outputs, width_l]`` and entries
    :math:`\mathcal N(0, 1/\text{num\_outputs})`, so :math:`e B_\ell` has the size of
    :math:`e`. They are drawn once and never trained.
    """
    num_layers = _num_layers(params)
    num_outputs = params[f"layer_{num_layers - 1}"]["w"].shape[1]
    keys = jax.random.split(key, max(num_layers - 1, 1))
    return {
        f"layer_{i}": jax.random.normal(keys[i], (num_outputs, params[f"layer_{i}"]["w"].shape[1]))
        / jnp.sqrt(num_outputs)
        for i in range(num_layers - 1)
    }


def _derivative(activation, a):
    """sigma'(a) elementwise, by one forward-mode pass."""
    return jax.jvp(activation, (a,), (jnp.ones_like(a),))[1]


def dfa_gradients(
    params: dict,
    feedback: dict,
    batch: tuple[jax.Array, jax.Array],
    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
) -> tuple[jax.Array, dict]:
    r"""The DFA update direction for an MLP classifier with softmax cross-entropy.

    .. math::
        e = \frac{\mathrm{softmax}(a_L) - \mathrm{onehot}(y)}{B}
        \quad [B, C], \qquad
        \delta_L = e, \qquad
        \delta_\ell = (e\, B_\ell) \odot \sigma'(a_\ell) \quad [B, n_\ell], \\
        \Delta W_\ell = h_{\ell-1}^\top \delta_\ell, \qquad \Delta b_\ell = \textstyle\sum_n
        \delta_{\ell, n}

    with :math:`h_0 = x` (flattened). The last layer's direction is its true gradient; the
    hidden layers' are not. With one hidden layer and :math:`B_0 = W_1^\top` it *is*
    backprop (tested): DFA replaces the transposed weights by a fixed random matrix.

    Args:
      params: MLP parameters in the layout of :func:`minivelo.tasks.layers.init_mlp`.
      feedback: from :func:`init_feedback`.
      batch: ``(x, y)``, inputs ``[B, ...]`` and integer labels ``[B]``.
      activation: the hidden activation :math:`\sigma` (elementwise).

    Returns:
      ``(loss, directions)``, like ``jax.value_and_grad``: the mean cross-entropy and a
      pytree shaped like ``params``, to pass to an optimizer in place of the gradient.
    """
    num_layers = _num_layers(params)
    x, y = batch
    h = x.reshape(x.shape[0], -1)  # h_0 [B, n_0]
    inputs, pre_activations = [], []
    for i in range(num_layers):
        layer = params[f"layer_{i}"]
        inputs.append(h)
        a = h @ layer["w"] + layer["b"]  # a_l [B, n_l]
        pre_activations.append(a)
        h = activation(a) if i < num_layers - 1 else a
    logits = h  # a_L [B, C]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    # e = dL/da_L for the mean cross-entropy, [B, C]
    error = (jax.nn.softmax(logits) - jax.nn.one_hot(y, logits.shape[-1])) / x.shape[0]
    directions = {}
    for i in range(num_layers):
        if i == num_layers - 1:
            delta = error  # the output layer gets its true gradient
        else:  # (e B_l) * sigma'(a_l): the error, projected straight to layer l
            delta = (error @ feedback[f"layer_{i}"]) * _derivative(activation, pre_activations[i])
        directions[f"layer_{i}"] = {"w": inputs[i].T @ delta, "b": delta.sum(axis=0)}
    return loss, directions


def cosine_similarity(a: PyTree, b: PyTree) -> jax.Array:
    r"""Cosine of the angle between two pytrees seen as flat vectors.

    :math:`\cos\angle(a, b) = \langle a, b\rangle / (\|a\|\,\|b\|)`: 1 for the same
    direction, 0 for orthogonal; DFA's "alignment" with the true gradient.
    """
    dot = sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    norm_a = jnp.sqrt(sum(jnp.vdot(x, x) for x in jax.tree.leaves(a)))
    norm_b = jnp.sqrt(sum(jnp.vdot(y, y) for y in jax.tree.leaves(b)))
    return dot / jnp.maximum(norm_a * norm_b, 1e-30)

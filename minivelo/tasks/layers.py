"""The few network pieces the task families need, as pure functions over dicts of arrays.

Parameters are plain nested dicts (``{"layer_0": {"w": ..., "b": ...}}``) so an optimizer
sees one leaf per weight tensor with a readable path, as VeLO's per-tensor features expect.
Every ``init_*`` takes a key and returns such a dict; every ``apply`` is a pure function.

Initialisation is LeCun-normal times an ``init_scale`` the task families sample:
:math:`W_{ij} \\sim \\mathcal{N}(0, s^2 / \\text{fan-in})`, biases zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
    "silu": jax.nn.silu,
}


def activation(name: str):
    """Look an activation function up by name, with a clear error for an unknown one."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def rng_from_key(key) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key: task families draw architectures on the host."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, dtype=np.uint32).ravel().tolist())


# ------------------------------------------------------------------------------- dense


def init_dense(key, fan_in: int, fan_out: int, init_scale: float = 1.0) -> dict:
    """``w`` ``[fan_in, fan_out]`` with std ``init_scale / sqrt(fan_in)``, ``b`` zeros."""
    w = jax.random.normal(key, (fan_in, fan_out)) * (init_scale / np.sqrt(fan_in))
    return {"w": w, "b": jnp.zeros((fan_out,))}


def dense(p: dict, x: jax.Array) -> jax.Array:
    return x @ p["w"] + p["b"]  # [..., fan_in] -> [..., fan_out]


def init_mlp(key, sizes: list[int], init_scale: float = 1.0) -> dict:
    """Dense layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``, named ``layer_i``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return {
        f"layer_{i}": init_dense(k, a, b, init_scale)
        for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:]))
    }


def mlp(p: dict, x: jax.Array, act) -> jax.Array:
    """``act`` between layers, none after the last (it returns logits or a linear output)."""
    n = len(p)
    for i in range(n):
        x = dense(p[f"layer_{i}"], x)
        if i < n - 1:
            x = act(x)
    return x


# -------------------------------------------------------------------------------- conv


def init_conv(key, in_channels: int, out_channels: int, kernel: int, init_scale=1.0) -> dict:
    """``w`` ``[kh, kw, in, out]`` (HWIO), fan-in ``kh * kw * in``; ``b`` zeros."""
    fan_in = kernel * kernel * in_channels
    shape = (kernel, kernel, in_channels, out_channels)
    w = jax.random.normal(key, shape) * (init_scale / np.sqrt(fan_in))
    return {"w": w, "b": jnp.zeros((out_channels,))}


def conv(p: dict, x: jax.Array) -> jax.Array:
    """Same-padded stride-1 convolution, ``[B, H, W, C_in] -> [B, H, W, C_out]``.

    Written as a matrix product over patches (im2col): every output pixel is
    ``patch @ w.reshape(kh * kw * C_in, C_out)``. This equals ``lax.conv_general_dilated``
    (tested) and, unlike it, stays a plain batched matmul when a sweep vmaps over weights.
    """
    kh, kw, c_in, c_out = p["w"].shape
    b, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2), (0, 0)))
    patches = jnp.concatenate(
        [padded[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1
    )  # [B, H, W, kh * kw * C_in], ordered (i, j, channel) like w's first three axes
    return patches @ p["w"].reshape(kh * kw * c_in, c_out) + p["b"]


def avg_pool_2x2(x: jax.Array) -> jax.Array:
    """``[B, H, W, C] -> [B, H//2, W//2, C]`` by averaging 2x2 blocks."""
    b, h, w, c = x.shape
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).mean((2, 4))


# -------------------------------------------------------------------------------- LSTM


def init_lstm(key, input_size: int, hidden_size: int, init_scale: float = 1.0) -> dict:
    """One LSTM cell: input and recurrent weights for the four gates, stacked ``[i f g o]``."""
    k_in, k_rec = jax.random.split(key)
    w_in = jax.random.normal(k_in, (input_size, 4 * hidden_size)) / np.sqrt(input_size)
    w_rec = jax.random.normal(k_rec, (hidden_size, 4 * hidden_size)) / np.sqrt(hidden_size)
    # Forget-gate bias 1 (Jozefowicz et al. 2015): remember by default.
    b = jnp.zeros((4 * hidden_size,)).at[hidden_size : 2 * hidden_size].set(1.0)
    return {"w_in": init_scale * w_in, "w_rec": init_scale * w_rec, "b": b}


def lstm_step(p: dict, carry, x: jax.Array):
    r"""One step: :math:`c_t = f \odot c_{t-1} + i \odot g`, :math:`h_t = o \odot \tanh c_t`."""
    h, c = carry  # [B, H] each
    z = x @ p["w_in"] + h @ p["w_rec"] + p["b"]  # [B, 4H]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def lstm(p: dict, xs: jax.Array) -> jax.Array:
    """Run the cell over time: ``[B, T, D] -> [B, T, H]`` from a zero state."""
    batch, hidden = xs.shape[0], p["w_rec"].shape[0]
    carry = (jnp.zeros((batch, hidden)), jnp.zeros((batch, hidden)))
    _, hs = jax.lax.scan(lambda c, x: lstm_step(p, c, x), carry, jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


# ------------------------------------------------------------------------- transformer


def init_layer_norm(size: int) -> dict:
    return {"scale": jnp.ones((size,)), "bias": jnp.zeros((size,))}


def layer_norm(p: dict, x: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]


def init_block(key, d_model: int, init_scale: float = 1.0) -> dict:
    """A pre-LayerNorm transformer block: causal self-attention, then a 4x MLP."""
    k_qkv, k_out, k_up, k_down = jax.random.split(key, 4)
    return {
        "ln_attn": init_layer_norm(d_model),
        "qkv": init_dense(k_qkv, d_model, 3 * d_model, init_scale),
        "attn_out": init_dense(k_out, d_model, d_model, init_scale),
        "ln_mlp": init_layer_norm(d_model),
        "mlp_up": init_dense(k_up, d_model, 4 * d_model, init_scale),
        "mlp_down": init_dense(k_down, 4 * d_model, d_model, init_scale),
    }


def causal_self_attention(p: dict, x: jax.Array, num_heads: int) -> jax.Array:
    r""":math:`\mathrm{softmax}(QK^\top/\sqrt{d_h} + \text{mask})\,V` per head, ``[B,T,D]``."""
    b, t, d = x.shape
    q, k, v = jnp.split(dense(p["qkv"], x), 3, axis=-1)  # [B, T, D] each
    heads = lambda z: z.reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3)
    q, k, v = heads(q), heads(k), heads(v)  # [B, H, T, D/H]
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // num_heads)  # [B, H, T, T]
    mask = jnp.tril(jnp.ones((t, t), dtype=bool))
    scores = jnp.where(mask, scores, -1e9)
    out = jax.nn.softmax(scores, axis=-1) @ v  # [B, H, T, D/H]
    return dense(p["attn_out"], out.transpose(0, 2, 1, 3).reshape(b, t, d))


def block(p: dict, x: jax.Array, num_heads: int, act=jax.nn.gelu) -> jax.Array:
    x = x + causal_self_attention(p, layer_norm(p["ln_attn"], x), num_heads)
    return x + dense(p["mlp_down"], act(dense(p["mlp_up"], layer_norm(p["ln_mlp"], x))))

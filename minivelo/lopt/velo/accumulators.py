r"""VeLO's accumulators: plain exponential moving averages of g and g², no bias correction.

For one tensor with gradient :math:`g` (already clipped to [-1000, 1000]):

.. math::
    m_b &\leftarrow b\, m_b + (1 - b)\, g, \qquad b \in (0.9, 0.99, 0.999)
    \qquad \text{(momentum)} \\
    v &\leftarrow 0.999\, v + 0.001\, g^2 \qquad \text{(second moment, called "rms")} \\
    \text{factored, } & b \in (0.9, 0.99, 0.999), \quad g_2 = g^2 + 10^{-30}: \\
    r_b &\leftarrow b\, r_b + (1 - b)\, \mathrm{mean}_{d_0}(g_2), \qquad
    c_b \leftarrow b\, c_b + (1 - b)\, \mathrm{mean}_{d_1}(g_2) \qquad (\text{ndim} \ge 2) \\
    \hat g_b &= g \cdot \bigl(r_b / (\mathrm{mean}_{d_1} r_b + 10^{-9})\bigr)^{-1/2}
               \cdot c_b^{-1/2} \qquad \text{(Adafactor-style normalised gradient)}

where :math:`d_0` is the axis of the largest dimension and :math:`d_1` of the second
largest. Vectors and scalars keep a full ("diagonal") EMA :math:`u_b` of :math:`g_2`
instead, and :math:`\hat g_b = g\,(u_b + 10^{-9})^{-1/2}`.

Every accumulator keeps its three decays on a leading axis: momentum is ``(3, *p.shape)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from minivelo.lopt.velo.params import FACTORED_DECAYS, MOMENTUM_DECAYS, SECOND_MOMENT_DECAY


def _decays(values, ndim: int) -> jax.Array:
    """Decays as a (3, 1, ..., 1) array that broadcasts against ``(3, *shape)``."""
    return jnp.asarray(values, jnp.float32).reshape((-1,) + (1,) * ndim)


# ---------------------------------------------------------------- momentum and rms
def init_momentum(p: jax.Array) -> jax.Array:
    return jnp.zeros((len(MOMENTUM_DECAYS),) + p.shape, jnp.float32)


def update_momentum(m: jax.Array, g: jax.Array) -> jax.Array:
    """:math:`m_b \\leftarrow b\\, m_b + (1-b)\\, g`; ``m`` is ``(3, *g.shape)``."""
    b = _decays(MOMENTUM_DECAYS, g.ndim)
    return b * m + (1 - b) * g


def init_second_moment(p: jax.Array) -> jax.Array:
    return jnp.zeros(p.shape, jnp.float32)


def update_second_moment(v: jax.Array, g: jax.Array) -> jax.Array:
    """:math:`v \\leftarrow 0.999\\, v + 0.001\\, g^2` (a second moment, not its root)."""
    b = jnp.float32(SECOND_MOMENT_DECAY)
    return b * v + (1 - b) * g * g


# ---------------------------------------------------------------- factored moments
def factored_axes(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """``(d0, d1)``: axes of the largest and second-largest dims; None below 2 dims.

    Ties: the lower index counts as smaller, so shape (4, 4) gives d0 = 1, d1 = 0.
    """
    if len(shape) < 2:
        return None
    by_size = sorted(range(len(shape)), key=lambda axis: (shape[axis], axis))
    return by_size[-1], by_size[-2]


class FactoredMoments(NamedTuple):
    """Factored second moments of one tensor, decays on the leading axis.

    ndim >= 2: ``row`` is ``(3, *shape without d0)``, ``col`` is ``(3, *shape without d1)``.
    ndim < 2:  ``row`` is the full diagonal EMA ``(3, *shape)`` and ``col`` is None.
    """

    row: jax.Array
    col: jax.Array | None


def init_factored(p: jax.Array) -> FactoredMoments:
    n = len(FACTORED_DECAYS)
    axes = factored_axes(p.shape)
    if axes is None:
        return FactoredMoments(jnp.zeros((n,) + p.shape, jnp.float32), None)
    d0, d1 = axes
    row_shape = tuple(s for a, s in enumerate(p.shape) if a != d0)
    col_shape = tuple(s for a, s in enumerate(p.shape) if a != d1)
    zeros = lambda shape: jnp.zeros((n,) + shape, jnp.float32)
    return FactoredMoments(zeros(row_shape), zeros(col_shape))


def update_factored(fac: FactoredMoments, g: jax.Array) -> FactoredMoments:
    """EMAs of the row and column means of :math:`g^2 + 10^{-30}` (or of it, for vectors)."""
    b = _decays(FACTORED_DECAYS, g.ndim - 1)
    g2 = g * g + 1e-30
    axes = factored_axes(g.shape)
    if axes is None:
        b = _decays(FACTORED_DECAYS, g.ndim)
        return FactoredMoments(b * fac.row + (1 - b) * g2, None)
    d0, d1 = axes
    row = b * fac.row + (1 - b) * jnp.mean(g2, axis=d0)  # (3, *shape without d0)
    col = b * fac.col + (1 - b) * jnp.mean(g2, axis=d1)  # (3, *shape without d1)
    return FactoredMoments(row, col)


def expand_row(row: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """A row statistic ``(3, *shape without d0)`` -> ``(3, *shape)`` by broadcasting along d0."""
    d0, _ = factored_axes(shape)
    return jnp.broadcast_to(jnp.expand_dims(row, d0 + 1), (row.shape[0],) + shape)


def expand_col(col: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """A column statistic ``(3, *shape without d1)`` -> ``(3, *shape)`` along d1."""
    _, d1 = factored_axes(shape)
    return jnp.broadcast_to(jnp.expand_dims(col, d1 + 1), (col.shape[0],) + shape)


def factored_scales(fac: FactoredMoments, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    r"""``(row_factor, col_factor)``, each broadcastable to ``(3, *shape)``.

    .. math::
        \text{row factor} = \max\bigl(r / (\mathrm{mean}_{d_1} r + 10^{-9}),\ 10^{-9}\bigr)^{-1/2},
        \qquad \text{col factor} = \max(c,\ 10^{-9})^{-1/2}

    For vectors and scalars the row factor is :math:`\max(u + 10^{-9}, 10^{-9})^{-1/2}` and
    the column factor 1.
    """
    axes = factored_axes(shape)
    if axes is None:
        return jax.lax.rsqrt(jnp.maximum(fac.row + 1e-9, 1e-9)), jnp.ones((), jnp.float32)
    d0, d1 = axes
    d1_in_row = d1 if d1 < d0 else d1 - 1  # row statistics lack axis d0
    row_mean = jnp.mean(fac.row, axis=d1_in_row + 1, keepdims=True)
    row_factor = jax.lax.rsqrt(jnp.maximum(fac.row / (row_mean + 1e-9), 1e-9))
    col_factor = jax.lax.rsqrt(jnp.maximum(fac.col, 1e-9))
    return jnp.expand_dims(row_factor, d0 + 1), jnp.expand_dims(col_factor, d1 + 1)


def factored_gradient(fac: FactoredMoments, g: jax.Array) -> jax.Array:
    """:math:`\\hat g_b = g \\cdot` row factor :math:`\\cdot` col factor, ``(3, *g.shape)``."""
    row_factor, col_factor = factored_scales(fac, g.shape)
    return g * row_factor * col_factor

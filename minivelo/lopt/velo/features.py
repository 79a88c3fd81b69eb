r"""What VeLO looks at: loss features, 30 features per tensor, 30 channels per parameter.

Three kinds of input, from the coarsest to the finest:

1. **Loss features** (9 numbers shared by all tensors): where the training loss sits
   between its running minimum and its smoothed values at 10 timescales.
2. **Per-tensor features** (30 per tensor, the LSTM's input): training progress, the loss
   features, and scale-free summaries of the tensor's momentum and second moment.
3. **Per-parameter channels** (30 per scalar parameter, the MLP's input): the gradient,
   the parameter, its accumulators and Adam/Adafactor-like ratios of them, each channel
   normalised by its root-mean-square over the tensor.
"""

from __future__ import annotations

import concurrent.futures
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.lopt.velo import accumulators as acc

NUM_LOSS_TIMESCALES = 10
FRACTION_TRAINED_TAUS = (0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)
MAX_RANK_CLASSES = 5  # one-hot of the number of dims with size > 1: 0..4


# ---------------------------------------------------------------- 1. loss features
class LossBuffer(NamedTuple):
    """EMAs of the training loss at 10 timescales and their running minima."""

    means: jax.Array  # (10,) EMAs of the loss, not bias-corrected
    running_min: jax.Array  # (10,) running minimum of the bias-corrected EMAs
    iteration: jax.Array  # int32, losses seen so far


def loss_decays(num_steps: int) -> jax.Array:
    r"""Decays of the 10 loss EMAs: half-lives log-spaced from 10 to ``num_steps``.

    .. math:: \lambda_j = e^{-1/h_j}, \qquad h = \mathrm{logspace}(1, \log_{10} N, 10)

    ``num_steps`` may be traced (meta-training over horizons passes :math:`N` as data);
    then the decays are computed in the traced program, equal to the eager ones to an ulp.
    """
    if isinstance(num_steps, jax.core.Tracer):
        return _loss_decays(jnp.asarray(num_steps, jnp.float32))
    return jnp.asarray(_eager_loss_decays(int(num_steps)))


@functools.lru_cache(maxsize=64)
def _eager_loss_decays(num_steps: int) -> np.ndarray:
    # Computed eagerly, then embedded as a constant: only eager evaluation rounds the decays
    # exactly as the published model does (XLA constant folding differs by an ulp, which the
    # ill-conditioned loss features amplify to 1e-3). A worker thread has no jit trace.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return np.asarray(pool.submit(_loss_decays, num_steps).result())


def _loss_decays(num_steps: int) -> jax.Array:
    halflife = jnp.logspace(1.0, jnp.log10(jnp.float32(num_steps)), NUM_LOSS_TIMESCALES)
    return jnp.exp(-1.0 / halflife)


def init_loss_buffer() -> LossBuffer:
    zeros = jnp.zeros((NUM_LOSS_TIMESCALES,), jnp.float32)
    return LossBuffer(zeros, jnp.full_like(zeros, 1e12), jnp.zeros((), jnp.int32))


def update_loss_buffer(buffer: LossBuffer, loss: jax.Array, decays: jax.Array) -> LossBuffer:
    r"""Add one loss :math:`L` to the buffer, capping upward spikes at twice the largest EMA.

    .. math::
        \bar\mu_j &= \mu_j / (1 - \lambda_j^{t+1}), \qquad
        L' = \min(2\,|\max_j \bar\mu_j|,\ L) \quad (L' = L \text{ at } t = 0) \\
        \mu_j &\leftarrow \lambda_j \mu_j + (1 - \lambda_j)\, L', \qquad
        \text{min}_j \leftarrow \min\bigl(\text{min}_j,\ \mu_j / (1 - \lambda_j^{t+1})\bigr)
    """
    loss = jnp.asarray(loss, jnp.float32)
    bias_correction = 1.0 - decays ** (buffer.iteration + 1).astype(jnp.float32)
    corrected = buffer.means / bias_correction  # bar mu_j
    largest = jnp.where(buffer.iteration == 0, loss, jnp.max(corrected))
    capped = jnp.minimum(2.0 * jnp.abs(largest), loss)  # L'
    means = buffer.means * decays + capped * (1.0 - decays)
    running_min = jnp.minimum(buffer.running_min, means / bias_correction)
    return LossBuffer(means, running_min, buffer.iteration + 1)


def loss_features(buffer: LossBuffer, decays: jax.Array) -> jax.Array:
    r"""9 features: how far each smoothed loss is above its running minimum, relative to
    the next (slower) timescale's distance; zero for the first two updates.

    .. math::
        f_j = \mathrm{clip}\!\left(\frac{\bar\mu_j - \text{min}_j}
              {\max(10^{-8},\ \bar\mu_{j+1} - \text{min}_j)} - 1,\ -1,\ 1\right),
        \quad j = 0..8

    Ill-conditioned in float32 (differences of nearly equal EMAs): expect ~1e-3.
    """
    corrected = buffer.means / (1.0 - decays ** buffer.iteration.astype(jnp.float32))
    rmin = buffer.running_min
    ratio = (corrected[:-1] - rmin[:-1]) / jnp.maximum(1e-8, corrected[1:] - rmin[:-1])
    features = jnp.clip(ratio - 1.0, -1.0, 1.0)
    return jnp.where(buffer.iteration <= 2, 0.0, features)


# ---------------------------------------------------------------- 2. per-tensor features
def clipped_log_abs(x: jax.Array) -> jax.Array:
    r""":math:`\mathrm{cla}(x) = \tfrac12\,\mathrm{clip}(\log(10^{-8} + |10 x|), -5, 5)`."""
    return 0.5 * jnp.clip(jnp.log(1e-8 + jnp.abs(10.0 * x)), -5.0, 5.0)


def fraction_trained_features(fraction_trained: jax.Array) -> jax.Array:
    r"""9 soft "have we passed :math:`\tau`?" flags: :math:`\tanh(10\,(f - \tau))`."""
    taus = jnp.asarray(FRACTION_TRAINED_TAUS, jnp.float32)
    return jnp.tanh(10.0 * (fraction_trained - taus))


def rank_one_hot(shape: tuple[int, ...]) -> jax.Array:
    """One-hot (5,) of the number of dims with size > 1; zeros for 5 or more."""
    rank = sum(1 for size in shape if size > 1)
    return jax.nn.one_hot(rank, MAX_RANK_CLASSES, dtype=jnp.float32)


def tensor_features(
    p: jax.Array,
    momentum: jax.Array,
    second_moment: jax.Array,
    fraction_trained: jax.Array,
    loss_feats: jax.Array,
) -> jax.Array:
    r"""The 30 LSTM input features of one tensor, from its OLD accumulators.

    With :math:`n = \max(10^{-9}, \mathrm{mean}(p^2))^{-1/2}` (the tensor's inverse scale):

    ====== ====================================================================
    0-8    :math:`\tanh(10 (f - \tau))`, f = fraction trained
    9-17   the 9 loss features
    18     :math:`\mathrm{cla}(\mathrm{mean}(v\, n))`
    19-23  one-hot of the number of dims with size > 1
    24-26  :math:`\mathrm{cla}(\mathrm{var}(m_b\, n))`, one per momentum decay
    27-29  :math:`\mathrm{cla}(\mathrm{mean}((v\, n - \mathrm{mean}(m_b\, n))^2))` (a quirk of
           the published model: rms minus the momentum's mean; kept, the weights expect it)
    ====== ====================================================================
    """
    tensor_axes = tuple(range(1, momentum.ndim))  # all axes but the decay axis
    inv_scale = jax.lax.rsqrt(jnp.maximum(1e-9, jnp.mean(p * p)))  # n
    m_scaled = momentum * inv_scale  # (3, *shape)
    rms_scaled = second_moment * inv_scale  # rms * n, not n^2
    m_mean = jnp.mean(m_scaled, axis=tensor_axes, keepdims=True)  # (3, 1, ...)
    m_var = jnp.mean((m_scaled - m_mean) ** 2, axis=tensor_axes)  # (3,)
    rms_quirk = jnp.mean((rms_scaled[None] - m_mean) ** 2, axis=tensor_axes)  # (3,)
    return jnp.concatenate(
        [
            fraction_trained_features(fraction_trained),  # 0-8
            loss_feats,  # 9-17
            clipped_log_abs(jnp.mean(rms_scaled))[None],  # 18
            rank_one_hot(p.shape),  # 19-23
            clipped_log_abs(m_var),  # 24-26
            clipped_log_abs(rms_quirk),  # 27-29
        ]
    )


# ---------------------------------------------------------------- 3. per-parameter channels
def parameter_features(
    g: jax.Array,
    p: jax.Array,
    momentum: jax.Array,
    second_moment: jax.Array,
    factored: acc.FactoredMoments,
) -> list[jax.Array]:
    r"""The 14 input groups (30 channels) of the per-parameter MLP, NEW accumulators.

    Each group is ``(k, *p.shape)``, k channels. With :math:`\rho = (v + 10^{-6})^{-1/2}`,
    row/col the factored statistics broadcast to the tensor's shape and :math:`s_r, s_c`
    the row/col factors (:mod:`.accumulators`):

    ===== === ==========================================================================
    group  k  channel
    ===== === ==========================================================================
    0      1  :math:`g`
    1      1  :math:`\mathrm{clip}(g, -0.1, 0.1)`
    2      1  :math:`p`
    3      3  :math:`m_b`
    4      1  :math:`v`
    5      3  :math:`m_b \rho` (Adam-like direction)
    6      1  :math:`\rho`
    7      3  :math:`\hat g_b` (Adafactor-normalised gradient)
    8      1  :math:`g \rho`
    9      3  row statistic :math:`r_b` (vectors: the diagonal EMA :math:`u_b`)
    10     3  column statistic :math:`c_b` (vectors: :math:`u_b`)
    11     3  :math:`(r_b + 10^{-8})^{-1/2}`
    12     3  :math:`(c_b + 10^{-8})^{-1/2}`
    13     3  :math:`m_b\, s_r s_c` (vectors: :math:`m_b\, u_b^{-1/2}`, no epsilon)
    ===== === ==========================================================================
    """
    shape = p.shape
    rsqrt_rms = jax.lax.rsqrt(second_moment + 1e-6)  # rho
    if acc.factored_axes(shape) is None:
        row = col = factored.row  # the diagonal EMA u_b, (3, *shape)
        factored_momentum = momentum * jax.lax.rsqrt(factored.row)
    else:
        row = acc.expand_row(factored.row, shape)
        col = acc.expand_col(factored.col, shape)
        row_factor, col_factor = acc.factored_scales(factored, shape)
        factored_momentum = momentum * row_factor * col_factor
    return [
        g[None],  # 0
        jnp.clip(g, -0.1, 0.1)[None],  # 1
        p[None],  # 2
        momentum,  # 3
        second_moment[None],  # 4
        momentum * rsqrt_rms,  # 5
        rsqrt_rms[None],  # 6
        acc.factored_gradient(factored, g),  # 7
        (g * rsqrt_rms)[None],  # 8
        row,  # 9
        col,  # 10
        jax.lax.rsqrt(row + 1e-8),  # 11
        jax.lax.rsqrt(col + 1e-8),  # 12
        factored_momentum,  # 13
    ]


def normalise_channels(x: jax.Array) -> jax.Array:
    r"""Normalise each channel (leading axis) over the whole tensor.

    .. math:: x \leftarrow x / \sqrt{10^{-5} + \mathrm{mean}(x^2)}
    """
    tensor_axes = tuple(range(1, x.ndim))
    return x * jax.lax.rsqrt(1e-5 + jnp.mean(x * x, axis=tensor_axes, keepdims=True))

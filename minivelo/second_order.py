r"""Second-order information without the Hessian: Hutchinson's diagonal and AdaHessian.

A network with :math:`d` parameters has a :math:`d \times d` Hessian :math:`H`: far too big
to form. But a Hessian-*vector* product :math:`Hz` costs about two gradients (forward-mode
differentiation of the gradient, ``jax.jvp(jax.grad(f), ...)``), and Hutchinson (1990)
showed that random probes turn such products into an estimate of the diagonal:

.. math::
    z_i \in \{-1, +1\} \text{ uniformly (Rademacher)}, \qquad
    \mathbb{E}[z \odot Hz]_i = \sum_j H_{ij}\, \mathbb{E}[z_i z_j] = H_{ii},

because :math:`\mathbb{E}[z_i z_j] = \delta_{ij}`. One probe gives an unbiased estimate
whose variance in coordinate :math:`i` is :math:`\sum_{j \ne i} H_{ij}^2` (exact where
:math:`H` is diagonal); averaging :math:`n` probes divides it by :math:`n`.

AdaHessian (Yao et al. 2021) puts that estimate where Adam has the squared gradient::

    grads, hessian_diagonal = grad_and_hutchinson_diagonal(loss_fn, params, key)
    updates, state = opt.update(grads, state, params, hessian_diagonal=hessian_diagonal)

The extra cost is explicit in the interface: the update cannot run without the
``hessian_diagonal`` that the caller computed (one more Hessian-vector product per probe).

Non-finite inputs and hyperparameters behave as in :mod:`minivelo.optim`: a NaN or inf
in the gradient or in the Hessian diagonal makes that coordinate's update non-finite from
then on (never silently zero), and values no one can mean raise a ``ValueError``.

References:
  Hutchinson (1990), "A stochastic estimator of the trace of the influence matrix for
  Laplacian smoothing splines", Communications in Statistics - Simulation and
  Computation 19(2). https://doi.org/10.1080/03610919008812866

  Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney (2021), "ADAHESSIAN: An Adaptive Second
  Order Optimizer for Machine Learning", AAAI. https://arxiv.org/abs/2006.00719
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minivelo._optim_common import (
    DECAY,
    NON_NEGATIVE,
    UNIT,
    ScalarOrSchedule,
    check_hyperparameters,
    check_learning_rate,
    increment,
    learning_rate_at,
    nan_unless_finite,
    zeros_like,
)

__all__ = [
    "rademacher_like",
    "hutchinson_diagonal",
    "grad_and_hutchinson_diagonal",
    "spatial_average",
    "adahessian",
    "AdaHessianState",
]

PyTree = Any


# ---------------------------------------------------------------------------------------
# Hutchinson's estimate of the Hessian diagonal
# ---------------------------------------------------------------------------------------


def rademacher_like(key: jax.Array, params: PyTree) -> PyTree:
    """A pytree shaped like ``params`` with independent entries drawn from {-1, +1}."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    probes = [
        jax.random.rademacher(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)
    ]
    return jax.tree.unflatten(treedef, probes)


def grad_and_hutchinson_diagonal(
    loss_fn: Callable[[PyTree], jax.Array], params: PyTree, key: jax.Array, num_probes: int = 1
) -> tuple[PyTree, PyTree]:
    r"""The gradient and Hutchinson's estimate of the Hessian diagonal, sharing one linearisation.

    .. math::
        g = \nabla f(\theta), \qquad
        \widehat{\mathrm{diag}\, H} = \frac1n \sum_{k=1}^{n} z_k \odot H z_k,
        \quad z_k \sim \text{Rademacher}

    ``jax.linearize(jax.grad(loss_fn), params)`` runs the backward pass once and returns
    the gradient and the linear map :math:`z \mapsto Hz` (forward-over-reverse); each probe
    then costs one Hessian-vector product, about one more gradient.

    Args:
      loss_fn: ``params -> scalar`` (close over the minibatch).
      params: where to evaluate.
      key: a JAX key for the probes.
      num_probes: :math:`n`, the number of probes averaged (>= 1).

    Returns:
      ``(grads, hessian_diagonal)``, two pytrees shaped like ``params``.

    Example (a diagonal Hessian, where one probe is already exact):

      >>> loss_fn = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 10.0]) * w**2)
      >>> grads, diag = grad_and_hutchinson_diagonal(loss_fn, jnp.ones(2), jax.random.key(0))
      >>> print(grads.tolist(), diag.tolist())
      [1.0, 10.0] [1.0, 10.0]

    References:
      Hutchinson (1990), "A stochastic estimator of the trace of the influence matrix for
      Laplacian smoothing splines", Communications in Statistics - Simulation and
      Computation 19(2). https://doi.org/10.1080/03610919008812866
    """
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be a positive integer, got {num_probes!r}")
    grads, hessian_vector_product = jax.linearize(jax.grad(loss_fn), params)

    def add_probe(total, probe_key):
        z = rademacher_like(probe_key, params)
        hz = hessian_vector_product(z)  # H z, one forward-over-reverse pass
        return jax.tree.map(lambda t, zi, hzi: t + zi * hzi, total, z, hz), None  # sum z * Hz

    total, _ = jax.lax.scan(add_probe, zeros_like(params), jax.random.split(key, num_probes))
    return grads, jax.tree.map(lambda t: t / num_probes, total)


def hutchinson_diagonal(
    loss_fn: Callable[[PyTree], jax.Array], params: PyTree, key: jax.Array, num_probes: int = 1
) -> PyTree:
    r"""Hutchinson's unbiased estimate of :math:`\mathrm{diag}\,\nabla^2 f(\theta)`.

    See :func:`grad_and_hutchinson_diagonal`, which also returns the gradient at no extra
    cost; this returns only the diagonal.
    """
    return grad_and_hutchinson_diagonal(loss_fn, params, key, num_probes)[1]


def spatial_average(hessian_diagonal: PyTree) -> PyTree:
    r"""AdaHessian's spatial averaging: one curvature value per convolution filter tap set.

    .. math::
        D^{(s)}_{a b c o} = \frac{1}{k_h k_w} \sum_{a', b'} D_{a' b' c o}

    For every 4-D leaf (a convolution kernel in HWIO layout ``[kh, kw, in, out]``, as in
    :mod:`minivelo.tasks.layers`) the estimate is averaged over the two spatial axes and
    broadcast back: the :math:`k_h k_w` weights of one (input, output) channel pair share
    one value, which smooths the noisy single-probe estimate (Yao et al. 2021, section
    3.3). Other leaves are returned unchanged.
    """

    def average(d):
        if jnp.ndim(d) != 4:
            return d
        return jnp.broadcast_to(jnp.mean(d, axis=(0, 1), keepdims=True), d.shape)

    return jax.tree.map(average, hessian_diagonal)


# ---------------------------------------------------------------------------------------
# AdaHessian
# ---------------------------------------------------------------------------------------


class AdaHessianState(NamedTuple):
    count: jax.Array  # t, the number of updates done so far
    mu: optax.Updates  # m_t, EMA of the gradient
    nu: optax.Updates  # v_t, EMA of the squared Hessian-diagonal estimate


def adahessian(
    learning_rate: ScalarOrSchedule = 0.15,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    weight_decay: float = 0.0,
    hessian_power: float = 1.0,
    spatial_averaging: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""AdaHessian (Yao et al. 2021): Adam with the Hessian diagonal in place of :math:`g^2`.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, D_t \odot D_t, \\
        \hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad
        u_t = -\eta \left( \frac{\hat m_t}{\big(\sqrt{v_t / (1-\beta_2^t)}\big)^{k} + \epsilon}
              + \lambda\, \theta_{t-1} \right)

    where :math:`D_t` is Hutchinson's estimate of :math:`\mathrm{diag}\,\nabla^2 f`
    (:func:`grad_and_hutchinson_diagonal`), optionally spatially averaged
    (:func:`spatial_average`), and :math:`k` is the Hessian power. With :math:`k = 1` this
    is a diagonal, RMS-smoothed Newton step :math:`g / |H_{ii}|`: large steps along flat
    directions, small ones along curved directions, measured by curvature instead of by
    gradient size as in Adam. The RMS over time of :math:`D_t` (not :math:`D_t` itself)
    keeps the denominator positive where the Hessian is indefinite and averages away
    Hutchinson's noise. :math:`k < 1` interpolates towards SGD with momentum (:math:`k=0`).

    Conventions follow the authors' PyTorch code: defaults :math:`\eta = 0.15`,
    :math:`\epsilon = 10^{-4}`, decoupled weight decay multiplied by :math:`\eta` (as in
    :func:`~minivelo.optim.adamw`). Feeding :math:`D_t = g_t` with :math:`k=1` gives
    exactly Adam (AdamW with weight decay): that reduction is tested against optax.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1: :math:`\beta_1`, the EMA coefficient of the gradient.
      b2: :math:`\beta_2`, the EMA coefficient of the squared Hessian diagonal.
      eps: :math:`\epsilon`, added to the denominator.
      weight_decay: :math:`\lambda`, decoupled.
      hessian_power: :math:`k \in [0, 1]`.
      spatial_averaging: average :math:`D_t` over the spatial axes of 4-D (conv) leaves.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update(grads, state, params,
      hessian_diagonal=D)`` *requires* the Hessian-diagonal estimate, a pytree shaped like
      the gradients.

    Raises:
      ValueError: ``b1`` or ``b2`` outside [0, 1), ``eps`` or ``weight_decay`` negative,
        ``hessian_power`` outside [0, 1], or any of them NaN or inf.

    Example (on a quadratic with curvatures 1 and 10, the first step with :math:`\eta =
    1` is a Newton step: both coordinates land on the minimum, up to :math:`\epsilon`):

      >>> loss_fn = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 10.0]) * w**2)
      >>> params = jnp.array([1.0, 1.0])
      >>> grads, diag = grad_and_hutchinson_diagonal(loss_fn, params, jax.random.key(0))
      >>> opt = adahessian(learning_rate=1.0)
      >>> updates, state = opt.update(grads, opt.init(params), params, hessian_diagonal=diag)
      >>> print([round(u, 3) for u in updates.tolist()])
      [-1.0, -1.0]

    References:
      Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney (2021), "ADAHESSIAN: An Adaptive
      Second Order Optimizer for Machine Learning", AAAI. https://arxiv.org/abs/2006.00719
    """
    check_learning_rate("adahessian", learning_rate)
    check_hyperparameters(
        "adahessian",
        b1=(b1, DECAY),
        b2=(b2, DECAY),
        eps=(eps, NON_NEGATIVE),
        weight_decay=(weight_decay, NON_NEGATIVE),
        hessian_power=(hessian_power, UNIT),
    )

    def init(params):
        return AdaHessianState(
            count=jnp.zeros([], jnp.int32), mu=zeros_like(params), nu=zeros_like(params)
        )

    def update(grads, state, params=None, *, hessian_diagonal=None, **extra_args):
        del extra_args  # other transforms' extra arguments, when chained
        if hessian_diagonal is None:
            raise ValueError(
                "adahessian needs the Hessian-diagonal estimate: "
                "grads, diag = grad_and_hutchinson_diagonal(loss_fn, params, key); "
                "opt.update(grads, state, params, hessian_diagonal=diag)"
            )
        if jax.tree.structure(hessian_diagonal) != jax.tree.structure(grads):
            raise ValueError("hessian_diagonal must be a pytree with the structure of grads")
        if weight_decay and params is None:
            raise ValueError(
                "adahessian with weight_decay needs the parameters: update(grads, state, params)"
            )
        if spatial_averaging:
            hessian_diagonal = spatial_average(hessian_diagonal)
        eta = learning_rate_at(learning_rate, state.count)
        count = increment(state.count)  # t
        t = count.astype(jnp.float32)
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)  # m_t
        # v_t = b2 v_{t-1} + (1 - b2) D^2
        nu = jax.tree.map(lambda v, d: b2 * v + (1 - b2) * d * d, state.nu, hessian_diagonal)

        def direction(m, v):  # m_hat / (sqrt(v_hat)^k + eps)
            d = (m / (1 - b1**t)) / (jnp.sqrt(v / (1 - b2**t)) ** hessian_power + eps)
            return nan_unless_finite(d, v)  # an infinite v_t would give a silent 0

        directions = jax.tree.map(direction, mu, nu)
        if weight_decay:
            updates = jax.tree.map(lambda d, p: -eta * (d + weight_decay * p), directions, params)
        else:
            updates = jax.tree.map(lambda d: -eta * d, directions)
        return updates, AdaHessianState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformationExtraArgs(init, update)

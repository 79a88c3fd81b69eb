r"""Classical optimizers, written by hand as optax transforms.

Each function returns an ``optax.GradientTransformation`` whose ``update`` maps gradients
:math:`g_t` to the *update* :math:`u_t` that is added to the parameters,
:math:`\theta_{t+1} = \theta_t + u_t` (so updates carry the minus sign, as in optax).
Use them exactly like optax's optimizers::

    opt = minivelo.optim.adam(1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)

Every optimizer here is tested to equal its optax counterpart to 1e-6 relative over 100+
steps (``tests/test_optim.py``). Where the textbook and optax disagree on a convention,
the docstring says which one we follow and how to get the other.

A learning rate may be a number or a schedule ``count -> learning rate`` (as in optax).

Non-finite gradients. A NaN or :math:`\pm\infty` in a gradient is never hidden or
skipped: the update of that coordinate is NaN or :math:`\pm\infty` at that step and, for
every optimizer with state (all but :func:`sgd`), at every later step too, because the
state carries it. So a diverged run shows NaN in its parameters, as with optax; nothing
freezes a coordinate silently. Where optax hides it we do not (tested): ``optax.adagrad``
returns 0 for such a coordinate from the second step on, ``optax.adagrad`` and
``optax.rmsprop`` divide every later gradient by an infinite accumulator (updates of 0
for ever) after an infinite gradient, and ``optax.lion`` turns an infinite momentum into a
finite step :math:`\pm\eta` for ever. For finite gradients nothing changes.
To *skip* steps with non-finite gradients instead (what :func:`minivelo.velo` does),
wrap an optimizer in ``optax.apply_if_finite(opt, max_consecutive_errors)``.

Hyperparameters. Values no one can mean raise a ``ValueError`` naming the argument: EMA
coefficients (``beta``, ``b1``, ``b2``, ``decay``, ``rho``) outside :math:`[0, 1)`, a
negative ``eps`` or ``weight_decay``, NaN or inf anywhere. optax 0.2.8 accepts all of
these silently. A negative learning rate is allowed, as in optax (it ascends). A traced
value (under ``jax.vmap``) is not checked.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from minivelo._optim_common import (
    DECAY,
    NON_NEGATIVE,
    ScalarOrSchedule,
    check_hyperparameters,
    check_learning_rate,
    increment,
    learning_rate_at,
    nan_unless_finite,
    no_decay,
    zeros_like,
)
from minivelo.second_order import adahessian  # AdaHessian, reachable as optim.adahessian

__all__ = [
    "adahessian",
    "sgd",
    "momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "nadam",
    "adamax",
    "lion",
]


# ---------------------------------------------------------------------------------------
# Optimizer states (the helpers shared with second_order live in minivelo._optim_common)
# ---------------------------------------------------------------------------------------


class CountState(NamedTuple):
    """Only a step counter (for learning-rate schedules)."""

    count: jax.Array


class MomentumState(NamedTuple):
    count: jax.Array
    velocity: optax.Updates  # v_t, one array per parameter


class AccumulatorState(NamedTuple):
    count: jax.Array
    sum_of_squares: optax.Updates  # AdaGrad's G_t or RMSProp's running mean s_t


class AdadeltaState(NamedTuple):
    count: jax.Array
    mean_square_grad: optax.Updates  # E[g^2]_t
    mean_square_step: optax.Updates  # E[dx^2]_t, the running mean of squared steps


class AdamState(NamedTuple):
    count: jax.Array  # t, the number of updates done so far
    mu: optax.Updates  # m_t, first moment (EMA of g)
    nu: optax.Updates  # v_t, second moment (EMA of g^2)


# ---------------------------------------------------------------------------------------
# Gradient descent and momentum
# ---------------------------------------------------------------------------------------


def sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    r"""(Stochastic) gradient descent (Robbins & Monro 1951).

    .. math::
        u_t = -\eta\, g_t

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.sgd(learning_rate)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = sgd(0.1)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # -eta g
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.05, 0.3]

    References:
      Robbins & Monro (1951), "A Stochastic Approximation Method", Annals of
      Mathematical Statistics 22(3). https://doi.org/10.1214/aoms/1177729586
    """
    check_learning_rate("sgd", learning_rate)

    def init(params):
        del params
        return CountState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        updates = jax.tree.map(lambda g: -eta * g, grads)  # u = -eta g
        return updates, CountState(count=increment(state.count))

    return optax.GradientTransformation(init, update)


def momentum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9, nesterov: bool = False
) -> optax.GradientTransformation:
    r"""Heavy-ball momentum (Polyak 1964); Nesterov's look-ahead (Nesterov 1983) if asked.

    .. math::
        v_t = \beta\, v_{t-1} + g_t, \qquad
        u_t = \begin{cases} -\eta\,(g_t + \beta\, v_t) & \text{Nesterov} \\
                            -\eta\, v_t & \text{heavy ball} \end{cases}

    with :math:`v_0 = 0`. This is the "velocity accumulates raw gradients" form used by
    PyTorch and optax; the form :math:`v_t = \beta v_{t-1} - \eta g_t` of Sutskever et
    al. (2013) gives the same iterates for a constant learning rate. The Nesterov variant
    is the reformulation of Sutskever et al. that evaluates the gradient at the current
    parameters (Bengio et al. 2013).

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      beta: the momentum coefficient :math:`\beta`.
      nesterov: use the look-ahead form.

    Returns:
      An ``optax.GradientTransformation``; equal to
      ``optax.sgd(learning_rate, momentum=beta, nesterov=nesterov)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = momentum(0.1, beta=0.9)
      >>> state = opt.init(params)
      >>> _, state = opt.update(grads, state)
      >>> updates, state = opt.update(grads, state)  # the same gradient again
      >>> # -eta (1 + beta) g: the velocity has built up
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.095, 0.57]

    References:
      Polyak (1964), "Some methods of speeding up the convergence of iteration methods",
      USSR Computational Mathematics and Mathematical Physics 4(5).
      https://doi.org/10.1016/0041-5553(64)90137-5

      Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization and
      momentum in deep learning", ICML. https://proceedings.mlr.press/v28/sutskever13.html

      Bengio, Boulanger-Lewandowski & Pascanu (2013), "Advances in optimizing recurrent
      networks", ICASSP (the Nesterov reformulation). https://arxiv.org/abs/1212.0901
    """
    check_learning_rate("momentum", learning_rate)
    check_hyperparameters("momentum", beta=(beta, DECAY))

    def init(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), velocity=zeros_like(params))

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        velocity = jax.tree.map(lambda v, g: beta * v + g, state.velocity, grads)  # v_t
        if nesterov:
            direction = jax.tree.map(lambda v, g: g + beta * v, velocity, grads)  # g + b v_t
        else:
            direction = velocity
        updates = jax.tree.map(lambda d: -eta * d, direction)
        return updates, MomentumState(count=increment(state.count), velocity=velocity)

    return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------------------------------
# Per-parameter step sizes: AdaGrad, RMSProp and Adadelta
# ---------------------------------------------------------------------------------------


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    r"""AdaGrad (Duchi, Hazan & Singer 2011): step sizes shrink with the summed squares.

    .. math::
        G_t = G_{t-1} + g_t^2, \qquad
        u_t = -\eta\, \frac{g_t}{\sqrt{G_t + \epsilon}}

    (elementwise), with :math:`G_0` = ``initial_accumulator_value``.

    Conventions. The textbook (Duchi et al.; Goodfellow et al. 2016, Alg. 8.4) starts
    from :math:`G_0 = 0` and puts :math:`\epsilon` outside the root,
    :math:`g / (\delta + \sqrt{G_t})`. We follow optax: :math:`G_0 = 0.1` by default and
    :math:`\epsilon` inside the root; a coordinate whose :math:`G_t` is exactly 0 (only
    possible with :math:`G_0 = 0`) gets a zero update. A NaN or inf gradient makes
    :math:`G_t` non-finite and so every later update of that coordinate NaN; optax
    returns 0 there from the next step on, which freezes the coordinate silently (we
    differ from optax only there, see the module docstring). Pass
    ``initial_accumulator_value=0.0`` for the textbook's start (tested); with
    :math:`G_0 = 0` the first update of every coordinate is then :math:`-\eta\,
    \mathrm{sign}(g)` (up to :math:`\epsilon`). ``eps_in_sqrt=False`` puts
    :math:`\epsilon` outside the root, :math:`g / (\sqrt{G_t} + \epsilon)`, as the
    textbook and PyTorch do (tested against that formula written in NumPy).

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      initial_accumulator_value: :math:`G_0`, must be >= 0.
      eps: :math:`\epsilon`, added inside the square root (or outside, see below).
      eps_in_sqrt: add :math:`\epsilon` inside the square root (optax) or outside.

    Returns:
      An ``optax.GradientTransformation``; equal to
      ``optax.adagrad(learning_rate, initial_accumulator_value, eps)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = adagrad(0.1, initial_accumulator_value=0.0)  # the textbook start
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # -eta sign(g): G_1 = g^2
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.1, 0.1]

    References:
      Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization", JMLR 12. https://jmlr.org/papers/v12/duchi11a.html
    """
    check_learning_rate("adagrad", learning_rate)
    check_hyperparameters(
        "adagrad",
        initial_accumulator_value=(initial_accumulator_value, NON_NEGATIVE),
        eps=(eps, NON_NEGATIVE),
    )

    def init(params):
        accumulator = jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        return AccumulatorState(count=jnp.zeros([], jnp.int32), sum_of_squares=accumulator)

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        sum_of_squares = jax.tree.map(lambda s, g: s + g * g, state.sum_of_squares, grads)  # G_t

        def step(g, s):  # -eta g / sqrt(G_t + eps) or -eta g / (sqrt(G_t) + eps); 0 where G_t == 0
            scale = jax.lax.rsqrt(s + eps) if eps_in_sqrt else 1.0 / (jnp.sqrt(s) + eps)
            # `s == 0`, not `s > 0` (optax): a NaN or inf G_t must give NaN, not freeze at 0
            return jnp.where(s == 0, 0.0, nan_unless_finite(-eta * g * scale, s))

        updates = jax.tree.map(step, grads, sum_of_squares)
        return updates, AccumulatorState(
            count=increment(state.count), sum_of_squares=sum_of_squares
        )

    return optax.GradientTransformation(init, update)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    r"""RMSProp (Tieleman & Hinton 2012, lecture 6e): AdaGrad with a forgetting average.

    .. math::
        s_t = \rho\, s_{t-1} + (1-\rho)\, g_t^2, \qquad
        u_t = -\eta\, \frac{g_t}{\sqrt{s_t + \epsilon}}

    with :math:`s_0 = 0` and :math:`\rho` = ``decay``.

    Conventions. Where :math:`\epsilon` sits differs between libraries: optax (our
    default) adds it inside the root; PyTorch and Keras use
    :math:`g / (\sqrt{s_t} + \epsilon)`, which ``eps_in_sqrt=False`` gives (tested against
    ``optax.rmsprop(..., eps_in_sqrt=False)``). The two differ only while :math:`s_t` is
    comparable to :math:`\epsilon` (or :math:`\epsilon^2`), i.e. for tiny gradients.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      decay: :math:`\rho`, the EMA coefficient of squared gradients.
      eps: :math:`\epsilon`.
      eps_in_sqrt: add :math:`\epsilon` inside the square root (optax) or outside.

    Returns:
      An ``optax.GradientTransformation``; equal to
      ``optax.rmsprop(learning_rate, decay, eps, eps_in_sqrt=eps_in_sqrt)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = rmsprop(0.1, decay=0.9)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # s_1 = 0.1 g^2, so -eta sign(g) sqrt(10)
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.3162, 0.3162]

    References:
      Tieleman & Hinton (2012), "Lecture 6e: rmsprop: Divide the gradient by a running
      average of its recent magnitude", Neural Networks for Machine Learning (Coursera).
      https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf
    """
    check_learning_rate("rmsprop", learning_rate)
    check_hyperparameters("rmsprop", decay=(decay, DECAY), eps=(eps, NON_NEGATIVE))

    def init(params):
        return AccumulatorState(count=jnp.zeros([], jnp.int32), sum_of_squares=zeros_like(params))

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        # s_t = rho s_{t-1} + (1 - rho) g^2
        mean_square = jax.tree.map(
            lambda s, g: decay * s + (1 - decay) * g * g, state.sum_of_squares, grads
        )
        if eps_in_sqrt:
            updates = jax.tree.map(
                lambda g, s: -eta * g * jax.lax.rsqrt(s + eps), grads, mean_square
            )
        else:
            updates = jax.tree.map(lambda g, s: -eta * g / (jnp.sqrt(s) + eps), grads, mean_square)
        # an infinite s_t would divide later gradients to a silent 0: show it as NaN
        updates = jax.tree.map(nan_unless_finite, updates, mean_square)
        return updates, AccumulatorState(count=increment(state.count), sum_of_squares=mean_square)

    return optax.GradientTransformation(init, update)


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""Adadelta (Zeiler 2012): RMSProp whose step carries its own units.

    .. math::
        g_t \leftarrow g_t + \lambda\,\theta_{t-1}, \qquad
        E[g^2]_t = \rho\, E[g^2]_{t-1} + (1-\rho)\, g_t^2, \\
        \Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\,
        g_t, \qquad
        E[\Delta^2]_t = \rho\, E[\Delta^2]_{t-1} + (1-\rho)\, \Delta_t^2, \qquad
        u_t = -\eta\, \Delta_t

    with :math:`E[g^2]_0 = E[\Delta^2]_0 = 0`. The numerator, an RMS of past *steps*,
    replaces the learning rate: Zeiler's point was that
    :math:`\Delta\theta \propto H^{-1} g` has the units of :math:`\theta` while
    :math:`g/\sqrt{E[g^2]}` is unitless, and the ratio of two RMS's fixes that. So the
    paper has no learning rate (:math:`\eta = 1`). The numerator starts at
    :math:`\sqrt\epsilon`, so the first steps are tiny and grow as steps are taken.

    Conventions. ``learning_rate=None`` means :math:`\eta = 1` (the paper's algorithm),
    equal to ``optax.adadelta(1.0, ...)`` (tested). ``optax.adadelta()`` with its default
    ``learning_rate=None`` skips the scaling *and its minus sign* (optax 0.2.8), so it
    steps uphill; pass a number to optax. The weight decay :math:`\lambda` is added to the
    gradient before the rescaling (L2-style), as in optax.

    Args:
      learning_rate: :math:`\eta` (a number or a schedule); ``None`` for 1.
      rho: :math:`\rho`, the EMA coefficient of both running means.
      eps: :math:`\epsilon`, inside both square roots.
      weight_decay: :math:`\lambda`.

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.adadelta(learning_rate, rho,
      eps, weight_decay)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = adadelta()  # no learning rate, as in the paper
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # sqrt(eps) / sqrt(0.1 g^2) |g|: tiny first steps
      >>> print([round(u, 5) for u in updates.tolist()])
      [-0.00316, 0.00316]

    References:
      Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701.
      https://arxiv.org/abs/1212.5701
    """
    if learning_rate is not None:
        check_learning_rate("adadelta", learning_rate)
    check_hyperparameters(
        "adadelta",
        rho=(rho, DECAY),
        eps=(eps, NON_NEGATIVE),
        weight_decay=(weight_decay, NON_NEGATIVE),
    )
    if learning_rate is None:
        learning_rate = 1.0

    def init(params):
        return AdadeltaState(
            count=jnp.zeros([], jnp.int32),
            mean_square_grad=zeros_like(params),
            mean_square_step=zeros_like(params),
        )

    def update(grads, state, params=None):
        if not no_decay(weight_decay):
            if params is None:
                raise ValueError(
                    "adadelta with weight_decay needs the parameters: update(grads, state, params)"
                )
            grads = jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)
        # E[g^2]_t = rho E[g^2]_{t-1} + (1 - rho) g^2
        mean_square_grad = jax.tree.map(
            lambda s, g: rho * s + (1 - rho) * g * g, state.mean_square_grad, grads
        )
        # Delta_t = sqrt(E[Delta^2]_{t-1} + eps) / sqrt(E[g^2]_t + eps) * g
        steps = jax.tree.map(
            lambda g, s, d: jnp.sqrt(d + eps) / jnp.sqrt(s + eps) * g,
            grads,
            mean_square_grad,
            state.mean_square_step,
        )
        # E[Delta^2]_t = rho E[Delta^2]_{t-1} + (1 - rho) Delta_t^2
        mean_square_step = jax.tree.map(
            lambda d, x: rho * d + (1 - rho) * x * x, state.mean_square_step, steps
        )
        eta = learning_rate_at(learning_rate, state.count)
        updates = jax.tree.map(lambda d: -eta * d, steps)  # u = -eta Delta
        return updates, AdadeltaState(
            count=increment(state.count),
            mean_square_grad=mean_square_grad,
            mean_square_step=mean_square_step,
        )

    return optax.GradientTransformation(init, update)


# ---------------------------------------------------------------------------------------
# Adam and its variants: AdamW, Nadam, Adamax
# ---------------------------------------------------------------------------------------


def _adam_moments(grads, state: AdamState, b1: float, b2: float):
    """Shared by Adam and AdamW: new moments and the bias-corrected direction."""
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)  # m_t
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)  # v_t
    count = increment(state.count)  # t
    t = count.astype(jnp.float32)
    mu_correction = 1 - b1**t  # m_hat = m_t / (1 - b1^t)
    nu_correction = 1 - b2**t  # v_hat = v_t / (1 - b2^t)
    return AdamState(count=count, mu=mu, nu=nu), mu_correction, nu_correction


def _adam_direction(state, mu_correction, nu_correction, eps):
    # m_hat / (sqrt(v_hat) + eps)
    return jax.tree.map(
        lambda m, v: (m / mu_correction) / (jnp.sqrt(v / nu_correction) + eps),
        state.mu,
        state.nu,
    )


def _check_adam_family(name, learning_rate, b1, b2, eps):
    check_learning_rate(name, learning_rate)
    check_hyperparameters(name, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, NON_NEGATIVE))


def _adam_init(params):
    return AdamState(count=jnp.zeros([], jnp.int32), mu=zeros_like(params), nu=zeros_like(params))


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    r"""Adam (Kingma & Ba 2015): momentum on a per-parameter RMS-normalised scale.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \\
        \hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t},
        \qquad u_t = -\eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`m_0 = v_0 = 0` and :math:`t = 1, 2, \dots`. The bias corrections undo the
    pull towards the zero initialisation. Without them the first step would be
    :math:`(1-\beta_1)/\sqrt{1-\beta_2} \approx 3.16` times too *large* (the second
    moment starts further below its target than the first), peaking near 6.5 times around
    step 10 with the defaults (lesson 04 prints the table).

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1: :math:`\beta_1`, the EMA coefficient of the gradient.
      b2: :math:`\beta_2`, the EMA coefficient of its square.
      eps: :math:`\epsilon`, added outside the square root (as in the paper).

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.adam(learning_rate, b1, b2,
      eps)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = adam(0.1)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # m_hat = g, v_hat = g^2: the first step is -eta sign(g)
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.1, 0.1]

    References:
      Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
      https://arxiv.org/abs/1412.6980
    """
    _check_adam_family("adam", learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        state, mu_correction, nu_correction = _adam_moments(grads, state, b1, b2)
        direction = _adam_direction(state, mu_correction, nu_correction, eps)
        return jax.tree.map(lambda d: -eta * d, direction), state

    return optax.GradientTransformation(_adam_init, update)


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    r"""AdamW (Loshchilov & Hutter 2019): Adam with *decoupled* weight decay.

    .. math::
        u_t = -\eta \left( \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
                           + \lambda\, \theta_{t-1} \right)

    with :math:`\hat m_t, \hat v_t` as in :func:`adam` and :math:`\lambda` =
    ``weight_decay``. The decay acts on the parameters directly, so it is *not* rescaled
    by :math:`1/\sqrt{\hat v_t}`. Adding :math:`\lambda\theta` to the gradient instead (L2
    regularisation inside Adam) shrinks parameters with large gradient history less than
    those with small history; lesson 04 shows the difference.

    Conventions. As in optax (and PyTorch), :math:`\lambda` is multiplied by the learning
    rate :math:`\eta`; the paper writes a separate schedule multiplier.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1, b2, eps: as in :func:`adam`.
      weight_decay: :math:`\lambda`.

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.adamw(learning_rate, b1, b2,
      eps, weight_decay=weight_decay)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = adamw(0.1, weight_decay=0.5)
      >>> updates, state = opt.update(grads, opt.init(params), params)
      >>> # -eta (sign(g) + lambda theta)
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.15, 0.2]

    References:
      Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
      https://arxiv.org/abs/1711.05101
    """
    _check_adam_family("adamw", learning_rate, b1, b2, eps)
    check_hyperparameters("adamw", weight_decay=(weight_decay, NON_NEGATIVE))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError(
                "adamw needs the current parameters: call update(grads, state, params)"
            )
        eta = learning_rate_at(learning_rate, state.count)
        state, mu_correction, nu_correction = _adam_moments(grads, state, b1, b2)
        direction = _adam_direction(state, mu_correction, nu_correction, eps)
        # u = -eta (adam direction + lambda theta)
        updates = jax.tree.map(lambda d, p: -eta * (d + weight_decay * p), direction, params)
        return updates, state

    return optax.GradientTransformation(_adam_init, update)


def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    r"""Nadam (Dozat 2016): Adam with Nesterov's look-ahead on the first moment.

    .. math::
        m_t, v_t \text{ as in Adam}, \qquad
        \hat m_t = \frac{\beta_1\, m_t}{1-\beta_1^{t+1}} + \frac{(1-\beta_1)\, g_t}{1-\beta_1^t},
        \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
        u_t = -\eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Heavy-ball momentum steps along :math:`m_t`; Nesterov's trick steps along where the
    momentum *will* be after the next update, :math:`\beta_1 m_t + (1-\beta_1) g_t`, each
    term with its own bias correction. Compare :func:`momentum` with ``nesterov=True``:
    the same look-ahead, :math:`g_t + \beta v_t`, without the normalisation.

    Conventions. Dozat's Algorithm 2 also multiplies :math:`\hat v_t` by :math:`\beta_2`
    and uses a momentum schedule :math:`\mu_t`; like optax (and PyTorch with its schedule
    off) we use neither.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1, b2, eps: as in :func:`adam`.

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.nadam(learning_rate, b1, b2,
      eps)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = nadam(0.1)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # -eta (1 + b1 (1-b1) / (1-b1^2)) sign(g)
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.1474, 0.1474]

    References:
      Dozat (2016), "Incorporating Nesterov Momentum into Adam", ICLR workshop.
      https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """
    _check_adam_family("nadam", learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        state, mu_correction, nu_correction = _adam_moments(grads, state, b1, b2)
        t = state.count.astype(jnp.float32)
        next_mu_correction = 1 - b1 ** (t + 1)  # 1 - b1^(t+1)
        # m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)
        mu_hat = jax.tree.map(
            lambda m, g: b1 * (m / next_mu_correction) + (1 - b1) * (g / mu_correction),
            state.mu,
            grads,
        )
        direction = jax.tree.map(
            lambda m, v: m / (jnp.sqrt(v / nu_correction) + eps), mu_hat, state.nu
        )
        return jax.tree.map(lambda d: -eta * d, direction), state

    return optax.GradientTransformation(_adam_init, update)


def adamax(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    r"""Adamax (Kingma & Ba 2015, section 7.1): Adam with the infinity norm.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        s_t = \max(\beta_2\, s_{t-1},\ |g_t| + \epsilon), \qquad
        u_t = -\eta\, \frac{m_t}{(1-\beta_1^t)\, s_t}

    with :math:`m_0 = s_0 = 0`. Adam's :math:`\sqrt{v_t}` is an :math:`L^2` average of past
    gradient sizes; letting the exponent :math:`p \to \infty` in an :math:`L^p` average
    gives an exponentially decaying *maximum*, which needs no bias correction (it is not
    pulled towards its zero start) and cannot be dominated by one huge gradient for long.

    Conventions. The paper writes :math:`\max(\beta_2 s_{t-1}, |g_t|)`; like optax we add
    :math:`\epsilon` to :math:`|g_t|` so that a zero gradient never divides by zero.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1: :math:`\beta_1`, the EMA coefficient of the gradient.
      b2: :math:`\beta_2`, the decay of the running maximum.
      eps: :math:`\epsilon`.

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.adamax(learning_rate, b1, b2,
      eps)`` (tested). Its state is an ``AdamState`` whose ``nu`` holds :math:`s_t`.

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = adamax(0.1)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # m_1 / (1 - b1) = g and s_1 = |g|: -eta sign(g)
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.1, 0.1]

    References:
      Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR, section 7.1.
      https://arxiv.org/abs/1412.6980
    """
    _check_adam_family("adamax", learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        count = increment(state.count)  # t
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)  # m_t
        # s_t = max(b2 s_{t-1}, |g| + eps)
        nu = jax.tree.map(lambda s, g: jnp.maximum(b2 * s, jnp.abs(g) + eps), state.nu, grads)
        mu_correction = 1 - b1 ** count.astype(jnp.float32)
        updates = jax.tree.map(lambda m, s: -eta * (m / mu_correction) / s, mu, nu)
        return updates, AdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(_adam_init, update)


# ---------------------------------------------------------------------------------------
# Lion: an optimizer found by program search
# ---------------------------------------------------------------------------------------


def _sign_or_nan(c):
    """sign(c) where c is finite, NaN where it is not (so a non-finite c is not hidden)."""
    return jnp.where(jnp.isfinite(c), jnp.sign(c), jnp.nan)


def lion(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 1e-3,
) -> optax.GradientTransformation:
    r"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    .. math::
        c_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        u_t = -\eta\, \big(\mathrm{sign}(c_t) + \lambda\, \theta_{t-1}\big), \qquad
        m_t = \beta_2 m_{t-1} + (1-\beta_2)\, g_t

    with :math:`m_0 = 0`. Found by an evolutionary search over programs built from ~45
    numpy operations, then simplified by hand. Every coordinate moves by exactly
    :math:`\pm\eta` (before weight decay): the sign throws the magnitude away, so Lion keeps
    one moment instead of Adam's two (half the optimizer memory) and its steps have a
    larger norm, which is why its learning rate is typically 3-10x smaller than AdamW's
    and its weight decay 3-10x larger. Two betas: the *update* interpolates with
    :math:`\beta_1`, the *memory* with the slower :math:`\beta_2`.

    Conventions. As in optax, :math:`\lambda` is multiplied by the learning rate. Unlike
    optax, :math:`\mathrm{sign}(\pm\infty)` is NaN here, not :math:`\pm 1`: an infinite
    gradient makes :math:`m_t` infinite for good, and optax would then step that
    coordinate by :math:`\pm\eta` for ever without a sign of trouble.

    Args:
      learning_rate: the step size :math:`\eta` (a number or a schedule).
      b1: :math:`\beta_1`, mixes momentum and gradient for the step.
      b2: :math:`\beta_2`, the EMA coefficient of the momentum.
      weight_decay: :math:`\lambda` (decoupled, as in :func:`adamw`).

    Returns:
      An ``optax.GradientTransformation``; equal to ``optax.lion(learning_rate, b1, b2,
      weight_decay=weight_decay)`` (tested).

    Example:

      >>> params = jnp.array([1.0, -2.0])
      >>> grads = jnp.array([0.5, -3.0])
      >>> opt = lion(0.1, weight_decay=0.0)
      >>> updates, state = opt.update(grads, opt.init(params))
      >>> # -eta sign(c_1): every coordinate moves by exactly eta
      >>> print([round(u, 4) for u in updates.tolist()])
      [-0.1, 0.1]

    References:
      Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le (2023), "Symbolic
      Discovery of Optimization Algorithms", NeurIPS. https://arxiv.org/abs/2302.06675
    """
    check_learning_rate("lion", learning_rate)
    check_hyperparameters(
        "lion", b1=(b1, DECAY), b2=(b2, DECAY), weight_decay=(weight_decay, NON_NEGATIVE)
    )

    def init(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), velocity=zeros_like(params))

    def update(grads, state, params=None):
        if params is None and not no_decay(weight_decay):
            raise ValueError(
                "lion with weight_decay needs the parameters: call update(grads, state, params)"
            )
        eta = learning_rate_at(learning_rate, state.count)
        # c_t = b1 m_{t-1} + (1 - b1) g
        interpolation = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.velocity, grads)
        signs = jax.tree.map(_sign_or_nan, interpolation)
        if not no_decay(weight_decay):
            updates = jax.tree.map(lambda c, p: -eta * (c + weight_decay * p), signs, params)
        else:
            updates = jax.tree.map(lambda c: -eta * c, signs)
        # m_t = b2 m_{t-1} + (1 - b2) g
        velocity = jax.tree.map(lambda m, g: b2 * m + (1 - b2) * g, state.velocity, grads)
        return updates, MomentumState(count=increment(state.count), velocity=velocity)

    return optax.GradientTransformation(init, update)

"""Hutchinson's Hessian diagonal and AdaHessian.

- The estimate is exact for a diagonal Hessian, unbiased in general, and converges to the
  true diagonal (computed by ``jax.hessian``) like 1/sqrt(probes) on a known quadratic.
- Fed the gradient as its "Hessian diagonal", AdaHessian is exactly Adam / AdamW: tested
  against optax with the harness of ``test_optim.py``.
- It converges on an ill-conditioned quadratic where gradient descent cannot.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree
from test_optim import run

from minivelo import second_order
from minivelo.second_order import adahessian, grad_and_hutchinson_diagonal, hutchinson_diagonal


def known_quadratic(dim=12, seed=0):
    """f(x) = 1/2 x^T A x with a dense symmetric A: the Hessian is A everywhere."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(dim, dim))
    a = jnp.asarray((m + m.T) / 2 + dim * np.eye(dim), jnp.float32)
    return a, (lambda x: 0.5 * x @ a @ x)


def test_exact_for_a_diagonal_hessian_with_one_probe():
    """z_i^2 = 1: z * (H z) = diag(H) exactly when H is diagonal."""
    h = jnp.array([1e-3, 2.0, 50.0, 7.0])
    params = {"x": jnp.ones(4), "y": jnp.asarray(0.5)}
    loss = lambda p: 0.5 * jnp.sum(h * p["x"] ** 2) + 3.0 * p["y"] ** 2
    diag = hutchinson_diagonal(loss, params, jax.random.PRNGKey(0))
    np.testing.assert_allclose(diag["x"], h, rtol=1e-6)
    np.testing.assert_allclose(diag["y"], 6.0, rtol=1e-6)


def test_converges_to_the_true_diagonal_on_a_known_quadratic():
    a, loss = known_quadratic()
    true_diagonal = np.diag(np.asarray(a))
    np.testing.assert_allclose(np.diag(jax.hessian(loss)(jnp.ones(12))), true_diagonal, rtol=1e-6)
    # Var of one probe in coordinate i: sum_{j != i} A_ij^2.
    off_diagonal = np.asarray(a) - np.diag(true_diagonal)
    single_probe_std = np.sqrt((off_diagonal**2).sum(axis=1))
    x = jnp.linspace(-1.0, 1.0, 12)
    errors = {}
    for n in (4, 64, 4096):
        estimate = np.asarray(hutchinson_diagonal(loss, x, jax.random.PRNGKey(n), num_probes=n))
        errors[n] = np.sqrt(np.mean((estimate - true_diagonal) ** 2))
        # Within 5 standard errors in every coordinate: fails for any bias > 5 SE.
        assert np.all(np.abs(estimate - true_diagonal) < 5 * single_probe_std / np.sqrt(n)), n
    # Error ~ 1/sqrt(n): 64x the probes, ~8x smaller error (allow 3x).
    assert errors[64] < errors[4] / 3 and errors[4096] < errors[64] / 3, errors
    # At 4096 probes the estimate is within 2% of the diagonal (dominated by dim * I).
    assert errors[4096] < 0.02 * np.abs(true_diagonal).min()


def test_unbiased_on_a_network():
    """A small tanh MLP: the probe average matches jax.hessian's diagonal."""
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(3), 3)
    x, y = jax.random.normal(k1, (16, 3)), jax.random.normal(k2, (16,))
    params = {"w1": 0.8 * jax.random.normal(k3, (3, 4)), "w2": jnp.linspace(-1.0, 1.0, 4)}
    loss = lambda p: jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - y) ** 2)
    flat, unravel = ravel_pytree(params)
    hessian = np.asarray(jax.hessian(lambda f: loss(unravel(f)))(flat))
    true_diagonal = np.diag(hessian)
    std = np.sqrt(((hessian - np.diag(true_diagonal)) ** 2).sum(axis=1))
    n = 2000
    grads, diag = grad_and_hutchinson_diagonal(loss, params, jax.random.PRNGKey(4), num_probes=n)
    estimate = np.asarray(ravel_pytree(diag)[0])
    assert np.all(np.abs(estimate - true_diagonal) < 5 * std / np.sqrt(n) + 1e-6)
    # The gradient it returns is the gradient.
    np.testing.assert_allclose(
        ravel_pytree(grads)[0], jax.grad(lambda f: loss(unravel(f)))(flat), 1e-5
    )


def with_gradient_as_hessian(opt):
    """Feed D_t = g_t: AdaHessian's v_t becomes Adam's EMA of g^2."""
    return optax.GradientTransformation(
        opt.init, lambda g, s, p=None: opt.update(g, s, p, hessian_diagonal=g)
    )


@pytest.mark.parametrize(
    "mine, reference",
    [
        (adahessian(0.01, eps=1e-8), optax.adam(0.01)),
        (
            adahessian(0.003, b1=0.8, b2=0.99, eps=1e-4, weight_decay=0.1),
            optax.adamw(0.003, b1=0.8, b2=0.99, eps=1e-4, weight_decay=0.1),
        ),
    ],
    ids=["adam", "adamw"],
)
def test_reduces_to_adam_when_fed_the_gradient(mine, reference):
    ours, theirs = run(with_gradient_as_hessian(mine)), run(reference)
    scale = np.maximum(np.abs(theirs).max(axis=1, keepdims=True), 1e-12)
    np.testing.assert_array_less(np.abs(ours - theirs) / scale, 1e-6)
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-2


def ill_conditioned_quadratic(condition_number=1e4, dim=10):
    curvatures = jnp.logspace(0.0, np.log10(condition_number), dim) / condition_number
    return curvatures, (lambda x: 0.5 * jnp.sum(curvatures * x**2))


def test_adahessian_converges_on_an_ill_conditioned_quadratic():
    curvatures, loss = ill_conditioned_quadratic()  # from 1e-4 to 1: condition number 1e4
    x0 = jnp.ones(10)

    def train(opt, use_hessian, steps=300):
        def step(carry, key):
            x, state = carry
            grads, diag = grad_and_hutchinson_diagonal(loss, x, key)
            extra = {"hessian_diagonal": diag} if use_hessian else {}
            updates, state = opt.update(grads, state, x, **extra)
            return (optax.apply_updates(x, updates), state), None

        keys = jax.random.split(jax.random.PRNGKey(0), steps)
        (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), keys)
        return float(jnp.abs(x).max())  # distance to the minimum at 0, from 1

    # Every direction shrinks at the same rate: a per-coordinate Newton step.
    assert train(adahessian(), True) < 1e-3
    # Gradient descent at its largest stable step 1/L barely moves the flat directions.
    assert train(optax.sgd(1.0 / float(curvatures.max())), False) > 0.9


def test_hessian_power_zero_is_momentum_sgd_with_bias_correction():
    """k = 0: the denominator is 1 + eps, the curvature is ignored."""
    opt = adahessian(0.1, eps=0.0, hessian_power=0.0)
    g = jnp.array([2.0, -3.0])
    updates, _ = opt.update(g, opt.init(g), hessian_diagonal=jnp.array([100.0, 1e-3]))
    np.testing.assert_allclose(updates, -0.1 * g, rtol=1e-6)


def test_spatial_average_shares_one_value_per_channel_pair():
    d = {"conv": jnp.arange(2 * 2 * 1 * 3, dtype=jnp.float32).reshape(2, 2, 1, 3), "b": jnp.ones(3)}
    averaged = second_order.spatial_average(d)
    np.testing.assert_allclose(averaged["conv"][0, 0, 0], d["conv"].mean(axis=(0, 1))[0])
    assert np.all(averaged["conv"] == averaged["conv"][:1, :1])
    np.testing.assert_array_equal(averaged["b"], d["b"])


def test_clear_errors():
    opt = adahessian()
    with pytest.raises(ValueError, match="hessian_diagonal"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)), jnp.ones(2))
    with pytest.raises(ValueError, match="hessian_power"):
        adahessian(hessian_power=2.0)
    with pytest.raises(ValueError, match="num_probes"):
        hutchinson_diagonal(lambda x: jnp.sum(x**2), jnp.ones(2), jax.random.PRNGKey(0), 0)

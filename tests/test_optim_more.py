"""Nadam, Adamax, Adadelta and Lion equal their optax counterparts (1e-6 relative, 120 steps).

The harness (a nested pytree of matrices, vectors and a scalar; a noisy non-quadratic
loss; the trajectory of every step) is the one in ``test_optim.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_optim import NUM_STEPS, run

from minivelo import optim

PAIRS = {
    "nadam": (optim.nadam(0.01), optax.nadam(0.01)),
    "nadam_custom": (
        optim.nadam(0.003, b1=0.8, b2=0.99, eps=1e-6),
        optax.nadam(0.003, b1=0.8, b2=0.99, eps=1e-6),
    ),
    "adamax": (optim.adamax(0.01), optax.adamax(0.01)),
    "adamax_custom": (
        optim.adamax(0.02, b1=0.8, b2=0.99, eps=1e-4),
        optax.adamax(0.02, b1=0.8, b2=0.99, eps=1e-4),
    ),
    # Adadelta's first steps are ~sqrt(eps) in size: a large eps makes the run move.
    "adadelta": (optim.adadelta(1.0, eps=1e-3), optax.adadelta(1.0, eps=1e-3)),
    "adadelta_no_learning_rate": (optim.adadelta(eps=1e-3), optax.adadelta(1.0, eps=1e-3)),
    "adadelta_weight_decay": (
        optim.adadelta(2.0, rho=0.95, eps=1e-3, weight_decay=0.1),
        optax.adadelta(2.0, rho=0.95, eps=1e-3, weight_decay=0.1),
    ),
    "lion": (optim.lion(0.001), optax.lion(0.001)),
    "lion_custom": (
        optim.lion(0.003, b1=0.95, b2=0.98, weight_decay=0.1),
        optax.lion(0.003, b1=0.95, b2=0.98, weight_decay=0.1),
    ),
    "lion_no_decay": (optim.lion(0.002, weight_decay=0.0), optax.lion(0.002, weight_decay=0.0)),
    "nadam_schedule": (
        optim.nadam(optax.cosine_decay_schedule(0.02, NUM_STEPS)),
        optax.nadam(optax.cosine_decay_schedule(0.02, NUM_STEPS)),
    ),
    "lion_schedule": (
        optim.lion(optax.linear_schedule(0.003, 0.0005, NUM_STEPS)),
        optax.lion(optax.linear_schedule(0.003, 0.0005, NUM_STEPS)),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_optax(name):
    mine, reference = PAIRS[name]
    ours, theirs = run(mine), run(reference)
    assert ours.shape[0] >= 100
    assert np.all(np.isfinite(ours))
    scale = np.maximum(np.abs(theirs).max(axis=1, keepdims=True), 1e-12)
    np.testing.assert_array_less(np.abs(ours - theirs) / scale, 1e-6)
    # The run moved the parameters: a comparison of two frozen trajectories proves nothing.
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-2


def test_public_api():
    for name in ("nadam", "adamax", "adadelta", "lion"):
        assert name in optim.__all__


PROGRESS = {
    "nadam": (optim.nadam(0.1), 0.05),
    "adamax": (optim.adamax(0.1), 0.05),
    # No learning rate: the paper's algorithm descends by itself, but starts with
    # sqrt(eps)-sized steps, so ask for progress rather than arrival.
    "adadelta": (optim.adadelta(), 1.5),
    # Fixed +-eta steps circle the minimum at a distance ~eta; a decaying eta lands.
    "lion": (optim.lion(optax.linear_schedule(0.05, 0.0, 400), weight_decay=0.0), 0.05),
}


@pytest.mark.parametrize("name", sorted(PROGRESS))
def test_optimizers_make_progress_on_a_quadratic(name):
    opt, tolerance = PROGRESS[name]
    target = jnp.array([1.0, -2.0, 3.0])
    params = jnp.zeros(3)
    state = opt.init(params)
    for _ in range(400):
        updates, state = opt.update(params - target, state, params)
        params = optax.apply_updates(params, updates)
    assert float(jnp.abs(params - target).max()) < tolerance


def test_lion_moves_every_coordinate_by_the_learning_rate():
    """sign(): a gradient of 1e-6 and one of 1e6 give the same step size."""
    opt = optim.lion(0.01, weight_decay=0.0)
    grads = jnp.array([1e-6, -1e6, 3.0])
    updates, _ = opt.update(grads, opt.init(grads))
    np.testing.assert_allclose(updates, [-0.01, 0.01, -0.01])


def test_adamax_first_step_is_learning_rate_times_sign():
    """m_1 / (1 - b1) = g and s_1 = |g| + eps: the first step is ~ -eta sign(g)."""
    opt = optim.adamax(0.1, eps=0.0)
    grads = jnp.array([2.0, -0.5])
    updates, _ = opt.update(grads, opt.init(grads))
    np.testing.assert_allclose(updates, [-0.1, 0.1], rtol=1e-6)


@pytest.mark.parametrize(
    "make", [lambda: optim.lion(0.1), lambda: optim.adadelta(weight_decay=0.1)]
)
def test_weight_decay_requires_params(make):
    opt = make()
    with pytest.raises(ValueError, match="parameters"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_lion_weight_decay_can_be_vmapped():
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    grads = {"w": jnp.array([0.3, -0.1, 0.0])}

    def step(weight_decay):
        opt = optim.lion(1e-2, weight_decay=weight_decay)
        return opt.update(grads, opt.init(params), params)[0]["w"]

    decays = jnp.array([0.0, 0.1, 1.0])
    batched = jax.vmap(step)(decays)
    for i, decay in enumerate([0.0, 0.1, 1.0]):
        np.testing.assert_allclose(batched[i], step(decay), rtol=1e-6)

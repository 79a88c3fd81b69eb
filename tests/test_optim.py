"""Every hand-written optimizer equals its optax counterpart (1e-6 relative, 120 steps)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minivelo import optim

NUM_STEPS = 120


def nested_params():
    """A nested pytree holding matrices, vectors and a scalar."""
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    return {
        "dense": {"w": jax.random.normal(keys[0], (5, 3)), "b": jax.random.normal(keys[1], (3,))},
        "conv": [jax.random.normal(keys[2], (2, 2, 3, 4))],
        "scale": jnp.asarray(0.7),
        "bias": jax.random.normal(keys[3], (4,)),
    }


def loss_fn(params, key):
    """A smooth, non-quadratic loss whose gradients change from step to step (noise)."""
    leaves = jax.tree.leaves(params)
    noise = [
        jax.random.normal(k, x.shape) for k, x in zip(jax.random.split(key, len(leaves)), leaves)
    ]
    return sum(jnp.sum(jnp.log(jnp.cosh(x - 0.3 * n)) + 0.05 * x**2) for x, n in zip(leaves, noise))


def run(opt, num_steps=NUM_STEPS):
    """Train with ``opt``; return the parameter trajectory (one flat vector per step)."""

    def step(carry, key):
        params, state = carry
        grads = jax.grad(loss_fn)(params, key)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        flat = jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(params)])
        return (params, state), flat

    params = nested_params()
    keys = jax.random.split(jax.random.PRNGKey(1), num_steps)
    _, trajectory = jax.jit(lambda c: jax.lax.scan(step, c, keys))((params, opt.init(params)))
    return np.asarray(trajectory)


PAIRS = {
    "sgd": (optim.sgd(0.05), optax.sgd(0.05)),
    "momentum": (optim.momentum(0.02, beta=0.9), optax.sgd(0.02, momentum=0.9)),
    "nesterov": (
        optim.momentum(0.02, beta=0.9, nesterov=True),
        optax.sgd(0.02, momentum=0.9, nesterov=True),
    ),
    "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1)),
    "adagrad_textbook_start": (
        optim.adagrad(0.1, initial_accumulator_value=0.0),
        optax.adagrad(0.1, initial_accumulator_value=0.0),
    ),
    "rmsprop": (optim.rmsprop(0.01), optax.rmsprop(0.01)),
    "rmsprop_eps_outside_sqrt": (
        optim.rmsprop(0.01, eps_in_sqrt=False),
        optax.rmsprop(0.01, eps_in_sqrt=False),
    ),
    "adam": (optim.adam(0.01), optax.adam(0.01)),
    "adam_custom": (
        optim.adam(0.003, b1=0.8, b2=0.99, eps=1e-6),
        optax.adam(0.003, b1=0.8, b2=0.99, eps=1e-6),
    ),
    "adamw": (optim.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)),
    "adamw_default_decay": (optim.adamw(0.01), optax.adamw(0.01)),
    "sgd_schedule": (
        optim.sgd(optax.cosine_decay_schedule(0.1, NUM_STEPS)),
        optax.sgd(optax.cosine_decay_schedule(0.1, NUM_STEPS)),
    ),
    "adam_schedule": (
        optim.adam(optax.linear_schedule(0.02, 0.001, NUM_STEPS)),
        optax.adam(optax.linear_schedule(0.02, 0.001, NUM_STEPS)),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_optax(name):
    mine, reference = PAIRS[name]
    ours, theirs = run(mine), run(reference)
    assert np.all(np.isfinite(ours))
    # Relative to the size of the parameters at each step.
    scale = np.maximum(np.abs(theirs).max(axis=1, keepdims=True), 1e-12)
    np.testing.assert_array_less(np.abs(ours - theirs) / scale, 1e-6)
    # The run moved the parameters: a comparison of two frozen trajectories proves nothing.
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-2


def test_optimizers_make_progress_on_a_quadratic():
    target = jnp.array([1.0, -2.0, 3.0])
    for opt in (
        optim.sgd(0.1),
        optim.momentum(0.05),
        optim.adagrad(0.5),
        optim.rmsprop(0.05),
        optim.adam(0.1),
        optim.adamw(0.1, weight_decay=0.0),
    ):
        params = jnp.zeros(3)
        state = opt.init(params)
        for _ in range(300):
            grads = params - target
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        assert jnp.abs(params - target).max() < 0.05, opt


def test_adagrad_textbook_start_gives_sign_step_first():
    """With G_0 = 0 the first AdaGrad step is -eta * sign(g): the convention mapping."""
    opt = optim.adagrad(0.5, initial_accumulator_value=0.0, eps=0.0)
    grads = jnp.array([3.0, -0.01, 0.0])
    updates, _ = opt.update(grads, opt.init(grads), None)
    np.testing.assert_allclose(updates, [-0.5, 0.5, 0.0], rtol=1e-6)


def test_rmsprop_eps_placement_differs_only_for_tiny_gradients():
    """eps inside the root (optax) vs outside (PyTorch): same for large g, not for tiny g."""
    inside, outside = optim.rmsprop(1.0, eps=1e-8), optim.rmsprop(1.0, eps=1e-8, eps_in_sqrt=False)
    for g, should_agree in ((jnp.array([1.0]), True), (jnp.array([1e-5]), False)):
        u_in, _ = inside.update(g, inside.init(g))
        u_out, _ = outside.update(g, outside.init(g))
        assert bool(jnp.allclose(u_in, u_out, rtol=1e-3)) == should_agree


def test_adamw_requires_params():
    opt = optim.adamw(0.1)
    with pytest.raises(ValueError, match="parameters"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_adagrad_rejects_negative_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        optim.adagrad(0.1, initial_accumulator_value=-1.0)


def test_adagrad_eps_outside_sqrt_matches_the_textbook_formula():
    """eps_in_sqrt=False is Goodfellow et al.'s Alg. 8.4 / PyTorch: g / (delta + sqrt(G))."""
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(50, 7)).astype(np.float32)
    grads[:, 0] = 0.0  # a coordinate that never sees a gradient stays put
    learning_rate, delta = 0.3, 1e-7
    opt = optim.adagrad(learning_rate, initial_accumulator_value=0.0, eps=delta, eps_in_sqrt=False)
    params = jnp.zeros(7)
    state = opt.init(params)
    expected, accumulator = np.zeros(7, np.float64), np.zeros(7, np.float64)
    for g in grads:
        updates, state = opt.update(jnp.asarray(g), state)
        params = optax.apply_updates(params, updates)
        accumulator += g.astype(np.float64) ** 2
        expected -= learning_rate * g / (delta + np.sqrt(accumulator))
    np.testing.assert_allclose(params, expected, rtol=1e-5, atol=1e-6)
    assert float(params[0]) == 0.0

"""Forward gradients and direct feedback alignment.

- The forward gradient is unbiased (a statistical test whose tolerance is computed from
  the estimator's known variance and is far smaller than any bias worth the name) and
  its variance is (d + 1) |grad|^2 / K.
- DFA equals backprop where theory says it must (one hidden layer, feedback = W^T), and
  both estimators train one of our tasks, next to backprop.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from minivelo import tasks
from minivelo.gradient_estimators import (
    cosine_similarity,
    dfa_gradients,
    forward_gradient,
    init_feedback,
)
from minivelo.tasks import layers


def smooth_loss(params):
    return jnp.sum(jnp.sin(params["w"]) * jnp.arange(6.0).reshape(2, 3)) + jnp.sum(
        (params["b"] - 1.0) ** 2
    )


PARAMS = {"w": jnp.array([[0.1, -0.4, 0.9], [1.3, 0.0, -2.0]]), "b": jnp.array([0.5, -0.5])}


def sample_estimates(num_samples, num_directions=1):
    keys = jax.random.split(jax.random.PRNGKey(0), num_samples)
    estimate = lambda k: ravel_pytree(forward_gradient(smooth_loss, PARAMS, k, num_directions)[1])[
        0
    ]
    return np.asarray(jax.jit(jax.vmap(estimate))(keys), np.float64)


def test_forward_gradient_is_unbiased():
    true = np.asarray(ravel_pytree(jax.grad(smooth_loss)(PARAMS))[0], np.float64)
    n = 100_000
    samples = sample_estimates(n)
    # Var(g_hat_i) = |g|^2 + g_i^2 for v ~ N(0, I): the standard error of the mean is known.
    standard_error = np.sqrt((true @ true + true**2) / n)
    tolerance = 5 * standard_error
    # The test can only pass by accident with probability ~1e-6 per coordinate, and it
    # would catch a bias of 2% of |g| in any coordinate (e.g. a 0.98x scaled estimator).
    assert tolerance.max() < 0.02 * np.linalg.norm(true)
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - true), tolerance)
    assert np.any(np.abs(0.95 * samples.mean(axis=0) - true) > tolerance)  # bias is seen
    # Each single estimate is far from the gradient: unbiased is not accurate.
    assert np.median(np.linalg.norm(samples - true, axis=1)) > np.linalg.norm(true)


@pytest.mark.parametrize("num_directions", [1, 4])
def test_forward_gradient_variance_is_d_plus_one_over_k(num_directions):
    true = np.asarray(ravel_pytree(jax.grad(smooth_loss)(PARAMS))[0], np.float64)
    d = true.size
    samples = sample_estimates(40_000, num_directions)
    mean_square_error = np.mean(np.sum((samples - true) ** 2, axis=1))
    expected = (d + 1) * (true @ true) / num_directions
    assert abs(mean_square_error / expected - 1) < 0.05


def test_forward_gradient_returns_the_loss():
    loss, _ = forward_gradient(smooth_loss, PARAMS, jax.random.PRNGKey(1))
    np.testing.assert_allclose(loss, smooth_loss(PARAMS), rtol=1e-6)
    with pytest.raises(ValueError, match="num_directions"):
        forward_gradient(smooth_loss, PARAMS, jax.random.PRNGKey(1), num_directions=0)


def mlp_and_batch(sizes, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = layers.init_mlp(k1, sizes)
    x = jax.random.normal(k2, (32, sizes[0]))
    y = jax.random.randint(k3, (32,), 0, sizes[-1])
    return params, (x, y)


def backprop(params, batch, activation):
    x, y = batch
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
        layers.mlp(p, x, activation), y
    ).mean()
    return jax.value_and_grad(loss)(params)


@pytest.mark.parametrize("activation", [jax.nn.relu, jnp.tanh])
def test_dfa_is_backprop_with_one_hidden_layer_and_transposed_weights(activation):
    params, batch = mlp_and_batch([5, 7, 4])
    feedback = {"layer_0": params["layer_1"]["w"].T}  # B_0 = W_1^T
    loss, directions = dfa_gradients(params, feedback, batch, activation)
    true_loss, grads = backprop(params, batch, activation)
    np.testing.assert_allclose(loss, true_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(directions), jax.tree.leaves(grads)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_dfa_random_feedback_gives_true_output_layer_and_different_hidden_layers():
    params, batch = mlp_and_batch([5, 7, 6, 4])
    feedback = init_feedback(jax.random.PRNGKey(1), params)
    assert {k: v.shape for k, v in feedback.items()} == {"layer_0": (4, 7), "layer_1": (4, 6)}
    _, directions = dfa_gradients(params, feedback, batch, jnp.tanh)
    _, grads = backprop(params, batch, jnp.tanh)
    np.testing.assert_allclose(directions["layer_2"]["w"], grads["layer_2"]["w"], rtol=1e-5)
    assert not np.allclose(directions["layer_0"]["w"], grads["layer_0"]["w"], rtol=0.1)


def test_dfa_rejects_other_layouts():
    with pytest.raises(ValueError, match="layer_0"):
        init_feedback(jax.random.PRNGKey(0), {"dense": {"w": jnp.ones((2, 2))}})


def train(task, direction_fn, optimizer, steps, seed=0):
    """Train with updates from ``direction_fn(params, batch, key) -> (loss, direction)``."""
    params = task.init(jax.random.PRNGKey(seed))

    def step(carry, key):
        params, state = carry
        batch_key, direction_key = jax.random.split(key)
        loss, direction = direction_fn(params, task.sample_batch(batch_key), direction_key)
        updates, state = optimizer.update(direction, state, params)
        return (optax.apply_updates(params, updates), state), loss

    keys = jax.random.split(jax.random.PRNGKey(seed + 1), steps)
    (params, _), losses = jax.jit(lambda c: jax.lax.scan(step, c, keys))(
        (params, optimizer.init(params))
    )
    return params, np.asarray(losses)


def test_dfa_and_backprop_train_the_digits_mlp():
    task = tasks.get_task("digits_mlp")
    feedback = init_feedback(jax.random.PRNGKey(7), task.init(jax.random.PRNGKey(0)))
    dfa = lambda p, batch, key: dfa_gradients(p, feedback, batch, jax.nn.relu)
    bp = lambda p, batch, key: jax.value_and_grad(task.loss)(p, batch)
    accuracy = {}
    for name, fn in (("dfa", dfa), ("backprop", bp)):
        params, losses = train(task, fn, optax.adam(3e-3), steps=300)
        accuracy[name] = float(task.accuracy(params, task.eval_batch))
        assert losses[-20:].mean() < 0.3 * losses[:5].mean(), name
    assert accuracy["dfa"] > 0.85 and accuracy["backprop"] > 0.9, accuracy
    # The hidden layer's DFA direction has come to align with the true gradient.
    params, _ = train(task, dfa, optax.adam(3e-3), steps=300)
    batch = task.sample_batch(jax.random.PRNGKey(99))
    _, direction = dfa(params, batch, None)
    _, grads = bp(params, batch, None)
    assert float(cosine_similarity(direction["layer_0"], grads["layer_0"])) > 0.1


def test_forward_gradient_trains_logistic_regression():
    task = tasks.get_task("logistic")
    fg = lambda p, batch, key: forward_gradient(lambda q: task.loss(q, batch), p, key)
    bp = lambda p, batch, key: jax.value_and_grad(task.loss)(p, batch)
    _, fg_losses = train(task, fg, optax.sgd(0.02), steps=400)
    _, bp_losses = train(task, bp, optax.sgd(0.5), steps=400)
    start = fg_losses[0]
    assert fg_losses[-50:].mean() < 0.6 * start  # it learns without a backward pass ...
    assert bp_losses[-50:].mean() < fg_losses[-50:].mean()  # ... more slowly than backprop

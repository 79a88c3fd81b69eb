"""Meta-gradient estimators on toy problems, and the pieces of a truncated unroll."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minivelo.lopt import base as learned_optimizers
from minivelo.meta import estimators, unroll

# ------------------------------------------------------------ toy problems

A = jnp.diag(jnp.array([1.0, 3.0, 0.5]))
TARGET = jnp.array([1.0, -2.0, 0.5])


def quadratic_unroll(theta, state):
    """A 'segment' whose meta-loss is a fixed quadratic of theta (the state just counts)."""
    d = theta["x"] - TARGET
    return 0.5 * d @ A @ d, state + 1


def cosine(a, b):
    return float(a @ b / (jnp.linalg.norm(a) * jnp.linalg.norm(b)))


def test_antithetic_es_is_unbiased_on_a_quadratic():
    """For a quadratic, Gaussian smoothing only adds a constant: E[g_ES] = grad exactly."""
    theta = {"x": jnp.array([0.3, 0.2, -0.4])}
    n = 20000
    est = estimators.antithetic_es(
        quadratic_unroll, theta, jnp.zeros(n), jax.random.split(jax.random.PRNGKey(0), n), 0.1
    )
    true = A @ (theta["x"] - TARGET)
    np.testing.assert_allclose(est.gradient["x"], true, rtol=0.05, atol=0.03)
    assert cosine(est.gradient["x"], true) > 0.999
    np.testing.assert_array_equal(est.states, jnp.ones(n))  # every member advanced once


def test_es_single_pair_points_downhill_on_average_and_has_variance():
    theta = {"x": jnp.array([0.3, 0.2, -0.4])}
    n = 256
    keys = jax.random.split(jax.random.PRNGKey(1), n)
    per_member = jax.vmap(
        lambda k: estimators.antithetic_es(
            quadratic_unroll, theta, jnp.zeros(1), k[None], 0.1
        ).gradient["x"]
    )(keys)
    true = A @ (theta["x"] - TARGET)
    # one pair is a noisy estimate (a random direction, projected) ...
    assert float(jnp.std(per_member @ true / jnp.linalg.norm(true))) > 0.5
    # ... but a descent direction in expectation
    assert float(jnp.mean(per_member @ true)) > 0


def test_truncated_backprop_equals_autodiff_of_the_mean():
    theta = {"x": jnp.array([0.3, 0.2, -0.4])}
    est = estimators.truncated_backprop(quadratic_unroll, theta, jnp.zeros(4))
    np.testing.assert_allclose(est.gradient["x"], A @ (theta["x"] - TARGET), rtol=1e-6)


# A dynamical toy where truncation matters: the state carries theta's past influence.
DECAY, HORIZON = 0.9, 8


def linear_system_segment(theta, state):
    """One inner step per segment: x <- 0.9 x + theta; loss (x - 2)^2 (summed over dims)."""
    x, t = state
    x = DECAY * x + theta["a"]
    return jnp.sum((x - 2.0) ** 2), (x, t + 1)


def episode_loss(theta):
    x, total = jnp.zeros(2), 0.0
    for _ in range(HORIZON):
        loss, (x, _) = linear_system_segment(theta, (x, 0))
        total = total + loss
    return total


def run_episode(estimate, theta, n, key):
    """Sum of the per-segment estimates over one whole episode of ``n`` members."""
    states = (jnp.zeros((n, 2)), jnp.zeros(n, jnp.int32))
    pes_state = estimators.pes_init(states, theta)
    total = jnp.zeros(2)
    for k in range(HORIZON):
        keys = jax.random.split(jax.random.fold_in(key, k), n)
        if estimate == "pes":
            est = estimators.persistent_es(linear_system_segment, theta, pes_state, keys, 0.05)
            pes_state = est.states
        else:
            est = estimators.antithetic_es(linear_system_segment, theta, states, keys, 0.05)
            states = est.states
        total = total + est.gradient["a"]
    return total


def test_pes_is_unbiased_where_truncated_es_is_not():
    theta = {"a": jnp.array([0.1, -0.3])}
    true = jax.grad(episode_loss)(theta)["a"]
    pes = run_episode("pes", theta, 20000, jax.random.PRNGKey(2))
    truncated = run_episode("es", theta, 20000, jax.random.PRNGKey(2))
    np.testing.assert_allclose(pes, true, rtol=0.05)
    # truncated ES misses how theta shaped the state: off by a large factor
    assert float(jnp.linalg.norm(truncated - true)) > 0.3 * float(jnp.linalg.norm(true))
    # and that bias is what truncated backprop computes too, exactly
    states = (jnp.zeros((1, 2)), jnp.zeros(1, jnp.int32))
    tbptt = jnp.zeros(2)
    for _ in range(HORIZON):
        est = estimators.truncated_backprop(linear_system_segment, theta, states)
        tbptt, states = tbptt + est.gradient["a"], est.states
    np.testing.assert_allclose(truncated, tbptt, rtol=0.05)


def test_pes_accumulates_perturbations():
    theta = {"a": jnp.zeros(2)}
    states = (jnp.zeros((3, 2)), jnp.zeros(3, jnp.int32))
    pes_state = estimators.pes_init(states, theta)
    keys = [jax.random.split(jax.random.PRNGKey(i), 3) for i in range(2)]
    first = estimators.persistent_es(linear_system_segment, theta, pes_state, keys[0], 0.1)
    second = estimators.persistent_es(linear_system_segment, theta, first.states, keys[1], 0.1)
    eps = jax.vmap(lambda k: estimators.tree_normal(k, theta, 0.1)["a"])
    np.testing.assert_allclose(
        second.states.accumulated["a"], eps(keys[0]) + eps(keys[1]), rtol=1e-6
    )
    # the two antithetic runs diverge (separate persistent states)
    assert not np.allclose(second.states.positive[0], second.states.negative[0])


# ------------------------------------------------------------- unroll pieces


def test_meta_objective_caps_and_handles_non_finite():
    log_l0 = jnp.log(2.0)
    losses = jnp.array([2.0, 1.0, 100.0, jnp.nan, jnp.inf])
    value = unroll.meta_objective(losses, log_l0, cap=1.0)
    expected = (0.0 + np.log(0.5) + 1.0 + 1.0 + 1.0) / 5
    np.testing.assert_allclose(value, expected, rtol=1e-6)


def test_a_loss_of_exactly_zero_is_a_perfect_fit_not_a_divergence():
    from minivelo.meta import evaluate

    log_l0 = jnp.log(2.0)
    floor = unroll.LOG_RATIO_FLOOR
    np.testing.assert_allclose(np.log(1e-12), floor, rtol=1e-6)
    value = unroll.meta_objective(jnp.array([0.0, 2e-20, jnp.nan]), log_l0, cap=1.0)
    np.testing.assert_allclose(value, (floor + floor + 1.0) / 3, rtol=1e-6)
    grad = jax.grad(lambda x: unroll.meta_objective(x, log_l0, 1.0))(jnp.array([0.0, 1.0]))
    assert np.isfinite(grad).all()
    # validation: a run that fits perfectly beats one that stalls; a diverged one scores 10
    fitted = np.concatenate([np.full(100, 2.0), np.zeros(100)])
    stalled = np.full(200, 2.0)
    diverged = np.concatenate([np.full(100, 2.0), np.full(100, np.nan)])
    assert evaluate.validation_score(fitted) == floor
    assert evaluate.validation_score(stalled) == 0.0
    assert evaluate.validation_score(diverged) == 10.0


def tiny_task():
    from minivelo import tasks

    return tasks.build("quadratic", dim=4, condition_number=10.0, noise_scale=0.0)


def test_members_start_staggered_and_restart_when_done_or_non_finite():
    task = tiny_task()
    lopt = learned_optimizers.build({"kind": "mlp", "hidden_sizes": [4]}, num_steps=20)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    members = unroll.init_members(task, lopt, theta, jax.random.PRNGKey(1), 4, 20, 5)
    np.testing.assert_array_equal(members.end_step, [20, 15, 10, 5])
    # member 3's first episode is done after one segment
    losses, after = jax.vmap(lambda s: unroll.segment(task, lopt, theta, s, 5))(members)
    assert losses.shape == (4, 5)
    reset = jax.vmap(unroll.needs_reset)(after)
    np.testing.assert_array_equal(reset, [False, False, False, True])
    # a non-finite member restarts too
    poisoned = after._replace(params=jax.tree.map(lambda p: p.at[0].set(jnp.nan), after.params))
    np.testing.assert_array_equal(
        jax.vmap(unroll.needs_reset)(poisoned), [True, False, False, True]
    )
    fresh = jax.vmap(lambda s, r: unroll.reset_where(task, lopt, theta, s, r, 20))(
        poisoned, reset | True
    )
    np.testing.assert_array_equal(fresh.episode, [1, 1, 1, 1])
    np.testing.assert_array_equal(fresh.step, 0)
    np.testing.assert_array_equal(fresh.end_step, 20)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(fresh.params))


def test_antithetic_copies_share_batches():
    """ES with sigma -> 0 gives two identical runs: same state, same minibatches."""
    task = tiny_task()
    lopt = learned_optimizers.build({"kind": "mlp", "hidden_sizes": [4]}, num_steps=20)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    member = jax.tree.map(
        lambda x: x[0], unroll.init_members(task, lopt, theta, jax.random.PRNGKey(1), 1, 20, 5)
    )
    run = lambda th, s: unroll.unroll_meta_loss(task, lopt, th, s, 5, 1.0)
    zero = jax.tree.map(jnp.zeros_like, theta)
    losses, _ = estimators.antithetic_pair(run, theta, zero, (member, member))
    assert losses[0] == losses[1]


@pytest.mark.parametrize("kind", ["unknown"])
def test_unknown_learned_optimizer(kind):
    with pytest.raises(ValueError, match="unknown learned optimizer"):
        learned_optimizers.build({"kind": kind}, 10)


def test_velo_meta_trains_through_its_functional_update():
    """VeLO (tiny preset) through the same unroll and ES estimator as the MLP optimizer."""
    pytest.importorskip("minivelo.lopt.velo.fused")
    task = tiny_task()
    lopt = learned_optimizers.build({"kind": "velo", "preset": "tiny"}, num_steps=20)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    members = unroll.init_members(task, lopt, theta, jax.random.PRNGKey(1), 2, 20, 5)

    def run(th, s):
        return unroll.unroll_meta_loss(task, lopt, th, s, 5, 1.0)

    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    est = jax.jit(lambda th, s: estimators.antithetic_es(run, th, s, keys, 0.01))(theta, members)
    assert jax.tree.structure(est.gradient) == jax.tree.structure(theta)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(est.gradient))
    assert float(jnp.linalg.norm(est.gradient["rnn_params"]["step_size"]["w"])) > 0
    np.testing.assert_array_equal(est.states.step, [5, 5])

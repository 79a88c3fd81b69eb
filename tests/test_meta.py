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


# ------------------------------------------------- sign ES over whole episodes (v7)


def log_loss_unroll(scale, direction, sharpness):
    """A task whose meta-loss is a log loss: l(theta) = scale * exp(sharpness * d . x).

    ``scale`` sets the loss level (1e-9 or 1); ``sharpness`` how much the log loss moves,
    as a task driven toward 1e-9 does (its log ratio swings by tens between two copies)."""

    def run(theta, state):
        return jnp.log(scale) + sharpness * direction @ theta["x"], state

    return run


def test_a_task_at_1e_minus_9_does_not_outweigh_one_at_1_with_sign_es():
    """Plain ES's estimate follows the task whose log loss swings most (the 1e-9 one);
    sign ES weighs each pair +-1, so both tasks' directions count alike."""
    theta = {"x": jnp.zeros(3)}
    tiny = log_loss_unroll(1e-9, jnp.array([1.0, 0.0, 0.0]), 100.0)
    normal = log_loss_unroll(1.0, jnp.array([0.0, 1.0, 0.0]), 1.0)
    n, sigma = 4000, 0.01
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * n)

    def combined(estimator):
        a = estimator(tiny, theta, jnp.zeros(n), keys[:n], sigma).gradient["x"]
        b = estimator(normal, theta, jnp.zeros(n), keys[n:], sigma).gradient["x"]
        return (a + b) / 2

    plain = combined(estimators.antithetic_es)
    signed = combined(estimators.antithetic_es_sign)
    # plain ES: the 1e-9 task's component is ~100 times the other's
    assert abs(float(plain[0])) > 30 * abs(float(plain[1]))
    # sign ES: equal shares (each ~ sqrt(2/pi) / (2 sigma) along its own task's direction)
    np.testing.assert_allclose(signed[0], signed[1], rtol=0.15)
    np.testing.assert_allclose(signed[0], np.sqrt(2 / np.pi) / (2 * sigma) / 2, rtol=0.15)
    assert abs(float(signed[2])) < 0.2 * float(signed[0])


def test_sign_es_weighs_ties_and_non_finite_differences_zero():
    theta = {"x": jnp.zeros(2)}
    flat = lambda th, s: (jnp.float32(1.0), s)
    broken = lambda th, s: (jnp.where(th["x"][0] > 0, jnp.nan, 1.0), s)
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    for run in (flat, broken):
        est = estimators.antithetic_es_sign(run, theta, jnp.zeros(8), keys, 0.1)
        np.testing.assert_array_equal(est.gradient["x"], jnp.zeros(2))


def test_horizons_are_log_uniform_in_range_and_deterministic():
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    n = np.asarray(jax.vmap(lambda k: unroll.sample_horizon(k, 150, 3000))(keys))
    assert n.dtype == np.int32 and n.min() >= 150 and n.max() <= 3000
    assert n.min() < 165 and n.max() > 2700  # the whole range is used
    # log-uniform: the median is the geometric mean, a quarter fall below 150 * 20**0.25
    np.testing.assert_allclose(np.median(n), np.sqrt(150 * 3000), rtol=0.08)
    np.testing.assert_allclose(np.mean(n < 150 * 20**0.25), 0.25, atol=0.03)
    again = np.asarray(jax.vmap(lambda k: unroll.sample_horizon(k, 150, 3000))(keys))
    np.testing.assert_array_equal(n, again)


def test_tail_length_is_a_tenth_rounded_up():
    np.testing.assert_array_equal(
        jax.vmap(unroll.tail_length)(jnp.array([1, 9, 10, 11, 150, 3000])), [1, 1, 1, 2, 15, 300]
    )


def test_tail_length_of_a_fraction_is_rounded_up_and_whole_run_at_one():
    n = jnp.array([1, 9, 10, 11, 150, 3000])
    np.testing.assert_array_equal(
        jax.vmap(lambda k: unroll.tail_length(k, 0.5))(n), [1, 5, 5, 6, 75, 1500]
    )
    np.testing.assert_array_equal(jax.vmap(lambda k: unroll.tail_length(k, 1.0))(n), n)


def test_whole_run_objective_ranks_two_diverging_runs_where_the_final_loss_ties():
    """Both copies end above the cap: the final-loss objective ties them (sign ES learns
    nothing from the pair); the whole-run mean prefers the one that diverged later."""

    class Task:  # the "loss" is the parameter; the "optimizer" multiplies it by theta
        def init(self, key):
            return jnp.float32(1.0)

        def sample_batch(self, key):
            return None

        def loss(self, params, batch):
            return params

    class Grow:
        def init(self, theta, params):
            return ()

        def update(self, theta, grads, state, params, loss):
            return params * (theta - 1.0), state

    key = jax.random.PRNGKey(0)
    score = lambda growth, tail: float(
        unroll.episode_meta_loss(Task(), Grow(), jnp.float32(growth), 100, key, key, 2.3, tail)
    )
    early, late = 1.2, 1.05  # per-step growth: past 10x the first loss at steps 13 and 48
    assert score(early, 0.1) == score(late, 0.1) == pytest.approx(2.3)  # a tie at the cap
    assert score(late, 1.0) < score(early, 1.0) < 2.3
    assert float(estimators.sign_of_difference(score(late, 1.0), score(early, 1.0))) == -1.0


def test_episode_with_a_traced_horizon_equals_a_python_loop():
    """One compiled episode serves every horizon and scores the last 10% of its losses."""
    from toy_lopt import LearnedMomentum

    task = tiny_task()
    theta = {"log_lr": jnp.float32(-2.0), "logit_beta": jnp.float32(1.0)}
    init_key, data_key = jax.random.PRNGKey(3), jax.random.PRNGKey(4)
    traced = jax.jit(
        lambda n: unroll.episode_meta_loss(
            task, LearnedMomentum(n), theta, n, init_key, data_key, 1.0
        )
    )
    for n in (7, 23):
        lopt = LearnedMomentum(n)
        params, state = task.init(init_key), lopt.init(theta, task.init(init_key))
        losses = []
        for t in range(n):
            batch = task.sample_batch(jax.random.fold_in(data_key, t))
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
            updates, state = lopt.update(theta, grads, state, params, loss)
            params = jax.tree.map(jnp.add, params, updates)
            losses.append(float(loss))
        tail = -(-n // 10)
        expected = np.mean(np.clip(np.log(losses[-tail:]) - np.log(losses[0]), -27.63, 1.0))
        np.testing.assert_allclose(float(traced(jnp.int32(n))), expected, rtol=1e-4, atol=1e-5)
    assert traced._cache_size() == 1  # one program for both horizons


def test_velo_reads_a_traced_horizon_like_a_static_one():
    """VeLO's loss-EMA decays and t/N accept N as data (meta-training over horizons)."""
    from minivelo.lopt.velo import features

    for n in (150, 3000):
        np.testing.assert_allclose(
            jax.jit(features.loss_decays)(jnp.int32(n)), features.loss_decays(n), rtol=1e-6
        )
    task = tiny_task()
    static = learned_optimizers.build({"kind": "velo", "preset": "tiny"}, num_steps=40)
    theta = static.init_meta_params(jax.random.PRNGKey(0))
    params0 = task.init(jax.random.PRNGKey(1))
    batch = task.sample_batch(jax.random.PRNGKey(2))

    def step(n):
        lopt = learned_optimizers.build({"kind": "velo", "preset": "tiny"}, n)
        params, state = params0, lopt.init(theta, params0)
        for _ in range(3):  # t/N differs from 0 after the first step
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
            updates, state = lopt.update(theta, grads, state, params, loss)
            params = jax.tree.map(jnp.add, params, updates)
        return updates

    # Both compiled, N static (a constant) vs N traced (data). They agree to ~1e-3, not to
    # an ulp: the decays differ by an ulp and VeLO's loss features (loss minus its EMAs,
    # over their spread) amplify it, as they amplify jit-vs-eager rounding (on a run that
    # repeats one loss, where the spread is ~0, even jit and eager disagree in the first
    # digit, so the test moves the parameters as a real run does).
    np.testing.assert_allclose(
        ravel(jax.jit(step)(jnp.int32(40))), ravel(jax.jit(lambda: step(40))()), rtol=5e-3
    )
    assert not np.allclose(ravel(step(40)), ravel(step(400)), rtol=5e-2)  # the horizon matters


def ravel(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def test_es_sign_population_draws_one_horizon_per_task_and_counts_episodes():
    from toy_lopt import LearnedMomentum

    from minivelo.meta import population

    task = tiny_task()
    lopt = LearnedMomentum(30)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    pop = population.Population(
        [task, task], lopt, estimator="es_sign", members_per_task=2, num_steps=30,
        unroll_length=30, horizons=(5, 30), augment={"reparam_prob": 0.5},
    )  # fmt: skip
    pool = pop.init(theta, jax.random.PRNGKey(1))
    gradient, metrics, pool = pop.step(theta, pool, jax.random.PRNGKey(2))
    horizons = np.asarray(metrics["horizons"])
    assert horizons.shape == (2,) and np.all((horizons >= 5) & (horizons <= 30))
    np.testing.assert_array_equal(pool[0], [1, 1])
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(gradient))
    assert float(jnp.abs(gradient["log_lr"])) > 0
    again, _, _ = pop.step(theta, pop.init(theta, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    np.testing.assert_array_equal(gradient["log_lr"], again["log_lr"])  # deterministic


def test_horizons_and_augment_need_es_sign():
    from toy_lopt import LearnedMomentum

    from minivelo.meta import population

    with pytest.raises(ValueError, match="es_sign"):
        population.Population(
            [tiny_task()], LearnedMomentum(10), estimator="es", members_per_task=1,
            num_steps=10, unroll_length=10, horizons=(5, 10),
        )  # fmt: skip


def test_subspace_selects_merges_and_embeds_by_name():
    theta = {"a": {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}, "c": jnp.arange(4.0)}
    space = estimators.Subspace(["a/w", "c"])
    sub = space.select(theta)
    assert [x.shape for x in sub] == [(2, 3), (4,)]
    merged = space.merge(theta, [2 * x for x in sub])
    np.testing.assert_array_equal(merged["a"]["w"], 2 * np.ones((2, 3)))
    np.testing.assert_array_equal(merged["a"]["b"], theta["a"]["b"])  # untouched
    grad = space.embed(theta, [jnp.ones((2, 3)), jnp.ones(4)])
    np.testing.assert_array_equal(grad["a"]["b"], np.zeros(3))
    assert estimators.Subspace(["a"]).chosen(theta) == [0, 1]  # a prefix: the whole branch
    assert estimators.Subspace(["a/"]).chosen(theta) == [0, 1]
    assert estimators.Subspace(None).chosen(theta) == [0, 1, 2]
    with pytest.raises(ValueError, match="no meta-parameter is named"):
        estimators.Subspace(["a/x"]).chosen(theta)


def test_es_sign_population_with_trainable_perturbs_only_those_leaves():
    from toy_lopt import LearnedMomentum

    from minivelo.meta import population

    task = tiny_task()
    lopt = LearnedMomentum(30)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))

    def gradient(trainable):
        pop = population.Population(
            [task], lopt, estimator="es_sign", members_per_task=4, num_steps=30,
            unroll_length=30, horizons=(10, 30), trainable=trainable,
        )  # fmt: skip
        pool = pop.init(theta, jax.random.PRNGKey(1))
        return pop.step(theta, pool, jax.random.PRNGKey(2))[0]

    only_lr = gradient(["log_lr"])
    assert float(jnp.abs(only_lr["log_lr"])) > 0
    assert float(only_lr["logit_beta"]) == 0.0  # frozen: zero gradient, so Adam leaves it
    both = gradient(None)
    assert float(jnp.abs(both["logit_beta"])) > 0
    with pytest.raises(ValueError, match="es_sign"):
        population.Population(
            [task], lopt, estimator="es", members_per_task=1, num_steps=10,
            unroll_length=10, trainable=["log_lr"],
        )  # fmt: skip

"""minivelo.generalisation: label noise, random features, ranks, thresholds, schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minivelo import generalisation as gen
from minivelo import optim

# ------------------------------------------------------------------------------ data


def test_train_test_subset_is_a_seeded_subset_of_each_part():
    x_train, y_train = np.arange(20.0)[:, None], np.arange(20)
    x_test, y_test = 100 + np.arange(10.0)[:, None], 100 + np.arange(10)
    a = gen.train_test_subset(x_train, y_train, x_test, y_test, 5, 3, seed=1)
    b = gen.train_test_subset(x_train, y_train, x_test, y_test, 5, 3, seed=1)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    xs, ys, xt, yt = a
    assert xs.shape == (5, 1) and xt.shape == (3, 1)
    np.testing.assert_array_equal(xs[:, 0], ys)  # pairs stay together
    np.testing.assert_array_equal(xt[:, 0], yt)
    assert len(set(ys)) == 5 and set(ys) <= set(y_train) and set(yt) <= set(y_test)
    other = gen.train_test_subset(x_train, y_train, x_test, y_test, 5, 3, seed=2)
    assert not np.array_equal(other[1], ys)


def test_train_test_subset_rejects_bad_sizes():
    x, y = np.zeros((4, 2)), np.zeros(4, int)
    with pytest.raises(ValueError, match="num_train"):
        gen.train_test_subset(x, y, x, y, 5)
    with pytest.raises(ValueError, match="num_test"):
        gen.train_test_subset(x, y, x, y, 2, 0)
    with pytest.raises(ValueError, match="differ in length"):
        gen.train_test_subset(x, y[:3], x, y, 2)


def test_random_labels_are_uniform_and_leave_the_input_alone():
    labels = np.zeros(20_000, np.int32)
    before = labels.copy()
    random = gen.random_labels(labels, 10, seed=0)
    np.testing.assert_array_equal(labels, before)
    assert random.dtype == np.int32 and random.min() == 0 and random.max() == 9
    counts = np.bincount(random, minlength=10) / len(random)
    np.testing.assert_allclose(counts, 0.1, atol=0.01)
    np.testing.assert_array_equal(random, gen.random_labels(labels, 10, seed=0))


def test_noisy_labels_corrupt_exactly_the_fraction_asked_for():
    labels = np.arange(1000) % 10
    noisy, corrupted = gen.noisy_labels(labels, 10, 0.3, seed=4)
    assert corrupted.sum() == 300
    np.testing.assert_array_equal(noisy != labels, corrupted)  # every chosen one moved
    assert noisy.min() >= 0 and noisy.max() <= 9
    unchanged, none = gen.noisy_labels(labels, 10, 0.0)
    np.testing.assert_array_equal(unchanged, labels)
    assert not none.any()


@pytest.mark.parametrize(
    "labels, classes, fraction, message",
    [
        (np.array([0, 1, 5]), 3, 0.1, "lie in"),
        (np.array([0.0, 1.0]), 3, 0.1, "integer"),
        (np.array([0, 1]), 3, 1.5, "noise_fraction"),
        (np.array([0, 1]), 1, 0.1, "num_classes"),
    ],
)
def test_noisy_labels_reject_bad_input(labels, classes, fraction, message):
    with pytest.raises(ValueError, match=message):
        gen.noisy_labels(labels, classes, fraction)


def test_fresh_label_noise_replaces_about_the_fraction_and_redraws_per_key():
    labels = jnp.zeros(20_000, jnp.int32)
    noisy = gen.fresh_label_noise(jax.random.PRNGKey(0), labels, 10, 0.5)
    # a replaced label is uniform over 10 classes, so 0.5 * 0.9 of them differ
    assert abs(float(jnp.mean(noisy != 0)) - 0.45) < 0.015
    again = gen.fresh_label_noise(jax.random.PRNGKey(1), labels, 10, 0.5)
    assert not jnp.array_equal(noisy, again)
    traced = jax.jit(lambda p: gen.fresh_label_noise(jax.random.PRNGKey(0), labels, 10, p))
    np.testing.assert_array_equal(traced(0.0), labels)
    with pytest.raises(ValueError, match="noise_fraction"):
        gen.fresh_label_noise(jax.random.PRNGKey(0), labels, 10, -0.1)


# ----------------------------------------------------------------- random features


def test_random_relu_features_shape_scale_and_seed():
    x = np.random.default_rng(0).standard_normal((50, 8))
    features = gen.random_relu_features(x, 4000, seed=3)
    assert features.shape == (50, 4000) and features.dtype == np.float64
    assert features.min() >= 0
    # E[relu(z)^2] = Var(z)/2 with z = w.x ~ N(0, |x|^2/d): each row's squared norm ≈ |x|²/(2d)
    # (relative spread ~ 2.2/sqrt(p) = 3.5% per row at p = 4000)
    np.testing.assert_allclose(np.sum(features**2, 1), np.sum(x**2, 1) / 16, rtol=0.15)
    np.testing.assert_array_equal(features, gen.random_relu_features(x, 4000, seed=3))
    # the same W for every row: features of a subset are rows of the features of the whole
    # (to rounding: BLAS blocks a 5-row product differently from a 50-row one, ~1e-14)
    np.testing.assert_allclose(
        gen.random_relu_features(x[:5], 4000, seed=3), features[:5], rtol=1e-12, atol=1e-15
    )
    with pytest.raises(ValueError, match="width"):
        gen.random_relu_features(x, 0)
    with pytest.raises(ValueError, match="shape"):
        gen.random_relu_features(np.zeros(3), 4)


def test_least_squares_fit_matches_lstsq_pinv_and_the_ridge_formula():
    rng = np.random.default_rng(1)
    tall, wide = rng.standard_normal((30, 5)), rng.standard_normal((5, 30))
    y_tall, y_wide = rng.standard_normal(30), rng.standard_normal((5, 2))
    np.testing.assert_allclose(
        gen.least_squares_fit(tall, y_tall), np.linalg.lstsq(tall, y_tall)[0], rtol=1e-10
    )
    beta = gen.least_squares_fit(wide, y_wide)  # underdetermined: the minimum-norm fit
    np.testing.assert_allclose(wide @ beta, y_wide, atol=1e-10)  # interpolates
    np.testing.assert_allclose(beta, np.linalg.pinv(wide) @ y_wide, rtol=1e-8, atol=1e-12)
    ridge = 0.7
    closed_form = np.linalg.solve(tall.T @ tall + ridge * np.eye(5), tall.T @ y_tall)
    np.testing.assert_allclose(gen.least_squares_fit(tall, y_tall, ridge), closed_form, rtol=1e-10)
    with pytest.raises(ValueError, match="ridge"):
        gen.least_squares_fit(tall, y_tall, -1.0)
    with pytest.raises(ValueError, match="same n"):
        gen.least_squares_fit(tall, y_wide)


def test_random_features_regression_shows_the_interpolation_peak():
    """The test error of the minimum-norm fit is worst near width = n (double descent)."""
    rng = np.random.default_rng(0)
    n, d = 40, 10
    x = rng.standard_normal((n + 400, d))
    y = x @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n + 400)
    errors = {}
    for width in [5, n, 400]:
        test_errors = []
        for seed in range(5):
            features = gen.random_relu_features(x, width, seed=seed)
            beta = gen.least_squares_fit(features[:n], y[:n])
            test_errors.append(np.mean((features[n:] @ beta - y[n:]) ** 2))
        errors[width] = np.mean(test_errors)
    assert errors[n] > 3 * errors[5] and errors[n] > 3 * errors[400]


# ---------------------------------------------------------------------------- ranks


def test_effective_rank_of_known_matrices():
    assert gen.effective_rank(np.eye(7)) == pytest.approx(7.0)
    assert gen.effective_rank(np.diag([3.0, 3.0, 0.0, 0.0])) == pytest.approx(2.0)
    rank_one = np.outer(np.arange(1.0, 6.0), np.arange(1.0, 4.0))
    assert gen.effective_rank(rank_one) == pytest.approx(1.0, abs=1e-6)
    # singular values 2 and 1: q = (2/3, 1/3)
    expected = np.exp(-(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)))
    assert gen.effective_rank(np.diag([2.0, 1.0])) == pytest.approx(expected)
    assert gen.effective_rank(np.zeros((3, 4))) == 0.0
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0]
    assert gen.effective_rank(rotation @ np.diag([2.0, 1.0, 1.0, 0.5])) == pytest.approx(
        gen.effective_rank(np.diag([2.0, 1.0, 1.0, 0.5]))
    )


def test_stable_rank_and_bad_matrices():
    assert gen.stable_rank(np.diag([2.0, 1.0, 1.0])) == pytest.approx(1.5)
    assert gen.stable_rank(np.eye(5)) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="2-D"):
        gen.effective_rank(np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        gen.stable_rank(np.array([[1.0, np.nan]]))


# --------------------------------------------------------------------------- curves


def test_steps_to_threshold():
    losses = [3.0, 2.0, np.nan, 0.5, 0.05, 0.2]
    assert gen.steps_to_threshold(losses, 0.5) == 3
    assert gen.steps_to_threshold(losses, 0.1, steps=[10, 20, 30, 40, 50, 60]) == 50
    assert gen.steps_to_threshold(losses, 0.01) is None
    with pytest.raises(ValueError, match="differ in shape"):
        gen.steps_to_threshold(losses, 0.1, steps=[1, 2])


# ------------------------------------------------------------------------ schedules


def test_schedules_follow_their_formulas():
    peak, steps, warmup = 0.3, 100, 10
    t = np.arange(steps)
    values = {
        k: gen.schedule_values(
            gen.learning_rate_schedule(k, peak, steps, warmup_steps=warmup), steps
        )
        for k in gen.SCHEDULE_KINDS
    }
    np.testing.assert_allclose(values["constant"], peak)
    np.testing.assert_allclose(
        values["step"], peak * np.where(t < 50, 1, np.where(t < 75, 0.1, 0.01)), rtol=1e-6
    )
    np.testing.assert_allclose(
        values["cosine"], peak * 0.5 * (1 + np.cos(np.pi * t / steps)), rtol=1e-5, atol=1e-7
    )
    warm = np.where(
        t < warmup,
        peak * t / warmup,
        peak * 0.5 * (1 + np.cos(np.pi * (t - warmup) / (steps - warmup))),
    )
    np.testing.assert_allclose(values["warmup_cosine"], warm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        values["warmup_constant"], np.minimum(peak * t / warmup, peak), rtol=1e-6
    )
    floor = gen.learning_rate_schedule("cosine", 1.0, 10, final_fraction=0.1)
    assert float(floor(10)) == pytest.approx(0.1)


def test_schedule_drives_a_minivelo_optimizer():
    schedule = gen.learning_rate_schedule("warmup_cosine", 1.0, 20, warmup_steps=4)
    opt = optim.sgd(schedule)
    state = opt.init(jnp.zeros(()))
    updates = []
    for _ in range(6):
        update, state = opt.update(jnp.ones(()), state)
        updates.append(float(update))
    np.testing.assert_allclose(updates, -gen.schedule_values(schedule, 6), rtol=1e-6)
    reference = optax.sgd(schedule)
    ref_state = reference.init(jnp.zeros(()))
    ref_update, _ = reference.update(jnp.ones(()), ref_state)
    assert float(ref_update) == updates[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="linear", peak=1.0, num_steps=10), "unknown schedule"),
        (dict(kind="cosine", peak=0.0, num_steps=10), "peak"),
        (dict(kind="cosine", peak=1.0, num_steps=0), "num_steps"),
        (dict(kind="warmup_cosine", peak=1.0, num_steps=10), "warmup_steps"),
        (dict(kind="step", peak=1.0, num_steps=10, step_boundaries=(1.5,)), "fractions"),
    ],
)
def test_schedule_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gen.learning_rate_schedule(**kwargs)

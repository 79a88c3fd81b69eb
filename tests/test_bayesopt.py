"""Bayesian optimisation (minivelo.bench.bayesopt): GP posterior, acquisitions, the loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from minivelo.bench import bayesopt

# ----------------------------------------------------------------- Gaussian process


def _data(n=8):
    x = np.linspace(0.0, 1.0, n)[:, None]
    return x, np.sin(6.0 * x[:, 0]) + 0.5 * x[:, 0]


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_gp_interpolates_its_data_and_is_uncertain_between(kernel):
    x, y = _data(6)
    gp = bayesopt.fit_gp(x, y, kernel=kernel, noise_ratio_grid=(1e-8,))
    mean, std = gp.predict(x)
    np.testing.assert_allclose(mean, y, atol=1e-6)
    assert np.all(std < 1e-3)
    _, std_between = gp.predict((x[:-1] + x[1:]) / 2)
    assert np.all(std_between > 10 * std.max())
    _, std_far = gp.predict(np.array([[3.0]]))  # far from the data: back to the prior
    assert std_far[0] == pytest.approx(gp.y_scale * math.sqrt(gp.signal_variance), rel=1e-6)


def test_gp_posterior_and_marginal_likelihood_match_dense_formulas():
    x, y = _data(6)
    x = np.c_[x, x**2]  # two dimensions: length scales are fitted per dimension
    gp = bayesopt.fit_gp(x, y)
    y_std = (y - y.mean()) / y.std()
    unit = bayesopt.matern52_kernel(x, x, gp.lengthscales) + gp.noise_ratio * np.eye(len(y))
    cov = gp.signal_variance * unit
    assert gp.log_marginal_likelihood == pytest.approx(
        multivariate_normal(np.zeros(len(y)), cov).logpdf(y_std), rel=1e-8
    )
    # Rasmussen & Williams eq. 2.25-2.26, by a dense solve, for the latent f at new points
    x_new = np.array([[0.33, 0.1], [0.9, 0.5]])
    k_new = bayesopt.matern52_kernel(x, x_new, gp.lengthscales)
    mean = y.mean() + y.std() * k_new.T @ np.linalg.solve(unit, y_std)
    var = gp.signal_variance * (1.0 - np.sum(k_new * np.linalg.solve(unit, k_new), 0))
    got_mean, got_std = gp.predict(x_new)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-8)
    np.testing.assert_allclose(got_std, y.std() * np.sqrt(var), rtol=1e-6)


def test_marginal_likelihood_prefers_the_true_length_scale():
    # Draw from a GP with length scale 0.3: the fitted one should be near it, not at an end.
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 1))
    cov = bayesopt.rbf_kernel(x, x, 0.3) + 1e-6 * np.eye(40)
    y = np.linalg.cholesky(cov) @ rng.standard_normal(40)
    gp = bayesopt.fit_gp(x, y, kernel="rbf")
    assert 0.12 <= gp.lengthscales[0] <= 0.8


def test_fit_gp_rejects_bad_input():
    x, y = _data()
    with pytest.raises(ValueError, match="finite"):
        bayesopt.fit_gp(x, np.r_[y[:-1], np.nan])
    with pytest.raises(ValueError, match="shapes"):
        bayesopt.fit_gp(x, y[:-1])
    with pytest.raises(ValueError, match="unknown kernel"):
        bayesopt.fit_gp(x, y, kernel="linear")
    with pytest.raises(ValueError, match="no data"):
        bayesopt.fit_gp(np.zeros((0, 1)), np.zeros(0))
    gp = bayesopt.fit_gp(x, y)
    with pytest.raises(ValueError, match="dimensions"):
        gp.predict(np.zeros((2, 3)))


# ----------------------------------------------------------------- acquisition functions


def test_acquisitions_match_closed_forms_on_a_hand_example():
    # f(x) ~ N(0.5, 0.2^2), best so far 0.3: z = (0.3 - 0.5) / 0.2 = -1
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)  # phi(-1) = 0.24197
    cdf = 0.5 * (1 + math.erf(-1 / math.sqrt(2)))  # Phi(-1) = 0.15866
    ei = bayesopt.expected_improvement(0.5, 0.2, best=0.3)
    assert float(ei) == pytest.approx(-0.2 * cdf + 0.2 * phi, rel=1e-12)
    assert float(ei) == pytest.approx(0.016663, abs=1e-6)
    assert float(bayesopt.probability_of_improvement(0.5, 0.2, best=0.3)) == pytest.approx(cdf)
    assert float(bayesopt.upper_confidence_bound(0.5, 0.2, kappa=2.0)) == pytest.approx(-0.1)
    # xi shifts the target: PI(best=0.3, xi=0.1) = Phi(-1.5)
    pi = bayesopt.probability_of_improvement(0.5, 0.2, best=0.3, xi=0.1)
    assert float(pi) == pytest.approx(0.5 * (1 + math.erf(-1.5 / math.sqrt(2))))
    # no uncertainty: the improvement itself, and a sure (non-)improvement
    np.testing.assert_allclose(bayesopt.expected_improvement([0.1, 0.5], [0.0, 0.0], 0.3), [0.2, 0])
    np.testing.assert_allclose(bayesopt.probability_of_improvement([0.1, 0.5], [0, 0], 0.3), [1, 0])
    with pytest.raises(ValueError, match="kappa"):
        bayesopt.upper_confidence_bound(0.5, 0.2, kappa=-1.0)


def test_expected_improvement_equals_a_monte_carlo_average():
    rng = np.random.default_rng(1)
    samples = 0.4 + 0.3 * rng.standard_normal(400_000)
    monte_carlo = np.mean(np.maximum(0.35 - samples, 0.0))
    assert float(bayesopt.expected_improvement(0.4, 0.3, best=0.35)) == pytest.approx(
        monte_carlo, rel=1e-2
    )


# ----------------------------------------------------------------- the loop


def _wiggly(x):
    """Three local minima on [-3, 3]; the global one near x = -1.6 (value about -1.2)."""
    x = float(np.asarray(x).reshape(-1)[0])
    return math.sin(3.0 * x) + 0.1 * (x + 0.5) ** 2


@pytest.mark.parametrize("acquisition", ["ei", "ucb"])
def test_bo_finds_the_minimum_of_a_1d_function_in_few_evaluations(acquisition):
    grid = np.linspace(-3.0, 3.0, 20001)
    values = np.array([_wiggly(v) for v in grid])
    true_min, true_argmin = values.min(), grid[values.argmin()]
    result = bayesopt.minimize(_wiggly, [(-3.0, 3.0)], 15, acquisition=acquisition, seed=0)
    assert result.best_y - true_min < 1e-2
    assert abs(result.best_x[0] - true_argmin) < 0.1
    # Random search with the same 15 evaluations is much further off (here: 0.05 or more).
    random_points = np.random.default_rng(0).uniform(-3.0, 3.0, 15)
    assert min(_wiggly(v) for v in random_points) - true_min > 5 * (result.best_y - true_min)


def test_initial_design_is_a_latin_hypercube_and_deterministic():
    bounds = [(-4.0, 0.0), (-2.0, 0.0)]
    a, b = bayesopt.BayesianOptimizer(bounds, num_initial=5, seed=3), None
    points = []
    for _ in range(5):
        points.append(a.ask())
        a.tell(points[-1], float(np.sum(points[-1] ** 2)))
    unit = a.to_unit(np.array(points))
    for axis in range(2):  # one point in each fifth of every axis
        assert sorted(np.floor(unit[:, axis] * 5).astype(int)) == [0, 1, 2, 3, 4]
    b = bayesopt.BayesianOptimizer(bounds, num_initial=5, seed=3)
    np.testing.assert_array_equal(b.ask(), points[0])
    np.testing.assert_array_equal(a.x, np.array(points))
    assert np.all((a.ask() >= [-4.0, -2.0]) & (a.ask() <= [0.0, 0.0]))


def test_optimizer_rejects_bad_input():
    with pytest.raises(ValueError, match="low < high"):
        bayesopt.BayesianOptimizer([(1.0, 0.0)])
    with pytest.raises(ValueError, match="acquisition"):
        bayesopt.BayesianOptimizer([(0.0, 1.0)], acquisition="thompson")
    with pytest.raises(ValueError, match="num_initial"):
        bayesopt.BayesianOptimizer([(0.0, 1.0)], num_initial=0)
    optimizer = bayesopt.BayesianOptimizer([(0.0, 1.0)])
    with pytest.raises(ValueError, match="no evaluations"):
        optimizer.surrogate()
    with pytest.raises(ValueError, match="finite"):
        optimizer.tell([0.5], float("nan"))
    with pytest.raises(ValueError, match="coordinates"):
        optimizer.tell([0.5, 0.5], 1.0)
    assert len(optimizer.y) == 0  # nothing recorded by the failed tells


def test_optuna_sampler_runs_the_same_loop():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bounds = {"a": (-1.0, 1.0), "b": (-1.0, 1.0)}

    def objective(trial):
        a, b = trial.suggest_float("a", *bounds["a"]), trial.suggest_float("b", *bounds["b"])
        return (a - 0.3) ** 2 + 0.5 * (b + 0.2) ** 2

    def run():
        study = optuna.create_study(sampler=bayesopt.optuna_sampler(bounds, seed=0))
        study.optimize(objective, n_trials=12)
        return study

    study = run()
    assert study.best_value < 5e-3
    first = bayesopt.BayesianOptimizer(list(bounds.values()), seed=0).ask()
    np.testing.assert_allclose([study.trials[0].params[k] for k in "ab"], first)
    assert [t.params for t in run().trials] == [t.params for t in study.trials]  # reproducible
    with pytest.raises(ValueError, match="acquisition"):
        bayesopt.optuna_sampler(bounds, acquisition="nope")


def test_log_outputs_model_the_log_and_reject_non_positive_values():
    optimizer = bayesopt.BayesianOptimizer([(0.0, 1.0)], num_initial=2, log_outputs=True)
    for x, y in [(0.1, 2.0), (0.5, 0.02), (0.9, 1.0)]:
        optimizer.tell([x], y)
    np.testing.assert_allclose(optimizer.modelled_y, np.log([2.0, 0.02, 1.0]))
    unit = optimizer.to_unit(np.array([[0.5], [0.7]]))
    direct = bayesopt.fit_gp(optimizer.to_unit(optimizer.x), np.log(optimizer.y))
    np.testing.assert_allclose(optimizer.surrogate().predict(unit), direct.predict(unit))
    assert optimizer.surrogate().predict(unit)[0][0] < 0  # log 0.02 = -3.9; a GP of y is > 0
    with pytest.raises(ValueError, match="positive"):
        optimizer.tell([0.3], 0.0)
    assert len(optimizer.y) == 3


def test_plots_mark_each_acquisitions_maximiser():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one_d = bayesopt.BayesianOptimizer([(-3.0, 3.0)], num_initial=4, seed=1)
    for _ in range(4):
        x = one_d.ask()
        one_d.tell(x, _wiggly(x))
    fig, axes = plt.subplots(1, 2)
    nexts = bayesopt.plot_1d(one_d, axes)
    grid = np.linspace(0.0, 1.0, 400)[:, None]
    mean, std = one_d.surrogate().predict(grid)
    ei = bayesopt.expected_improvement(mean, std, one_d.y.min())
    assert nexts["EI"] == pytest.approx(one_d.from_unit(grid[np.argmax(ei)])[0])
    assert set(nexts) == {"EI", "PI", "UCB, kappa = 2"}
    two_d = bayesopt.BayesianOptimizer([(0.0, 1.0), (0.0, 2.0)], num_initial=3)
    for _ in range(3):
        x = two_d.ask()
        two_d.tell(x, float(np.sum(x)))
    assert len(bayesopt.plot_2d(two_d, axes)) == 2
    with pytest.raises(ValueError, match="1-D"):
        bayesopt.plot_1d(two_d, axes)
    with pytest.raises(ValueError, match="2-D"):
        bayesopt.plot_2d(one_d, axes)
    plt.close(fig)

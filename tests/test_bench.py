"""Bench: training loops, sweeps, tuning metrics, the speedup, the optimizer registry, the
report and the sweep benchmark (the command line itself is tested in test_cli.py)."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minivelo import bench, optim, tasks
from minivelo.bench import optimizers, report, sweep_benchmark, tuning

# ----------------------------------------------------------------- metrics (no jax)


def test_final_loss_is_mean_of_last_five_percent_and_inf_on_nan():
    curve = np.r_[np.full(95, 10.0), np.arange(5.0)]
    assert tuning.window(100) == 5
    assert tuning.final_loss(curve) == pytest.approx(2.0)
    assert tuning.final_loss(np.r_[curve[:-1], np.nan]) == np.inf
    both = tuning.final_loss(np.stack([curve, curve + 1]))
    np.testing.assert_allclose(both, [2.0, 3.0])
    assert tuning.smoothed(curve)[-1] == pytest.approx(tuning.final_loss(curve))


def test_steps_to_reach():
    baseline = np.linspace(10.0, 1.0, 100)  # reaches loss x at a known step
    needed = tuning.steps_to_reach(baseline, 5.0)
    assert needed == int(np.flatnonzero(tuning.smoothed(baseline) <= 5.0)[0]) + 1
    assert tuning.steps_to_reach(baseline, 0.5) is None


def test_speedup_both_branches_diverged_and_continuity():
    T = 100
    reference = np.linspace(10.0, 1.0, T)
    t_ref = tuning.steps_to_reach(reference, tuning.smoothed(reference)[-1])
    assert t_ref is not None and t_ref <= T

    # faster: reaches the reference's final loss at step t_x, so speedup = t_R / t_X
    fast = np.r_[np.linspace(10.0, 0.5, 40), np.full(T - 40, 0.5)]
    s = tuning.speedup(fast, reference)
    t_x = tuning.steps_to_reach(fast, tuning.smoothed(reference)[-1])
    assert s.reached and s.steps_to_reference == t_x and s.reference_steps == t_ref
    assert s.speedup == pytest.approx(t_ref / t_x) and s.speedup > 2

    # slower: never reaches it, so speedup = (reference's steps to its final loss) / T
    slow = np.linspace(10.0, 4.0, T)
    s = tuning.speedup(slow, reference)
    n = tuning.steps_to_reach(reference, tuning.smoothed(slow)[-1])
    assert not s.reached and s.reference_steps_to_match == n
    assert s.speedup == pytest.approx(n / T) and s.speedup < 1

    # the reference against itself: exactly 1
    assert tuning.speedup(reference, reference).speedup == 1.0

    # diverged: 0, and said so
    broken = np.r_[reference[:-1], np.nan]
    s = tuning.speedup(broken, reference)
    assert s.diverged and s.speedup == 0.0 and s.text() == "diverged"

    # continuous across the branches: a curve ending just above or just below the
    # reference's final loss gets a speedup near t_R / T from both sides
    for offset in (-1e-6, 1e-6):
        near = reference + offset
        assert tuning.speedup(near, reference).speedup == pytest.approx(t_ref / T, abs=0.02)

    with pytest.raises(ValueError, match="one length"):
        tuning.speedup(reference[:50], reference)


def test_speedup_counts_a_finite_blow_up_as_diverged():
    T = 100
    reference = np.linspace(10.0, 1.0, T)
    # finite everywhere, but ending 1e14 times above where it started: diverged
    blown = np.r_[np.linspace(10.0, 5.0, 50), np.geomspace(10.0, 1e15, T - 50)]
    s = tuning.speedup(blown, reference)
    assert np.all(np.isfinite(blown)) and s.diverged and s.speedup == 0.0
    assert s.text() == "diverged"
    # the threshold is DIVERGENCE_FACTOR times the first loss, measured on the final loss
    factor = tuning.DIVERGENCE_FACTOR
    above = np.r_[10.0, np.full(T - 1, 10.0 * factor * 1.01)]
    below = np.r_[10.0, np.full(T - 1, 10.0 * factor * 0.99)]
    assert tuning.speedup(above, reference).diverged
    assert not tuning.speedup(below, reference).diverged
    # a reference that blew up the same way: the optimizer is infinitely faster
    s = tuning.speedup(reference, blown)
    assert not s.diverged and s.speedup == np.inf
    # a first loss <= 0 gives no scale to compare with: only a non-finite loss counts
    assert not tuning.speedup(np.r_[0.0, np.full(T - 1, 5.0)], reference).diverged


def test_speedup_is_the_one_used_by_the_benchmark_rows():
    rows = report.run_benchmark(
        ["quadratic"], ["sgd", "adam"], num_steps=40, learning_rates=[1e-2, 1e-1], progress=False
    )
    tuned = rows[0]
    for row in rows[1:]:
        expected = tuning.speedup(row.curve, tuned.curve)
        assert row.speedup == expected.speedup and row.reached == expected.reached
        assert row.steps_to_baseline == expected.steps_to_reference


def test_log_grid():
    np.testing.assert_allclose(tuning.log_grid(1e-3, 1.0, 1), [1e-3, 1e-2, 1e-1, 1.0])
    assert len(tuning.DEFAULT_GRID) == 9
    with pytest.raises(ValueError):
        tuning.log_grid(1.0, 0.1)


# ------------------------------------------------------------------------ training


def test_train_rejects_bad_arguments_clearly():
    task = tasks.get_task("quadratic")
    with pytest.raises(TypeError, match="call the factory first"):
        bench.train(task, optim.adam, 10)
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        bench.train(task, optim.adam(1e-2), 0)
    with pytest.raises(ValueError, match="learning_rates must be positive"):
        bench.sweep(task, optim.adam, [1e-2, -1.0], 10)
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        bench.train_seeds(task, optim.adam(1e-2), 10, seeds=[])


def loss_scaled_sgd() -> optax.GradientTransformationExtraArgs:
    """Polyak's step size ``loss / |g|^2`` (for a minimum of 0): ``update`` needs ``loss=``,
    as VeLO's does."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, *, loss):
        squared_norm = sum(jnp.sum(g**2) for g in jax.tree.leaves(grads))
        step = loss / (squared_norm + 1e-12)
        return jax.tree.map(lambda g: -step * g, grads), state

    return optax.GradientTransformationExtraArgs(init, update)


def test_transforms_that_take_the_loss_get_it():
    task = tasks.get_task("quadratic", noise_scale=0.0)
    assert bench.training.takes_loss(loss_scaled_sgd())
    assert not bench.training.takes_loss(optim.sgd(0.1))
    result = bench.train(task, loss_scaled_sgd(), 30)
    assert np.isfinite(result.losses).all() and result.losses[-1] < 0.1 * result.losses[0]
    # optax's chains are ExtraArgs too, and must accept (and ignore) loss=.
    chained = bench.train(task, optax.chain(optax.scale_by_adam(), optax.scale(-1e-2)), 30)
    plain = bench.train(task, optax.adam(1e-2), 30)
    np.testing.assert_allclose(chained.losses, plain.losses, rtol=1e-6)


def test_vmapped_sweep_equals_separate_runs():
    task = tasks.get_task("logistic")
    rates = [1e-2, 1e-1]
    swept = bench.sweep(task, optim.adam, rates, 40, seeds=(0, 1))
    assert swept.losses.shape == (2, 2, 40)
    for i, lr in enumerate(rates):
        for j, seed in enumerate((0, 1)):
            alone = bench.train(task, optim.adam(lr), 40, seed=seed)
            np.testing.assert_allclose(swept.losses[i, j], alone.losses, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- optimizers


def test_optimizer_specs_and_registry():
    adam = optimizers.parse_spec("adam")
    assert adam.learning_rate == 1e-3 and not adam.tuned and adam.label == "adam (lr=0.001)"
    assert optimizers.parse_spec("sgd:lr=0.5").learning_rate == 0.5
    assert optimizers.parse_spec("momentum:tuned").tuned
    with pytest.raises(KeyError, match="unknown optimizer 'adamm'.*adam"):
        optimizers.parse_spec("adamm")
    with pytest.raises(ValueError, match="positive number"):
        optimizers.parse_spec("adam:lr=-1")
    with pytest.raises(ValueError, match="cannot parse"):
        optimizers.parse_spec("adam:fast")

    optimizers.register_optimizer("loss_scaled_sgd", loss_scaled_sgd)
    spec = optimizers.parse_spec("loss_scaled_sgd")
    assert spec.learning_rate is None and spec.label == "loss_scaled_sgd"
    assert isinstance(spec.make(10), optax.GradientTransformationExtraArgs)
    with pytest.raises(ValueError, match="has no learning rate"):
        optimizers.parse_spec("loss_scaled_sgd:tuned")

    velo = optimizers.get_optimizer("velo")  # minivelo.velo: no learning rate, told the horizon
    assert not velo.tunable and velo.takes_num_steps
    mlp = optimizers.get_optimizer("mlp_lopt")  # the shipped per-parameter MLP optimizer
    assert not mlp.tunable and mlp.takes_num_steps
    for name in ("nadam", "adamax", "adadelta", "lion", "adahessian", "adamw"):
        assert optimizers.get_optimizer(name).tunable, name

    def horizon_aware(num_steps):  # like VeLO: told the run length
        return optax.sgd(1.0 / num_steps)

    optimizers.register_optimizer("horizon_aware", horizon_aware)
    assert optimizers.parse_spec("horizon_aware").entry.takes_num_steps
    with pytest.raises(TypeError, match="takes no learning_rate"):
        optimizers.register_optimizer("broken", horizon_aware, default_learning_rate=0.1)


# ---------------------------------------------------------------- report and CLIs


def test_benchmark_rows_table_and_figures(tmp_path):
    rows = report.run_benchmark(
        ["quadratic", "rosenbrock"],
        ["sgd", "adam:lr=1e-5", "adam:lr=0.01"],
        num_steps=60,
        learning_rates=tuning.log_grid(1e-3, 1.0, 1),
        progress=False,
    )
    labels = ["adam (tuned)", "sgd (lr=0.1)", "adam (lr=1e-05)", "adam (lr=0.01)"]
    assert [r.optimizer for r in rows[:4]] == labels
    assert rows[0].is_baseline and rows[0].speedup == 1.0
    assert rows[0].grid_curves.shape == (4, 60)
    poor = rows[2]
    assert poor.final_loss > poor.baseline_final_loss and poor.speedup < 1.0
    on_grid = rows[3]  # 0.01 is a grid point: the sweep's run is reused, not retrained
    assert on_grid.compile_s == 0.0 and on_grid.final_loss == rows[0].grid_final_losses[1]
    csv_path, md_path = report.write_table(rows, tmp_path)
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 8 and set(report.COLUMNS) == set(table[0])
    assert "| task | optimizer |" in md_path.read_text()
    rosenbrock_tuned = rows[4]
    assert rosenbrock_tuned.is_baseline and rosenbrock_tuned.learning_rate == 1.0
    assert rosenbrock_tuned.at_grid_edge and "1*" in md_path.read_text()
    report.plot_speedups(rows, tmp_path / "speedups.png")
    report.plot_curves(rows, tmp_path / "curves.png")
    assert (tmp_path / "speedups.png").stat().st_size > 1000


def test_sweep_benchmark_prints_a_ratio():
    lines = []
    records = sweep_benchmark.run(
        ["quadratic"], ["adam"], num_lrs=2, seeds=[0], num_steps=20, repeats=1, log=lines.append
    )
    assert records[0]["runs"] == 2 and records[0]["ratio"] > 0
    assert "ratio" in lines[-1]


def test_every_builtin_optimizer_is_nameable_and_adahessian_trains_in_the_loop():
    """Every name builds a transform; AdaHessian gets its Hessian-diagonal estimate from the
    training loop (it raises without one), so it trains like any other."""
    for name in optimizers.BUILTIN_NAMES:
        transform = optimizers.parse_spec(name).make(20)
        assert isinstance(transform, optax.GradientTransformation), name
    hessian = optimizers.parse_spec("adahessian").make(20)
    assert optimizers.needs_hessian_diagonal(hessian)
    assert not optimizers.needs_hessian_diagonal(optim.adam(1e-3))
    task = tasks.get_task("quadratic", noise_scale=0.0)
    losses = np.asarray(bench.train(task, hessian, 20).losses)
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]


def test_velo_spec_does_not_touch_the_registry(tmp_path):
    from minivelo.bench.velo_weights import velo_spec
    from minivelo.lopt.velo import checkpoint, params

    path = tmp_path / "tiny.msgpack"
    checkpoint.save(path, params.init_meta_params(jax.random.PRNGKey(0), "tiny"))
    before = optimizers.list_optimizers()
    spec, description = velo_spec(path)
    assert optimizers.list_optimizers() == before
    assert spec.entry.name.startswith("velo[tiny-") and "sha256" in description
    assert spec.entry.takes_num_steps and not spec.entry.tunable
    assert optimizers.parse_spec(spec) is spec

"""One contract for every learned optimizer (minivelo.lopt.base), checked the same way on
the per-parameter MLP and on VeLO; and a third optimizer (tests/toy_lopt.py, one file)
run through meta-training, evaluation and export."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import toy_lopt

import minivelo
from minivelo.lopt import base

SHIPPED = {"mlp": "mlp_lopt_mnist1d.npz", "velo": "minivelo_small.msgpack"}
WEIGHTS_DIR = minivelo.lopt.mlp_lopt.WEIGHTS_DIR


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves(a), leaves(b)):
        np.testing.assert_array_equal(x, y)


_LOADED = {}


def load_shipped(kind):
    """(learned optimizer, its shipped meta-parameters, its jitted update), loaded once."""
    if kind not in _LOADED:
        lopt, theta, _ = base.load_weights(WEIGHTS_DIR / SHIPPED[kind], num_steps=50)
        assert lopt.kind == kind and lopt.num_steps == 50
        _LOADED[kind] = lopt, theta, jax.jit(lopt.update)
    return _LOADED[kind]


@pytest.fixture(scope="module", params=["mlp", "velo"])
def shipped(request):
    return load_shipped(request.param)


def quadratic(params):
    return 0.5 * jnp.sum((params["w"] - 1.0) ** 2) + 0.5 * jnp.sum(params["b"] ** 2)


PARAMS = {"w": jnp.linspace(-2.0, 2.0, 12).reshape(3, 4), "b": jnp.full((4,), 0.5)}


def test_shapes_and_spec(shipped):
    lopt, theta, step = shipped
    fresh = lopt.init_meta_params(jax.random.PRNGKey(0))
    assert jax.tree.map(jnp.shape, fresh) == jax.tree.map(jnp.shape, theta)
    assert base.build(lopt.spec(), lopt.num_steps) == lopt  # the spec rebuilds it
    state = lopt.init(theta, PARAMS)
    loss, grads = jax.value_and_grad(quadratic)(PARAMS)
    updates, state = step(theta, grads, state, PARAMS, loss)
    assert jax.tree.map(jnp.shape, updates) == jax.tree.map(jnp.shape, PARAMS)
    assert all(x.dtype == np.float32 and np.isfinite(x).all() for x in leaves(updates))


def test_updates_are_added_and_descend(shipped):
    lopt, theta, step = shipped
    params, state = PARAMS, lopt.init(theta, PARAMS)
    losses = []
    # 30 of the 50 planned steps: the shipped VeLO's steps are small early (its lr_mult was
    # scaled by a quarter so that long runs train), so 10 steps lower this loss only ~3%
    for i in range(30):
        loss, grads = jax.value_and_grad(quadratic)(params)
        updates, state = step(theta, grads, state, params, loss)
        if i == 0:  # the first update points downhill: <u, g> < 0
            assert sum(float(jnp.vdot(u, g)) for u, g in zip(leaves(updates), leaves(grads))) < 0
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        losses.append(float(loss))
    assert quadratic(params) < 0.9 * losses[0], losses


def test_optax_view_equals_the_functional_update(shipped):
    lopt, theta, step = shipped
    loss, grads = jax.value_and_grad(quadratic)(PARAMS)
    tx = lopt.as_optax(theta)
    via_optax, _ = jax.jit(tx.update)(grads, tx.init(PARAMS), PARAMS, loss=loss)
    direct, _ = step(theta, grads, lopt.init(theta, PARAMS), PARAMS, loss)
    # two compiled programs (theta a constant in one, an argument in the other) may round
    # differently in the last bit; a sign or formula difference would be O(1)
    assert jax.tree.structure(via_optax) == jax.tree.structure(direct)
    for a, b in zip(leaves(via_optax), leaves(direct)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="needs params"):
        tx.update(grads, tx.init(PARAMS), None, loss=loss)


def test_save_and_load_round_trip(shipped, tmp_path):
    lopt, theta, _ = shipped
    path = lopt.save(tmp_path / "w", theta, {"note": "round trip", "outer_steps": 3})
    assert path.suffix == lopt.suffix and path.with_suffix(".json").exists()
    loaded_lopt, loaded, info = base.load_weights(path, num_steps=lopt.num_steps)
    assert loaded_lopt == lopt and info["note"] == "round trip"
    assert info["num_meta_params"] == sum(x.size for x in leaves(theta))
    assert_trees_equal(loaded, theta)
    with pytest.raises(FileNotFoundError, match="metadata"):
        base.load_weights(tmp_path / "missing.npz")


def test_velo_contract_agrees_with_minivelo_velo():
    """The contract adapter and the optax wrapper flip VeLO's step the same way."""
    lopt, theta, step = load_shipped("velo")
    loss, grads = jax.value_and_grad(quadratic)(PARAMS)
    tx = minivelo.velo(50, weights=theta)
    wrapped, _ = jax.jit(tx.update)(grads, tx.init(PARAMS), PARAMS, loss=loss)
    direct, _ = step(theta, grads, lopt.init(theta, PARAMS), PARAMS, loss)
    for a, b in zip(leaves(wrapped), leaves(direct)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="unknown learned optimizer kind 'nope'"):
        base.build({"kind": "nope"}, 10)
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        base.build({"kind": "mlp"}, 0)
    with pytest.raises(ValueError, match="unknown MLP optimizer setting"):
        base.build({"kind": "mlp", "width": 3}, 10)
    with pytest.raises(ValueError, match="unknown VeLO preset"):
        base.build({"kind": "velo", "preset": "huge"}, 10)
    with pytest.raises(ValueError, match="unknown toy_momentum optimizer setting"):
        base.build({"kind": "toy_momentum", "lr": 1.0}, 10)


def test_a_third_optimizer_meta_trains_evaluates_and_exports(tmp_path):
    from minivelo import tasks
    from minivelo.meta import evaluate, export
    from minivelo.meta.train import MetaConfig, MetaTrainer, load_theta

    assert base.REGISTRY["toy_momentum"] is toy_lopt.LearnedMomentum
    config = MetaConfig(
        seed=0,
        optimizer={"kind": "toy_momentum", "initial_log_lr": -2.0},
        family={"name": "quadratic", "fixed": {"dim": 4}},
        num_tasks=1,
        members_per_task=2,
        num_steps=10,
        unroll_length=10,
        outer_steps=2,
        checkpoint_every=2,
        eval_every=2,
        num_val_tasks=1,
    )
    state = MetaTrainer(config, tmp_path / "run", progress=False).run()
    assert state.step == 2 and np.isfinite(state.best_score)
    assert not np.allclose(float(state.theta["log_lr"]), -2.0)  # theta moved

    path = export.export(tmp_path / "run", "toy", out_dir=tmp_path)
    assert path == tmp_path / "toy.npz"
    info = json.loads((tmp_path / "toy.json").read_text())
    assert info["config"] == {"kind": "toy_momentum", "initial_log_lr": -2.0}
    theta, run_config = load_theta(path)  # the one loader reads exported weights too
    assert run_config == config
    best, _ = load_theta(tmp_path / "run" / "best.npz")
    assert_trees_equal(theta, best)

    # a run warm-started from the exported weights: its provenance names them by sha256
    # and takes their compute from their JSON, so no parent checkpoint need exist
    import hashlib
    import shutil

    child = dataclasses.replace(config, init_from=str(path), seed=1)
    MetaTrainer(child, tmp_path / "child", progress=False).run()
    shutil.rmtree(tmp_path / "run")
    child_path = export.export(tmp_path / "child", "child", out_dir=tmp_path)
    child_info = json.loads(child_path.with_suffix(".json").read_text())
    [parent] = child_info["warm_start"]
    assert parent["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (
        parent["outer_steps"] == info["outer_steps"] and parent["meta_config"] == config.to_dict()
    )
    assert child_info["command"].startswith(info["command"] + " && ")
    total = child_info["outer_steps"] + info["outer_steps"]
    assert child_info["compute"]["total_outer_steps"] == total

    lopt = base.build(run_config.optimizer, 10)
    task = tasks.build("quadratic", dim=4)
    rows = evaluate.compare_table(
        [task], lopt, theta, 10, seeds=(0,), grid=(1e-3, 1e-2), log=lambda s: None
    )
    assert np.isfinite(rows[0]["learned"]) and rows[0]["adam_tuned"] <= rows[0]["adam_default"]
    assert dataclasses.is_dataclass(lopt)

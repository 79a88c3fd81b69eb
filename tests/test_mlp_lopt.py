"""The per-parameter MLP learned optimizer: shapes, invariances, the optax interface."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minivelo.lopt import mlp_lopt

CONFIG = mlp_lopt.DEFAULT_CONFIG


def params_and_grads():
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {"w": jax.random.normal(k[0], (5, 3)), "b": jax.random.normal(k[1], (3,))}
    grads = {"w": jax.random.normal(k[2], (5, 3)), "b": jax.random.normal(k[3], (3,))}
    return params, grads


def test_meta_param_count_matches_architecture():
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(0))
    count = sum(x.size for x in jax.tree.leaves(theta))
    # 9 per-parameter + 4 progress inputs -> 16 -> 16 -> 2
    assert count == mlp_lopt.num_meta_params() == 13 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2


def test_features_are_rms_normalised_per_tensor():
    params, grads = params_and_grads()
    state = mlp_lopt.update_accumulators(mlp_lopt.init_state(params), grads)
    feats = mlp_lopt.features(grads, params, state, num_steps=100)
    for x in jax.tree.leaves(feats):
        assert x.shape[-1] == CONFIG.num_inputs
        per_tensor = x[..., : CONFIG.num_parameter_features]
        rms = jnp.sqrt(jnp.mean(per_tensor**2, axis=tuple(range(x.ndim - 1))))
        np.testing.assert_allclose(rms, 1.0, rtol=1e-4)
        # progress features at t = 0: t/N = 0 and tanh(0) = 0
        np.testing.assert_allclose(x[..., CONFIG.num_parameter_features :], 0.0)


def test_updates_do_not_depend_on_gradient_scale():
    """Every feature is divided by its tensor's rms, so g -> 1000 g changes nothing."""
    params, grads = params_and_grads()
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(1))
    state = mlp_lopt.init_state(params)
    small, _ = mlp_lopt.update(theta, grads, state, params, 100)
    large, _ = mlp_lopt.update(theta, jax.tree.map(lambda g: 1000 * g, grads), state, params, 100)
    for a, b in zip(jax.tree.leaves(small), jax.tree.leaves(large)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-9)
        assert jnp.all(jnp.isfinite(a)) and jnp.any(a != 0)


def test_optax_transform_equals_pure_update_and_trains():
    params, _ = params_and_grads()
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(2))
    opt = mlp_lopt.mlp_lopt(theta, num_steps=50)
    assert isinstance(opt, optax.GradientTransformationExtraArgs)
    loss_fn = lambda p: sum(jnp.sum((x - 1.0) ** 2) for x in jax.tree.leaves(p))
    state = opt.init(params)
    pure_state = mlp_lopt.init_state(params)
    for _ in range(3):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params, loss=loss)
        expected, pure_state = mlp_lopt.update(theta, grads, pure_state, params, 50)
        for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(expected)):
            np.testing.assert_array_equal(a, b)
        params = optax.apply_updates(params, updates)
    assert int(state.iteration) == 3


def test_update_needs_params():
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(0))
    opt = mlp_lopt.mlp_lopt(theta, num_steps=10)
    params, grads = params_and_grads()
    with pytest.raises(ValueError, match="needs params"):
        opt.update(grads, opt.init(params))


def test_wrong_meta_params_are_named():
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(0))
    theta["layer_1"]["w"] = jnp.zeros((16, 15))
    with pytest.raises(ValueError, match="layer_1"):
        mlp_lopt.mlp_lopt(theta, num_steps=10)
    with pytest.raises(ValueError, match="layers"):
        mlp_lopt.mlp_lopt({"layer_0": {}}, num_steps=10)
    with pytest.raises(ValueError, match="unknown MLP optimizer setting"):
        mlp_lopt.MLPLOptConfig.from_dict({"hidden": [3]})


def test_weights_round_trip(tmp_path):
    config = mlp_lopt.MLPLOptConfig(hidden_sizes=(8,))
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(3), config)
    mlp_lopt.save_weights(tmp_path / "w", theta, config, {"note": "test"})
    loaded, loaded_config, info = mlp_lopt.load_weights(tmp_path / "w.npz")
    assert loaded_config == config and info["note"] == "test"
    for a, b in zip(jax.tree.leaves(theta), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError):
        mlp_lopt.load_weights(tmp_path / "missing")


def test_module_files_and_contract_files_are_one_format(tmp_path):
    import json

    from minivelo.lopt import base

    config = mlp_lopt.MLPLOptConfig(hidden_sizes=(4,))
    theta = mlp_lopt.init_meta_params(jax.random.PRNGKey(1), config)
    mlp_lopt.save_weights(tmp_path / "a", theta, config, {"note": "module"})
    lopt, loaded, info = base.load_weights(tmp_path / "a.npz", num_steps=10)
    assert lopt == base.MLP(10, config) and info["note"] == "module"
    base.MLP(10, config).save(tmp_path / "b", theta, {"note": "contract"})
    loaded_b, config_b, _ = mlp_lopt.load_weights(tmp_path / "b.npz")
    assert config_b == config
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(loaded_b)):
        np.testing.assert_array_equal(a, b)
    info = json.loads((tmp_path / "b.json").read_text())
    (tmp_path / "b.json").write_text(json.dumps({**info, "config": {"kind": "velo"}}))
    with pytest.raises(ValueError, match="'velo' optimizer, not 'mlp'"):
        mlp_lopt.load_weights(tmp_path / "b.npz")


def test_shipped_weights_beat_default_adam_on_an_unseen_task():
    """The shipped optimizer (``minivelo/weights/mlp_lopt_mnist1d``) on a task of its family
    that meta-training never saw: lower final loss than Adam at lr 1e-3, same seeds."""
    from minivelo import bench, optim
    from minivelo.meta import population

    theta, config, info = mlp_lopt.load_weights()
    assert info["outer_steps"] > 0 and info["compute"]["wall_s"] <= 30 * 60
    family = population.family_from_spec(info["family"])
    task = population.sample_tasks(family, seed=999, num=1, stream=2)[0]
    steps = info["meta_config"]["num_steps"]
    learned = bench.train_seeds(task, mlp_lopt.mlp_lopt(theta, steps, config), steps).losses
    adam = bench.train_seeds(task, optim.adam(1e-3), steps).losses
    assert bench.final_loss(learned)[0] < bench.final_loss(adam)[0]

"""Task augmentations (minivelo.tasks.augment) and the meta-training tasks outside velo-eval."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minivelo import tasks
from minivelo.tasks import augment, meta_training


def small_mlp():
    return tasks.build("teacher_mlp", dim=4, hidden_sizes=(8,), num_classes=3, batch_size=16)


def test_reparameterize_keeps_the_model_and_rescales_values_and_gradients():
    task = small_mlp()
    key, batch = jax.random.PRNGKey(0), task.sample_batch(jax.random.PRNGKey(1))
    like = task.init(key)
    scales = augment.sample_log_uniform_scales(jax.random.PRNGKey(2), like)
    wrapped = augment.reparameterize(task, scales)
    q = wrapped.init(key)
    # same initial model, same loss
    np.testing.assert_allclose(wrapped.loss(q, batch), task.loss(like, batch), rtol=1e-5)
    # q = p / s and dL/dq = s * dL/dp, tensor by tensor
    grad_p = jax.grad(task.loss)(like, batch)
    grad_q = jax.grad(wrapped.loss)(q, batch)
    for p, qq, gp, gq, s in zip(
        *(jax.tree.leaves(t) for t in (like, q, grad_p, grad_q, scales)), strict=True
    ):
        np.testing.assert_allclose(qq * s, p, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gq, s * gp, rtol=1e-4, atol=1e-6)


def test_scales_are_log_uniform_per_tensor_within_the_range():
    like = {f"t{i}": jnp.zeros((2, 3)) for i in range(400)}
    scales = np.array(
        jax.tree.leaves(augment.sample_log_uniform_scales(jax.random.PRNGKey(0), like))
    )
    assert scales.shape == (400,) and scales.min() >= 1e-3 and scales.max() <= 1e3
    logs = np.log10(scales)
    np.testing.assert_allclose(np.mean(logs), 0.0, atol=0.25)  # centred on 1
    np.testing.assert_allclose(np.mean(np.abs(logs) > 1.5), 0.5, atol=0.08)  # uniform in log
    with pytest.raises(ValueError, match="scale range"):
        augment.sample_log_uniform_scales(jax.random.PRNGKey(0), like, 1.0, 0.1)


@pytest.mark.parametrize(
    "name, settings, path",
    [
        ("teacher_mlp", dict(dim=4, hidden_sizes=(8,), num_classes=3), ("layer_1",)),
        ("mnist1d_mlp", dict(dataset="mnist1d", hidden_sizes=()), ("layer_0",)),
        ("mnist1d_cnn", dict(channels=(4,), kernel=3), ("readout",)),
        ("mnist1d_autoencoder", dict(dataset="mnist1d", hidden_sizes=(8,)), ("decoder", "layer_1")),
        ("markov_lm", dict(vocab_size=8, hidden_size=8, seq_len=4), ("readout",)),
    ],
)
def test_readout_is_found_and_zero_initialised(name, settings, path):
    task = tasks.build(name, **settings)
    params = jax.eval_shape(task.init, jax.random.PRNGKey(0))
    assert augment.readout_path(params) == path
    zeroed = augment.scale_readout_init(task, 0.0).init(jax.random.PRNGKey(0))
    usual = task.init(jax.random.PRNGKey(0))
    node_z, node_u = zeroed, usual
    for k in path:
        node_z, node_u = node_z[k], node_u[k]
    assert all(float(jnp.abs(x).max()) == 0 for x in jax.tree.leaves(node_z))
    assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(node_u))
    # the other layers are untouched
    others = lambda p: [x for k, x in p.items() if k != path[0]]
    for a, b in zip(jax.tree.leaves(others(zeroed)), jax.tree.leaves(others(usual))):
        np.testing.assert_array_equal(a, b)


def test_a_task_without_a_readout_cannot_be_reinitialised():
    quad = tasks.build("quadratic", dim=4)
    assert not augment.has_readout(quad)
    with pytest.raises(ValueError, match="read-out"):
        augment.scale_readout_init(quad, 0.0)


def test_sampled_augmentation_is_one_program_and_varies_by_key():
    task = small_mlp()
    settings = augment.AugmentSettings(
        reparam_prob=0.5, zero_readout_prob=0.3, small_readout_prob=0.0
    )
    batch = task.sample_batch(jax.random.PRNGKey(1))

    @jax.jit
    def first_loss_and_readout(key):
        t = augment.sample_augmentation(key, task, settings)
        q = t.init(jax.random.PRNGKey(0))
        return t.loss(q, batch), jnp.abs(q["layer_1"]["w"]).max(), jnp.abs(q["layer_0"]["w"]).max()

    draws = [first_loss_and_readout(jax.random.PRNGKey(i)) for i in range(40)]
    assert first_loss_and_readout._cache_size() == 1
    readout = np.array([float(d[1]) for d in draws])
    first = np.array([float(d[2]) for d in draws])
    assert 0.1 < np.mean(readout == 0) < 0.55  # zero read-outs drawn about 30% of the time
    assert np.std(np.log(first)) > 1.0  # reparameterised tensors span decades
    base = float(task.loss(task.init(jax.random.PRNGKey(0)), batch))
    # a reparameterised, non-zeroed draw starts at the unaugmented loss
    same = [float(d[0]) for d in draws if float(d[1]) > 0]
    np.testing.assert_allclose(same, base, rtol=1e-4)


def test_augment_settings_reject_bad_values():
    with pytest.raises(ValueError, match="unknown augment"):
        augment.AugmentSettings.from_dict({"reparam": 0.5})
    with pytest.raises(ValueError, match="probability"):
        augment.AugmentSettings.from_dict({"reparam_prob": 1.5})
    with pytest.raises(ValueError, match="must not exceed 1"):
        augment.AugmentSettings.from_dict({"zero_readout_prob": 0.6, "small_readout_prob": 0.6})
    assert augment.AugmentSettings.from_dict({"scale_range": [0.01, 100]}).scale_range == (
        0.01,
        100.0,
    )


def test_meta_training_tasks_train_and_are_deterministic():
    for name in ("mnist1d_cnn", "markov_lm", "teacher_mlp"):
        task = tasks.build(name, **tasks.registry.ENTRIES[name].defaults)
        again = tasks.build(name, **tasks.registry.ENTRIES[name].defaults)
        params = task.init(jax.random.PRNGKey(0))
        batch = task.sample_batch(jax.random.PRNGKey(1))
        np.testing.assert_array_equal(
            jax.tree.leaves(batch)[0], jax.tree.leaves(again.sample_batch(jax.random.PRNGKey(1)))[0]
        )
        loss = task.loss(params, batch)
        grads = jax.grad(task.loss)(params, batch)
        stepped = jax.tree.map(lambda p, g: p - 0.05 * g, params, grads)
        assert np.isfinite(float(loss)) and float(task.loss(stepped, batch)) < float(loss)


def test_markov_corpus_follows_its_chain():
    tokens = meta_training.markov_corpus(4, 5000, 0.05, data_seed=3)
    assert tokens.min() >= 0 and tokens.max() < 4
    # nearly deterministic successors: the most common successor of each token dominates
    counts = np.zeros((4, 4))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    top = counts.max(1) / counts.sum(1)
    assert np.mean(top) > 0.6
    np.testing.assert_array_equal(tokens, meta_training.markov_corpus(4, 5000, 0.05, 3))


def test_conv1d_equals_lax_conv():
    p = meta_training.init_conv1d(jax.random.PRNGKey(0), 3, 5, 5)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 12, 3))
    reference = (
        jax.lax.conv_general_dilated(
            x, p["w"], (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")
        )
        + p["b"]
    )
    np.testing.assert_allclose(meta_training.conv1d(p, x), reference, rtol=1e-5, atol=1e-5)

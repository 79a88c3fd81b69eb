"""Tasks: offline datasets, deterministic families, every fixed task trains and tunes."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minivelo import bench, optim, tasks
from minivelo.tasks import datasets, layers

# ------------------------------------------------------------------------- datasets


def test_digits_is_offline_and_deterministic():
    first = datasets.digits()
    datasets.digits.cache_clear()
    second = datasets.digits()
    assert first.x_train.shape == (1438, 8, 8) and first.x_test.shape == (359, 8, 8)
    assert 0.0 <= first.x_train.min() and first.x_train.max() <= 1.0
    assert datasets.fingerprint(first.x_train) == datasets.fingerprint(second.x_train)
    assert first.num_classes == 10


def test_mnist1d_generated_offline_leaves_numpy_global_state_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    datasets.mnist1d.cache_clear()
    data = datasets.mnist1d()
    assert np.random.rand() == expected  # the package's global seeding was undone
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert set(np.unique(data.y_train)) == set(range(10))
    datasets.mnist1d.cache_clear()
    assert datasets.fingerprint(datasets.mnist1d().x_train) == datasets.fingerprint(data.x_train)


def test_text_corpus_round_trips():
    corpus = datasets.text()
    assert len(corpus.tokens) > 50_000
    assert corpus.decode(corpus.encode("In the beginning")) == "In the beginning"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        corpus.encode("\u2603")


def _idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_loader_downloads_once_then_uses_cache(tmp_path):
    serve = tmp_path / "serve"
    serve.mkdir()
    rng = np.random.default_rng(0)
    files = {
        "x_train": rng.integers(0, 256, (6, 28, 28)),
        "y_train": np.arange(6) % 10,
        "x_test": rng.integers(0, 256, (2, 28, 28)),
        "y_test": np.array([3, 4]),
    }
    for key, array in files.items():
        (serve / datasets.FASHION_MNIST_FILES[key]).write_bytes(_idx_gz(array))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        data = datasets.fashion_mnist(cache_dir=tmp_path / "cache", base_url=url)
    finally:
        server.shutdown()
        server.server_close()
    assert data.x_train.shape == (6, 28, 28) and data.y_test.tolist() == [3, 4]
    np.testing.assert_allclose(data.x_train * 255.0, files["x_train"], atol=1e-3)
    # The server is gone: a second call must read the cache only.
    again = datasets.fashion_mnist(cache_dir=tmp_path / "cache", base_url=url)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    with pytest.raises(OSError, match="could not download Fashion-MNIST"):
        datasets.fashion_mnist(cache_dir=tmp_path / "other", base_url=url, timeout=2)


# ------------------------------------------------------------------------- registry


def test_unknown_names_list_the_choices():
    with pytest.raises(KeyError, match="digits_mlp.*quadratic"):
        tasks.get_task("imagenet_resnet")
    with pytest.raises(KeyError, match="mixture"):
        tasks.get_family("nope")
    with pytest.raises(TypeError, match="unknown setting.*hidden_sizes"):
        tasks.get_task("digits_mlp", depth=3)


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("digits_mlp", dict(batch_size=0), "batch_size must be a positive integer"),
        ("digits_mlp", dict(activation="swish"), "unknown activation 'swish'"),
        ("digits_mlp", dict(init_scale=-1.0), "init_scale must be a positive number"),
        ("digits_mlp", dict(dataset="cifar"), "unknown dataset 'cifar'"),
        ("digits_mlp", dict(batch_size=5000), "exceeds the 1438 training examples"),
        ("digits_cnn", dict(channels=(4, 8, 16, 32)), "1 to 3 entries"),
        ("text_transformer", dict(d_model=30, num_heads=4), "not divisible"),
        ("quadratic", dict(condition_number=0.5), "condition_number must be >= 1"),
        ("rosenbrock", dict(dim=1), "dim >= 2"),
    ],
)
def test_bad_settings_give_clear_errors(name, settings, message):
    with pytest.raises(ValueError, match=message):
        tasks.get_task(name, **settings)


def test_fixed_tasks_exist_and_count_parameters():
    assert tasks.list_tasks() == [
        "digits_mlp",
        "mnist1d_mlp",
        "digits_cnn",
        "text_lstm",
        "text_transformer",
        "digits_autoencoder",
        "quadratic",
        "rosenbrock",
        "logistic",
    ]
    assert tasks.get_task("digits_mlp").num_params == 64 * 64 + 64 + 64 * 10 + 10
    assert tasks.get_task("rosenbrock").num_params == 2


@pytest.mark.parametrize("family", tasks.list_families())
def test_families_sample_deterministically(family):
    fam = tasks.get_family(family)
    drawn = [fam.sample(jax.random.PRNGKey(i)) for i in range(4)]
    again = [fam.sample(jax.random.PRNGKey(i)) for i in range(4)]
    assert [t.name for t in drawn] == [t.name for t in again]
    assert [t.config for t in drawn] == [t.config for t in again]
    assert len({t.name for t in drawn}) > 1  # the family really varies
    for task in drawn:
        # Shapes only (no compilation): the loss is a scalar.
        params = jax.eval_shape(task.init, jax.random.PRNGKey(0))
        batch = jax.eval_shape(task.sample_batch, jax.random.PRNGKey(1))
        assert jax.eval_shape(task.loss, params, batch).shape == ()
        assert task.num_params > 0


def test_mlp_family_covers_depths_and_full_batch():
    fam = tasks.get_family("digits_mlp")
    configs = [fam.sample(jax.random.PRNGKey(i)).config for i in range(60)]
    depths = {len(c["hidden_sizes"]) for c in configs}
    assert depths == set(range(1, 7))
    assert any(c["batch_size"] is None for c in configs)
    assert len({c["activation"] for c in configs}) >= 4


def test_full_batch_ignores_the_key():
    task = tasks.get_task("logistic", batch_size=None)
    a = task.sample_batch(jax.random.PRNGKey(0))
    b = task.sample_batch(jax.random.PRNGKey(1))
    assert a[0].shape == (1600, 32)
    np.testing.assert_array_equal(a[0], b[0])


def test_conv_as_matmul_equals_lax_conv():
    p = layers.init_conv(jax.random.PRNGKey(0), 3, 5, 3)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 3))
    reference = jax.lax.conv_general_dilated(
        x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(layers.conv(p, x), reference + p["b"], atol=1e-5)


# --------------------------------------------------------------- every task trains

POOR_LR = 1e-5
STEPS = 100


@pytest.mark.parametrize("name", tasks.list_tasks())
def test_task_trains_deterministically_and_tuned_adam_beats_poor_lr(name):
    """One vmapped program per task: learning rates x seeds (0, 0, 1)."""
    task = tasks.get_task(name)
    rates = [POOR_LR, 3e-3, 3e-2]
    tuned = bench.tune_learning_rate(task, optim.adam, STEPS, rates, seeds=(0, 0, 1))
    losses = tuned.losses  # [L, S, T]
    np.testing.assert_array_equal(losses[:, 0], losses[:, 1])  # same seed, same numbers
    assert not np.array_equal(losses[:, 0], losses[:, 2])  # another seed, other numbers
    best = tuned.final_losses[tuned.best_index]
    assert tuned.best_learning_rate != POOR_LR
    assert np.isfinite(best)
    assert best < 0.9 * tuned.final_losses[0], (name, tuned.final_losses)
    assert best < 0.9 * losses[tuned.best_index, :, 0].mean()  # it trained


def test_separate_runs_give_identical_numbers():
    task = tasks.get_task("quadratic")
    a = bench.train(task, optim.adam(1e-2), 50, seed=3)
    b = bench.train(task, optim.adam(1e-2), 50, seed=3)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert jnp.all(jnp.isfinite(a.losses))

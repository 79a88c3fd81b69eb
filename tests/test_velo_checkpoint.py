"""VeLO meta-parameters: presets, initialisation, published/npz/own checkpoint formats."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from velo_goldens import BUNDLES

from minivelo.lopt.velo import checkpoint
from minivelo.lopt.velo.params import PRESETS, VeLOConfig, infer_config, init_meta_params


def test_presets_have_the_published_sizes():
    assert PRESETS["published"].num_meta_params == 2_320_385
    assert PRESETS["tiny"].num_meta_params == 5_057  # golden_tiny's total_count
    assert PRESETS["small"] == VeLOConfig(lstm_hidden_size=32, num_banks=16)


@pytest.mark.parametrize("preset", ["tiny", "small", "published"])
def test_init_matches_the_preset_shapes_and_statistics(preset):
    theta = init_meta_params(jax.random.PRNGKey(0), preset)
    assert infer_config(theta) == PRESETS[preset]
    mlp = theta["ff_mod_stack"]["~"]
    rnn = theta["rnn_params"]
    assert np.all(np.asarray(mlp["b0"]) == 0) and np.all(np.asarray(rnn["linear_1"]["b"]) == 0)
    assert np.all(np.asarray(theta["lstm_init_state"]["hidden"]) == 0)
    # truncated at 2 sigma
    assert np.max(np.abs(mlp["w1"])) <= 2 * 0.5 + 1e-6
    assert np.max(np.abs(mlp["w0__3"])) <= 2 / np.sqrt(30) + 1e-6
    lstm = np.asarray(rnn["rnn/linear"]["w"])
    assert np.max(np.abs(lstm)) <= 2 / np.sqrt(lstm.shape[0]) + 1e-6
    if preset == "published":  # std of a 2-sigma truncated normal is 0.88 sigma
        assert np.std(lstm) * np.sqrt(lstm.shape[0]) == pytest.approx(0.88, abs=0.02)


def test_npz_loads_with_the_slashed_module_name():
    theta = checkpoint.load(BUNDLES["golden_tiny"] / "meta_params.npz")
    assert theta["rnn_params"]["rnn/linear"]["w"].shape == (32, 64)
    assert infer_config(theta) == PRESETS["tiny"]


def test_save_load_roundtrip_in_the_published_format(tmp_path):
    theta = init_meta_params(jax.random.PRNGKey(1), "small")
    path = tmp_path / "params"
    checkpoint.save(path, theta)
    for loaded in (checkpoint.load(path), checkpoint.load(path.read_bytes())):
        assert jax.tree.structure(loaded) == jax.tree.structure(theta)
        for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(theta), strict=True):
            np.testing.assert_array_equal(a, b)
    # our files are published-format files: a flax record with params, gen_id, step
    from flax import serialization

    record = serialization.msgpack_restore(path.read_bytes())
    assert set(record) == {"params", "gen_id", "step"}
    assert "lstm=32 banks=16" in record["gen_id"]


def test_flat_npz_roundtrip(tmp_path):
    theta = init_meta_params(jax.random.PRNGKey(2), "tiny")
    path = tmp_path / "theta.npz"
    np.savez(path, **checkpoint.flatten(theta))
    loaded = checkpoint.load(path)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(theta), strict=True):
        np.testing.assert_array_equal(a, b)


def test_garbage_files_are_clear_errors(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(ValueError, match="neither a published VeLO msgpack nor an .npz"):
        checkpoint.load(path)
    with pytest.raises(TypeError, match="weights must be"):
        checkpoint.load(42)


def test_unexpected_tensor_is_named():
    theta = init_meta_params(jax.random.PRNGKey(0), "tiny")
    theta["rnn_params"]["extra"] = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match="unexpected tensor 'rnn_params/extra/w'"):
        infer_config(theta)


def _with_bad_value(theta, value):
    theta = jax.tree.map(np.array, theta)  # writable numpy copies
    theta["rnn_params"]["rnn/linear"]["w"][3, 5] = value
    return theta


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_meta_parameters_are_refused_naming_the_tensor(tmp_path, value):
    theta = _with_bad_value(init_meta_params(jax.random.PRNGKey(3), "tiny"), value)
    message = r"'rnn_params/rnn/linear/w' holds 1 non-finite value.*index \(3, 5\)"
    with pytest.raises(ValueError, match=message):  # an in-memory pytree
        checkpoint.load(theta)
    published = tmp_path / "params"
    checkpoint.save(published, theta)
    flat = tmp_path / "theta.npz"
    np.savez(flat, **checkpoint.flatten(theta))
    for source in (published, published.read_bytes(), flat):  # msgpack file, bytes, npz
        with pytest.raises(ValueError, match=message):
            checkpoint.load(source)


def test_velo_refuses_non_finite_weights():
    import minivelo

    theta = _with_bad_value(init_meta_params(jax.random.PRNGKey(4), "tiny"), np.nan)
    with pytest.raises(ValueError, match="rnn_params/rnn/linear/w"):
        minivelo.velo(10, weights=theta)


def test_pk_file_that_is_no_zip_gets_a_clear_message(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"PK\x00\x00 this is no zip archive")
    with pytest.raises(ValueError, match="not a zip archive") as info:
        checkpoint.load(path)
    assert "pickle" not in str(info.value)
    truncated = tmp_path / "cut.npz"  # a real .npz cut in half
    np.savez(truncated, a=np.zeros(1000))
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(ValueError, match="zip"):
        checkpoint.load(truncated)

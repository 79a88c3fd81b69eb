"""The plain reference VeLO equals the published model on the golden test vectors."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from velo_goldens import (
    SHARED,
    Golden,
    assert_state_close,
    assert_steps_close,
    published_state,
)

from minivelo.lopt.velo import checkpoint, reference
from minivelo.lopt.velo import golden as golden_data
from minivelo.lopt.velo.params import infer_config
from minivelo.lopt.velo.state import init_state

BUNDLES = ["golden_tiny", "golden_a"]


@functools.cache
def replay(name: str):
    """Run our reference through the recorded updates; returns the golden and our records."""
    golden = Golden(name)
    update = jax.jit(reference.update, static_argnums=5)
    state = init_state(golden.tree(0, "params_before"), golden.theta)
    records = []
    for i in range(golden.num_updates):
        params, grads = golden.tree(i, "params_before"), golden.tree(i, "grads")
        steps, state, trace = update(
            golden.theta, state, grads, params, golden.loss(i), golden.num_steps
        )
        records.append((steps, state, trace))
    return golden, records


@pytest.mark.parametrize("name", BUNDLES)
def test_steps_match_published(name):
    golden, records = replay(name)
    for i, (steps, _, _) in enumerate(records):
        assert_steps_close(steps, golden, i)


@pytest.mark.parametrize("name", BUNDLES)
def test_controller_traces_match_published(name):
    golden, records = replay(name)
    for i, (_, _, trace) in enumerate(records):
        np.testing.assert_allclose(
            trace["loss_features"], golden.trace(i, "loss_features"), atol=1e-3
        )
        for key in ("lstm_inputs", "controls", "lr_mult"):
            np.testing.assert_allclose(
                trace[key], golden.trace(i, key), rtol=1e-4, atol=1e-5, err_msg=f"{key} {i}"
            )
        assert float(trace["fraction_trained"]) == pytest.approx(
            float(golden.trace(i, "fraction_trained"))
        )


@pytest.mark.parametrize("name", BUNDLES)
def test_state_matches_published(name):
    golden, records = replay(name)
    for i, (_, state, _) in enumerate(records):
        assert_state_close(state, golden, i)
    # Everything the published state holds with content, we hold too.
    ours = published_state(records[-1][1], golden.leaf_order)
    skip = ("params/", "num_steps", "loss_buffer/decays", "_rolling/t")
    for key, value in golden.state_after(golden.num_updates - 1).items():
        if value.size and not any(s in key for s in skip):
            assert key in ours, key


def test_initial_state_matches_published():
    golden = Golden("golden_tiny")
    state = init_state(golden.tree(0, "params_before"), golden.theta)
    init = {k[len("init_state/") :]: v for k, v in golden.trajectory.items() if "init_state" in k}
    for key, value in published_state(state, golden.leaf_order).items():
        np.testing.assert_array_equal(value, init[key], err_msg=key)


def test_published_msgpack_is_the_recorded_file_with_the_recorded_tensors():
    """golden_a's meta-parameters are the published serializer's own file (sha256 as
    recorded), with every tensor named, shaped and typed as meta.json lists them."""
    golden = Golden("golden_a")
    assert golden.theta_file.name == "params.msgpack"
    assert golden.checkpoint_sha256_matches() is True
    from_msgpack = checkpoint.load(golden.path / "params.msgpack")
    flat = checkpoint.flatten(from_msgpack)
    listed = {entry["name"]: entry for entry in golden.meta["meta_params"]["names"]}
    assert set(flat) == set(listed)
    for name, value in flat.items():
        assert list(value.shape) == listed[name]["shape"], name
        assert str(value.dtype) == listed[name]["dtype"], name
    config = infer_config(from_msgpack)
    assert (config.lstm_hidden_size, config.num_banks) == (512, 256)
    assert config.num_meta_params == golden.meta["meta_params"]["total_count"] == 2_320_385
    assert from_msgpack["rnn_params"]["rnn/linear"]["w"].shape == (1024, 2048)


@pytest.mark.parametrize("name", BUNDLES)
def test_shared_copy_when_present_is_identical(name):
    """The bundles as first recorded (../shared/velo, beside a full clone) equal ours;
    there golden_a also has the flat .npz, which must hold the msgpack's numbers."""
    shared = SHARED / name
    if not shared.is_dir():
        pytest.skip(f"no shared copy at {shared} (only beside the original clone)")
    golden = Golden(name)
    for path in golden.path.iterdir():
        assert (shared / path.name).read_bytes() == path.read_bytes(), path.name
    if (shared / "meta_params.npz").is_file():
        from_npz = checkpoint.load(shared / "meta_params.npz")
        assert jax.tree.structure(from_npz) == jax.tree.structure(golden.theta)
        for a, b in zip(jax.tree.leaves(from_npz), jax.tree.leaves(golden.theta), strict=True):
            np.testing.assert_array_equal(a, np.asarray(b))


def test_golden_tiny_is_found_from_anywhere(tmp_path, monkeypatch):
    """It ships in the package, so a lesson in an empty folder (Colab) finds it; golden_a
    is found only from inside a checkout, with an error that says where it lives."""
    monkeypatch.chdir(tmp_path)
    bundle = golden_data.load_golden("golden_tiny")
    assert bundle.num_updates == 5 and len(bundle.leaf_order) == 6
    assert golden_data.find_golden("golden_a") is None
    with pytest.raises(FileNotFoundError, match="tests/data"):
        golden_data.load_golden("golden_a")
    with pytest.raises(ValueError, match="unknown golden bundle"):
        golden_data.find_golden("golden_b")


def test_a_wrong_step_is_caught_by_the_tolerance():
    golden = Golden("golden_tiny")
    published = golden.tree(0, "update_f64")
    errors = golden_data.step_errors(golden, 0, published)
    assert all(error == 0.0 <= tolerance for error, tolerance in errors.values())
    name = golden.leaf_order[0]
    off = dict(published, **{name: published[name] * 1.01})  # 1% too long
    error, tolerance = golden_data.step_errors(golden, 0, off)[name]
    assert error > tolerance
    with pytest.raises(IndexError, match="updates 0..4"):
        golden.tree(5, "grads")


def test_golden_tiny_is_listed_as_package_data():
    """The wheel carries golden_tiny only if pyproject's package-data globs match its files
    (setuptools' ``data/*`` does not reach into ``data/golden_tiny/``)."""
    import pathlib

    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["minivelo"]
    shipped = {p for pattern in globs for p in (root / "minivelo").glob(pattern) if p.is_file()}
    bundle = golden_data.find_golden("golden_tiny").resolve()
    missing = sorted(p.name for p in bundle.iterdir() if p.resolve() not in shipped)
    assert not missing, f"package-data {globs} leaves out golden_tiny's {missing}"

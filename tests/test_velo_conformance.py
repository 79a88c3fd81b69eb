"""The plain reference VeLO equals the published model on the golden test vectors."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from velo_goldens import Golden, assert_state_close, assert_steps_close, published_state

from minivelo.lopt.velo import checkpoint, reference
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


def test_published_msgpack_equals_flat_npz():
    golden = Golden("golden_a")
    from_msgpack = checkpoint.load(golden.path / "params.msgpack")
    from_npz = checkpoint.load(golden.path / "meta_params.npz")
    assert jax.tree.structure(from_msgpack) == jax.tree.structure(from_npz)
    for a, b in zip(jax.tree.leaves(from_msgpack), jax.tree.leaves(from_npz), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    config = infer_config(from_msgpack)
    assert (config.lstm_hidden_size, config.num_banks) == (512, 256)
    assert config.num_meta_params == 2_320_385
    assert from_msgpack["rnn_params"]["rnn/linear"]["w"].shape == (1024, 2048)

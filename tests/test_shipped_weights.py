"""The VeLO weights minivelo ships: they load offline and train a new model unaided."""

import json

import jax
import numpy as np

import minivelo
from minivelo import bench, tasks
from minivelo.lopt.velo import checkpoint, optimizer, params

METADATA = optimizer.WEIGHTS_DIR / "minivelo_small.json"


def test_shipped_weights_exist_with_their_metadata():
    path = optimizer.shipped_weights_path()
    assert path is not None and path.name == "minivelo_small.msgpack"
    assert path.stat().st_size < 5_000_000  # "a few MB at most"
    info = json.loads(METADATA.read_text())
    for field in ("config", "family", "outer_steps", "compute", "seeds", "command", "meta_config"):
        assert field in info, field
    assert info["compute"]["wall_s"] > 0 and info["outer_steps"] > 0
    assert info["command"].startswith("python -m minivelo meta-train")
    theta = optimizer.load_weights(None)
    config = params.infer_config(theta)
    assert (config.lstm_hidden_size, config.num_banks) == (
        info["config"]["lstm_hidden_size"],
        info["config"]["num_banks"],
    )
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(theta))


def test_velo_with_no_weights_argument_trains_a_new_model():
    # a digits MLP wider than any meta-training task, with no hyperparameter given
    task = tasks.build("digits_mlp", hidden_sizes=(128,), activation="relu", batch_size=64)
    run = bench.train(task, minivelo.velo(200), 200, seed=0)
    losses = np.asarray(run.losses)
    assert np.isfinite(losses).all()
    assert bench.final_loss(losses) < 0.3 * losses[0], (losses[0], bench.final_loss(losses))


def test_provenance_names_parents_by_content_hash_outside_the_package():
    """Each warm-start parent is named by path and sha256; the path is outside the package
    (records/, not minivelo/), and where the record is in this checkout its bytes match."""
    import hashlib
    import pathlib

    info = json.loads(METADATA.read_text())
    root = pathlib.Path(minivelo.__file__).resolve().parents[1]
    assert info["warm_start"], "minivelo_small descends from a warm start"
    for parent in info["warm_start"]:
        assert len(parent["sha256"]) == 64 and not parent["from"].startswith("minivelo/")
        recorded = root / parent["from"]
        if recorded.exists():  # a source checkout (an installed wheel carries no records)
            assert hashlib.sha256(recorded.read_bytes()).hexdigest() == parent["sha256"]
    assert "in_progress" not in METADATA.read_text()


def test_a_rescaled_ship_is_its_recorded_parent_with_only_the_step_size_head_scaled():
    """Where the shipped weights are an earlier ship with ``lr_mult`` rescaled (v11), the
    parent is recorded by sha256 outside the package, and the shipped tensors are exactly
    the parent's with ``rnn_params/step_size`` times the recorded scale."""
    import hashlib
    import pathlib

    info = json.loads(METADATA.read_text())
    rescaled = info.get("rescaled")
    if rescaled is None:
        return  # weights straight from meta-training: the provenance test above covers them
    assert not rescaled["from"].startswith("minivelo/") and len(rescaled["sha256"]) == 64
    assert 0 < rescaled["step_size_scale"] < 1
    assert rescaled["selection"]["chosen"] in rescaled["selection"]["scores"]
    scores = rescaled["selection"]["scores"]
    assert (
        scores[rescaled["selection"]["chosen"]] < scores["minivelo/weights/minivelo_small.msgpack"]
    )
    root = pathlib.Path(minivelo.__file__).resolve().parents[1]
    parent_path = root / rescaled["from"]
    if not parent_path.exists():
        return  # an installed wheel carries no records
    assert hashlib.sha256(parent_path.read_bytes()).hexdigest() == rescaled["sha256"]
    parent = checkpoint.flatten(checkpoint.load(parent_path))
    shipped = checkpoint.flatten(optimizer.load_weights(None))
    assert parent.keys() == shipped.keys()
    scale = np.float32(rescaled["step_size_scale"])
    for name, value in parent.items():
        expected = scale * value if name.startswith("rnn_params/step_size") else value
        np.testing.assert_array_equal(np.asarray(shipped[name]), expected, err_msg=name)

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


def test_the_shipped_weights_are_a_recorded_candidate_with_the_parents_mlp_banks():
    """The shipped weights are v16's rule pick (a distilled candidate recorded outside the
    package), byte for byte; only the LSTM (rnn_params, lstm_init_state) differs from the
    recorded meta-trained parent, and the pick scored strictly below the weights it replaced."""
    import hashlib
    import pathlib

    info = json.loads(METADATA.read_text())
    distilled = info["distilled"]
    assert not distilled["from"].startswith("minivelo/") and len(distilled["sha256"]) == 64
    selection = distilled["selection"]
    scores = selection["scores"]
    assert selection["chosen"] == distilled["candidate"] in scores
    assert scores[selection["chosen"]] < scores["minivelo/weights/minivelo_small.msgpack"]
    assert distilled["runs"] and all(run["wall_s"] > 0 for run in distilled["runs"])
    root = pathlib.Path(minivelo.__file__).resolve().parents[1]
    parent_path, candidate_path = root / distilled["from"], root / distilled["candidate"]
    if not parent_path.exists():
        return  # an installed wheel carries no records
    assert hashlib.sha256(parent_path.read_bytes()).hexdigest() == distilled["sha256"]
    shipped_path = optimizer.shipped_weights_path()
    assert candidate_path.read_bytes() == shipped_path.read_bytes()
    parent = checkpoint.flatten(checkpoint.load(parent_path))
    shipped = checkpoint.flatten(optimizer.load_weights(None))
    assert parent.keys() == shipped.keys()
    changed = set()
    for name, value in parent.items():
        if name.startswith(("rnn_params", "lstm_init_state")):
            changed |= {name} if not np.array_equal(np.asarray(shipped[name]), value) else set()
        else:
            np.testing.assert_array_equal(np.asarray(shipped[name]), value, err_msg=name)
    assert changed  # the LSTM was distilled

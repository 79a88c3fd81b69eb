"""Ship v11's rule pick as ``minivelo_small`` (run once; see SELECTION_RESULT.md).

    python records/velo_small_v11/ship.py

1. Keep the weights being replaced, byte for byte, as
   ``records/velo_small_v11/parent_minivelo_small.{msgpack,json}`` (outside the package).
2. Check that the pick, ``candidates/constant_scale.msgpack``, is the parent with its
   step-size head times SCALE and every other tensor unchanged (the head is linear, so
   ``lr_mult`` is scaled by exactly SCALE for every LSTM state).
3. Write it as ``minivelo/weights/minivelo_small.msgpack``, and its metadata as the
   parent's (the ES stages that trained everything else) plus a ``rescaled`` block: the
   parent's sha256, the scale, the commands of the scale search and of the selection, the
   scores, and the search's compute added to the totals.

Refuses to run twice: if the shipped metadata already has ``rescaled``, nothing is written.
"""

import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np

from minivelo.lopt.velo import checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORD = pathlib.Path("records/velo_small_v11")
SHIPPED = pathlib.Path("minivelo/weights/minivelo_small")
SCALE = 0.25
# The scale search (fit_step_size_head.py) ran once, in about 7 minutes of wall clock on
# 2 cores (its log, fit_log.txt, has no timer; the figure is from the session's clock).
SEARCH_WALL_S = 420.0


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    shipped_json = ROOT / SHIPPED.with_suffix(".json")
    info = json.loads(shipped_json.read_text())
    if "rescaled" in info:
        sys.exit(f"{SHIPPED}.json already records a rescale: nothing written")
    pick = ROOT / RECORD / "candidates" / "constant_scale.msgpack"
    parent = checkpoint.load(ROOT / SHIPPED.with_suffix(".msgpack"))
    child = checkpoint.load(pick)
    flat_parent, flat_child = checkpoint.flatten(parent), checkpoint.flatten(child)
    assert flat_parent.keys() == flat_child.keys()
    for name, value in flat_parent.items():
        expected = np.float32(SCALE) * value if "step_size" in name else value
        np.testing.assert_array_equal(flat_child[name], expected, err_msg=name)

    kept = ROOT / RECORD / "parent_minivelo_small.msgpack"
    shutil.copyfile(ROOT / SHIPPED.with_suffix(".msgpack"), kept)
    shutil.copyfile(shipped_json, kept.with_suffix(".json"))
    scores = json.loads((ROOT / RECORD / "selection_scores.json").read_text())
    compute = dict(info["compute"])
    compute["total_wall_s"] = round(compute["total_wall_s"] + SEARCH_WALL_S, 1)
    compute["total_cpu_s"] = round(compute["total_cpu_s"] + 2 * SEARCH_WALL_S, 1)
    compute["note"] = (
        compute["note"] + "; the totals also add the v11 scale search (about 7 minutes on "
        "2 cores, CPU time estimated as 2 x wall clock)"
    )
    info["compute"] = compute
    info["rescaled"] = {
        "from": (RECORD / kept.name).as_posix(),
        "sha256": sha256(kept),
        "step_size_scale": SCALE,
        "what": (
            "the parent's rnn_params/step_size (w and b) times the scale, every other tensor "
            "unchanged: lr_mult is the parent's times the scale at every LSTM state"
        ),
        "why": (
            "told 5000 steps, the parent's steps stay at 1-2.5% of each tensor's RMS and the "
            "parameters grow geometrically until the loss diverges "
            "(records/velo_small_v9/diagnosis.txt); the scale of least mean regret over "
            "horizons of 500, 1500 and 5000 steps on the training tasks is 0.25"
        ),
        "search_command": "python records/velo_small_v11/fit_step_size_head.py "
        "records/velo_small_v11",
        "search_wall_s": SEARCH_WALL_S,
        "selection": {
            "rule": (RECORD / "SELECTION.md").as_posix(),
            "result": (RECORD / "SELECTION_RESULT.md").as_posix(),
            "suite": "v9",
            "scores": {name: round(entry["score"], 4) for name, entry in scores.items()},
            "chosen": (RECORD / "candidates" / "constant_scale.msgpack").as_posix(),
            "command": "python -m minivelo select --suite v9 --cache "
            "records/velo_small_v11/adam_reference.json --json "
            "records/velo_small_v11/selection_scores.json "
            "minivelo/weights/minivelo_small.msgpack "
            "records/velo_small_v11/candidates/fitted_head.msgpack "
            "records/velo_small_v11/candidates/constant_scale.msgpack",
        },
        "ship_command": "python records/velo_small_v11/ship.py",
    }
    shutil.copyfile(pick, ROOT / SHIPPED.with_suffix(".msgpack"))
    shipped_json.write_text(json.dumps(info, indent=2) + "\n")
    print(f"shipped {pick.relative_to(ROOT)} as {SHIPPED}.msgpack; parent kept as {kept}")


if __name__ == "__main__":
    main()

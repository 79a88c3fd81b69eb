"""Ship v12's rule pick as ``minivelo_small``, if the rule picked one (see SELECTION.md).

    python records/velo_small_v12/ship.py

Reads ``selection_scores.json`` (written by the command in SELECTION.md), applies the rule
(the candidate of lowest S, only if strictly below the shipped weights' S), and if it ships:

1. keeps the weights it replaces as ``records/velo_small_v12/parent_minivelo_small.*``;
2. checks that the pick differs from the meta-trained weights (v11's parent) only in
   ``rnn_params`` and ``lstm_init_state`` (the per-parameter MLP banks are unchanged);
3. writes it as ``minivelo/weights/minivelo_small.msgpack``, its metadata the meta-trained
   weights' (the ES stages) plus a ``distilled`` block: the replaced weights and the
   meta-trained ones by sha256, the teacher, the commands, the scores, the compute.
"""

import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np

from minivelo.lopt.velo import checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORD = pathlib.Path("records/velo_small_v12")
SHIPPED = pathlib.Path("minivelo/weights/minivelo_small")
META_TRAINED = pathlib.Path("records/velo_small_v11/parent_minivelo_small")
SHIPPED_KEY = "minivelo/weights/minivelo_small.msgpack"
CHANGED = ("rnn_params", "lstm_init_state")


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    scores = json.loads((ROOT / RECORD / "selection_scores.json").read_text())
    candidates = {k: v["score"] for k, v in scores.items() if k != SHIPPED_KEY}
    pick = min(candidates, key=candidates.get)
    if not candidates[pick] < scores[SHIPPED_KEY]["score"]:
        sys.exit(f"the rule ships nothing: {pick} S={candidates[pick]:.4f} >= shipped "
                 f"{scores[SHIPPED_KEY]['score']:.4f}")  # fmt: skip
    shipped_json = ROOT / SHIPPED.with_suffix(".json")
    info = json.loads(shipped_json.read_text())
    if "distilled" in info:
        sys.exit(f"{SHIPPED}.json already records a distillation: nothing written")
    meta = json.loads((ROOT / META_TRAINED.with_suffix(".json")).read_text())
    base = checkpoint.flatten(checkpoint.load(ROOT / META_TRAINED.with_suffix(".msgpack")))
    child = checkpoint.flatten(checkpoint.load(ROOT / pick))
    assert base.keys() == child.keys()
    for name, value in base.items():
        if not name.startswith(CHANGED):
            np.testing.assert_array_equal(child[name], value, err_msg=name)

    kept = ROOT / RECORD / "parent_minivelo_small.msgpack"
    shutil.copyfile(ROOT / SHIPPED.with_suffix(".msgpack"), kept)
    shutil.copyfile(shipped_json, kept.with_suffix(".json"))
    log = json.loads((ROOT / RECORD / "distill_log.json").read_text())
    compute = dict(meta["compute"])
    compute["total_wall_s"] = round(compute["total_wall_s"] + log["wall_s"], 1)
    compute["total_cpu_s"] = round(compute["total_cpu_s"] + 2 * log["wall_s"], 1)
    compute["note"] = (
        compute["note"] + "; the totals also add the v12 distillation (its wall clock on 2 "
        "cores; CPU time estimated as 2 x wall clock)"
    )
    meta["compute"] = compute
    meta["distilled"] = {
        "from": (META_TRAINED.with_suffix(".msgpack")).as_posix(),
        "sha256": sha256(ROOT / META_TRAINED.with_suffix(".msgpack")),
        "replaces": {"path": (RECORD / kept.name).as_posix(), "sha256": sha256(kept)},
        "changed": list(CHANGED),
        "teacher": (
            "the meta-trained weights with lr_mult times c(N), c interpolated log-log through "
            f"{log['knots']} (v11's scale search on the training tasks)"
        ),
        "horizons": log["horizons"],
        "command": "python records/velo_small_v12/distill_horizon.py records/velo_small_v12",
        "wall_s": log["wall_s"],
        "selection": {
            "rule": (RECORD / "SELECTION.md").as_posix(),
            "suite": "v9",
            "scores": {name: round(entry["score"], 4) for name, entry in scores.items()},
            "chosen": pick,
            "command": "see the rule",
        },
        "ship_command": "python records/velo_small_v12/ship.py",
    }
    shutil.copyfile(ROOT / pick, ROOT / SHIPPED.with_suffix(".msgpack"))
    shipped_json.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"shipped {pick} as {SHIPPED}.msgpack; replaced weights kept as {kept}")


if __name__ == "__main__":
    main()

"""Ship v16's rule pick as ``minivelo_small`` (run once; see SELECTION_RESULT.md).

    python records/velo_small_v16/ship.py

1. Keep the weights being replaced (v11's ship), byte for byte, as
   ``records/velo_small_v16/replaced_minivelo_small.{msgpack,json}`` (outside the package).
2. Check that the pick is the meta-trained weights (v11's recorded parent) with only the
   LSTM (``rnn_params``, ``lstm_init_state``) changed: the per-parameter MLP banks are the
   parent's, exactly.
3. Write it as ``minivelo/weights/minivelo_small.msgpack``, and its metadata as the
   parent's (the ES stages that trained the banks) plus a ``distilled`` block: the parent's
   sha256, the teacher, the chain of distillation runs with their wall-clock times, the
   selection, and the distillation's compute added to the totals.

Refuses to run twice: if the shipped metadata already has ``distilled``, nothing is written.
"""

import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np

from minivelo.lopt.velo import checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORD = pathlib.Path("records/velo_small_v16")
SHIPPED = pathlib.Path("minivelo/weights/minivelo_small")
PARENT = pathlib.Path("records/velo_small_v11/parent_minivelo_small.msgpack")
CHAIN = ("velo_small_v12", "velo_small_v13", "velo_small_v14", "velo_small_v15")  # warm starts
DISTILLED = ("rnn_params", "lstm_init_state")
# v11's scale search made the teacher's c(N) (about 7 minutes of wall clock; its log has no
# timer, the figure is from that session's clock)
SCALE_SEARCH_WALL_S = 420.0


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    shipped_json = ROOT / SHIPPED.with_suffix(".json")
    info = json.loads(shipped_json.read_text())
    if "distilled" in info:
        sys.exit(f"{SHIPPED}.json already records a distillation: nothing written")
    scores = json.loads((ROOT / RECORD / "selection_scores.json").read_text())
    result = (ROOT / RECORD / "SELECTION_RESULT.md").read_text()
    chosen = next(line for line in result.splitlines() if line.startswith("pick: "))[6:].strip()
    pick = ROOT / chosen
    chain = CHAIN[: CHAIN.index(pick.parents[1].name) + 1]  # the runs the pick descends from
    parent, child = checkpoint.load(ROOT / PARENT), checkpoint.load(pick)
    flat_parent, flat_child = checkpoint.flatten(parent), checkpoint.flatten(child)
    assert flat_parent.keys() == flat_child.keys()
    for name, value in flat_parent.items():
        if not name.startswith(DISTILLED):
            np.testing.assert_array_equal(flat_child[name], value, err_msg=name)

    kept = ROOT / RECORD / "replaced_minivelo_small.msgpack"
    shutil.copyfile(ROOT / SHIPPED.with_suffix(".msgpack"), kept)
    shutil.copyfile(shipped_json, kept.with_suffix(".json"))

    new = json.loads((ROOT / PARENT).with_suffix(".json").read_text())
    runs = []
    for run in chain:
        log = json.loads((ROOT / "records" / run / "distill_log.json").read_text())
        script = next((ROOT / "records" / run).glob("distill_*.py")).relative_to(ROOT)
        runs.append({"record": f"records/{run}", "command": f"python {script.as_posix()} "
                     f"records/{run}", "wall_s": log["wall_s"]})  # fmt: skip
    wall = sum(r["wall_s"] for r in runs) + SCALE_SEARCH_WALL_S
    compute = dict(new["compute"])
    compute["total_wall_s"] = round(compute["total_wall_s"] + wall, 1)
    compute["total_cpu_s"] = round(compute["total_cpu_s"] + 2 * wall, 1)
    compute["note"] = (
        compute["note"] + "; the totals also add the v11 scale search and the distillation of "
        f"the LSTM ({', '.join(chain)}; 2 cores, CPU time estimated as 2 x wall clock)"
    )
    new["compute"] = compute
    new["distilled"] = {
        "from": PARENT.as_posix(),
        "sha256": sha256(ROOT / PARENT),
        "what": (
            "the parent's LSTM (rnn_params and lstm_init_state) trained by backpropagation "
            "through time to reproduce a teacher; the per-parameter MLP banks are the "
            "parent's, unchanged"
        ),
        "candidate": chosen,
        "teacher": (
            "the parent with lr_mult times c(N), c interpolated log-log through 1.0 at 500 "
            "steps, 0.7 at 1500 and 0.25 at 5000 (v11's scales of least regret, "
            "records/velo_small_v11/scales.json), on v10's eight training tasks at horizons "
            "300-5000"
        ),
        "runs": runs,
        "replaced": {"from": (RECORD / kept.name).as_posix(), "sha256": sha256(kept)},
        "selection": {
            "rule": (RECORD / "SELECTION.md").as_posix(),
            "result": (RECORD / "SELECTION_RESULT.md").as_posix(),
            "suite": "v16",
            "scores": {k: round(v["score"], 4) for k, v in scores.items()},
            "chosen": chosen,
            "command": (
                "python -m minivelo select --suite v16 --cache "
                "records/velo_small_v16/adam_reference.json --json "
                f"{RECORD.as_posix()}/selection_scores.json " + " ".join(scores)
            ),
        },
        "ship_command": f"python {RECORD.as_posix()}/ship.py",
    }
    shutil.copyfile(pick, ROOT / SHIPPED.with_suffix(".msgpack"))
    shipped_json.write_text(json.dumps(new, indent=2) + "\n")
    print(f"shipped {chosen} as {SHIPPED}.msgpack; replaced weights kept as {kept}")


if __name__ == "__main__":
    main()

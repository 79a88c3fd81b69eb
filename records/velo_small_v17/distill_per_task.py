"""v17: the distillation of v14 with a teacher whose scale is each task's own (SELECTION.md).

    python records/velo_small_v17/distill_per_task.py records/velo_small_v17

v14's loss, iteration and report (``../velo_small_v14/distill_all_horizons.py``, imported,
not copied); v12's recorder and padding. The one change: v12-v16's teacher multiplied the
meta-trained ``lr_mult`` by one c(N) for every task, the scale of least *mean* regret over
v10's eight training tasks; here each task gets the scale of least regret on *that task*
(v11's search, ``../velo_small_v11/scales.json``: e.g. the transformer 0.35 at 500 steps
where the mean said 1.0), interpolated log-log over 500, 1500 and 5000 steps and held
constant outside. Warm start: the shipped weights (v14's ``distilled_it120``); data: the
per-task teacher's runs plus the warm start's own runs labelled by it.
"""

import importlib.util
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.lopt.velo import checkpoint
from minivelo.meta.train import MetaConfig, MetaTrainer

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "distill_all_horizons", ROOT / "records/velo_small_v14/distill_all_horizons.py"
)
v14 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v14)
v12 = v14.v12

WARM_START = ROOT / "records/velo_small_v14/candidates/distilled_it120.msgpack"
SCALES = ROOT / "records/velo_small_v11/scales.json"
ITERATIONS = 120
SNAPSHOT = 60


def per_task_scales() -> dict:
    """``{task name: c(N) function}``: each task's scale of least regret, log-log in N."""
    record = json.loads(SCALES.read_text())
    horizons, grid = record["horizons"], np.asarray(record["scales"])
    best = {}
    for name in record["regret"][str(horizons[0])]:
        c = [grid[int(np.argmin(record["regret"][str(n)][name]))] for n in horizons]
        best[name] = (np.log(horizons), np.log(c))
    return {
        name: (lambda n, xy=xy: float(np.exp(np.interp(np.log(n), *xy))))
        for name, xy in best.items()
    }


def main(out_dir):
    out = pathlib.Path(out_dir)
    (out / "candidates").mkdir(parents=True, exist_ok=True)
    start = time.time()
    parent = jax.tree.map(jnp.asarray, checkpoint.load(v12.PARENT))
    warm = jax.tree.map(jnp.asarray, checkpoint.load(WARM_START))
    tasks = MetaTrainer(MetaConfig.from_json(v12.CONFIG), None, progress=False).train_tasks
    scale = per_task_scales()
    assert {t.name for t in tasks} == set(scale), "scales.json is for other tasks"

    def teacher(task, n):
        return v12.scaled_head(parent, scale[task.name](n))

    horizons = v12.HORIZONS
    runs = {}
    for n in horizons:
        runs[n] = [v12.record_run(t, n, teacher(t, n), teacher(t, n)) for t in tasks]
        runs[n] += [v12.record_run(t, n, warm, teacher(t, n)) for t in tasks]
        print(
            f"N={n}: teacher and warm-start runs recorded ({time.time() - start:.0f} s)", flush=True
        )
    held = [
        v12.record_run(t, v14.HELD_OUT, teacher(t, v14.HELD_OUT), teacher(t, v14.HELD_OUT))
        for t in tasks
    ]
    data = {n: v12.pad(runs[n]) for n in horizons}
    held_data = {v14.HELD_OUT: v12.pad(held)}

    trainable = {k: warm[k] for k in ("rnn_params", "lstm_init_state")}
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(v14.LEARNING_RATE))
    opt_state = optimizer.init(trainable)
    grad_fn = jax.jit(jax.value_and_grad(v14.horizon_loss, has_aux=True))
    loss_fn = jax.jit(v14.horizon_loss)
    log = {
        "horizons": horizons,
        "held_out": v14.HELD_OUT,
        "teacher": {t.name: {str(n): scale[t.name](n) for n in horizons} for t in tasks},
        "warm_start": str(WARM_START.relative_to(ROOT)),
        "level_weight": v14.LEVEL_WEIGHT,
        "iterations": ITERATIONS,
        "learning_rate": v14.LEARNING_RATE,
        "fit": [],
    }

    def snapshot(it):
        log["fit"].append(
            {
                "iteration": it,
                "train": v14.report(loss_fn, trainable, parent, data),
                "held_out": v14.report(loss_fn, trainable, parent, held_data),
            }
        )
        print(json.dumps(log["fit"][-1]), flush=True)
        log["wall_s"] = round(time.time() - start, 1)
        (out / "distill_log.json").write_text(json.dumps(log, indent=1) + "\n")

    snapshot(0)
    for it in range(1, ITERATIONS + 1):
        total, grads = 0.0, None
        for n in horizons:  # the mean of all six horizons' gradients, as v14
            (loss, _), g = grad_fn(trainable, parent, *data[n])
            total += float(loss) / len(horizons)
            g = jax.tree.map(lambda x: x / len(horizons), g)
            grads = g if grads is None else jax.tree.map(jnp.add, grads, g)
        updates, opt_state = optimizer.update(grads, opt_state, trainable)
        trainable = optax.apply_updates(trainable, updates)
        if it % 10 == 0:
            print(f"it {it} mean loss {total:.4f} ({time.time() - start:.0f} s)", flush=True)
        if it % SNAPSHOT == 0:
            path = out / "candidates" / f"distilled_it{it:03d}.msgpack"
            checkpoint.save(path, jax.tree.map(np.asarray, {**parent, **trainable}))
            snapshot(it)


if __name__ == "__main__":
    main(sys.argv[1])

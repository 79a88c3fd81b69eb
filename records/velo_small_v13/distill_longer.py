"""v13: v12's distillation continued, with a longer fit and the long runs weighted (SELECTION.md).

    python records/velo_small_v13/distill_longer.py records/velo_small_v13

v12 (``../velo_small_v12/distill_horizon.py``, imported here, not copied) taught the LSTM a
horizon-dependent step scale, but only half the range its teacher asked for: after 480 Adam
iterations at 3e-4 the student's ``lr_mult`` was 0.69x the meta-trained weights' at 300 steps
(teacher 1.0) and 0.39x at 5000 (teacher 0.25), and its fit was still improving. Changes:

1. Warm start from v12's ``distilled_round2`` (its ``rnn_params`` and ``lstm_init_state``).
2. Data: the teacher's runs and v12 round 2's own runs (DAgger data, labelled by the teacher),
   recorded again (v12 kept no data), then one more DAgger round after this script's round 1.
3. A longer, faster fit: ITERATIONS Adam iterations per round at LEARNING_RATE, gradients
   clipped to global norm 1.
4. Long runs weighted: each iteration draws its horizon N with probability proportional to
   log(N) (5000 is drawn 1.5x as often as 300), since the long-horizon error dominated v12.

The teacher, the tasks, the horizons and the per-run normalised loss are v12's.
Writes ``candidates/distilled_round{1,2}.msgpack`` and ``distill_log.json``.
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
    "distill_horizon", ROOT / "records/velo_small_v12/distill_horizon.py"
)
v12 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v12)

WARM_START = ROOT / "records/velo_small_v12/candidates/distilled_round2.msgpack"
ITERATIONS = 300  # per round
LEARNING_RATE = 1e-3
ROUNDS = 2


def main(out_dir):
    out = pathlib.Path(out_dir)
    (out / "candidates").mkdir(parents=True, exist_ok=True)
    start = time.time()
    parent = jax.tree.map(jnp.asarray, checkpoint.load(v12.PARENT))
    warm = jax.tree.map(jnp.asarray, checkpoint.load(WARM_START))
    tasks = MetaTrainer(MetaConfig.from_json(v12.CONFIG), None, progress=False).train_tasks
    horizons = v12.HORIZONS
    teachers = {n: v12.scaled_head(parent, v12.horizon_scale(n)) for n in horizons}
    runs = {}
    for n in horizons:
        runs[n] = [v12.record_run(t, n, teachers[n], teachers[n]) for t in tasks]
        runs[n] += [v12.record_run(t, n, warm, teachers[n]) for t in tasks]
        print(
            f"N={n}: teacher and warm-start runs recorded ({time.time() - start:.0f} s)", flush=True
        )
    trainable = {k: warm[k] for k in ("rnn_params", "lstm_init_state")}
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(LEARNING_RATE))
    opt_state = optimizer.init(trainable)
    grad_fn = jax.jit(jax.value_and_grad(v12.batch_loss, has_aux=True))
    weights = np.log(horizons) / np.sum(np.log(horizons))
    log = {
        "horizons": horizons,
        "knots": v12.KNOTS,
        "warm_start": str(WARM_START.relative_to(ROOT)),
        "iterations": ITERATIONS,
        "learning_rate": LEARNING_RATE,
        "rounds": [],
    }
    rng = np.random.default_rng(0)
    for round_index in range(1, ROUNDS + 1):
        data = {n: v12.pad(runs[n]) for n in horizons}
        before = v12.fit_report(trainable, parent, data)
        for it in range(ITERATIONS):
            n = horizons[rng.choice(len(horizons), p=weights)]
            (loss, _), grads = grad_fn(trainable, parent, *data[n])
            updates, opt_state = optimizer.update(grads, opt_state, trainable)
            trainable = optax.apply_updates(trainable, updates)
            if it % 20 == 0:
                print(
                    f"round {round_index} it {it} N={n} loss {float(loss):.4f} "
                    f"({time.time() - start:.0f} s)",
                    flush=True,
                )
        after = v12.fit_report(trainable, parent, data)
        student = {**parent, **trainable}
        path = out / "candidates" / f"distilled_round{round_index}.msgpack"
        checkpoint.save(path, jax.tree.map(np.asarray, student))
        print("wrote", path, flush=True)
        entry = {"fit_before": before, "fit_after": after}
        if round_index < ROUNDS:  # DAgger: the student's own runs, the teacher's targets
            for n in horizons:
                runs[n] = runs[n] + [v12.record_run(t, n, student, teachers[n]) for t in tasks]
        log["rounds"].append(entry)
        print(json.dumps(entry, indent=1), flush=True)
    log["wall_s"] = round(time.time() - start, 1)
    (out / "distill_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

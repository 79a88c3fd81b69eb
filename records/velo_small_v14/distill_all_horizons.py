"""v14: v12's distillation with every horizon in every step and a level term (SELECTION.md).

    python records/velo_small_v14/distill_all_horizons.py records/velo_small_v14

v12 (``../velo_small_v12/distill_horizon.py``, imported here, not copied) supplies the
teacher (the meta-trained weights with ``lr_mult`` times c(N)), the recorder, the padding
and the per-run normalised loss. Changes (SELECTION.md says why):

1. Each Adam iteration averages the gradients of all six horizons (v12/v13 drew one).
2. Each run's loss adds ``LEVEL_WEIGHT * log(r)^2``, r = student / teacher ``lr_mult`` summed
   over the run's steps and tensors.
3. Warm start from v13's ``distilled_round2``; data = the teacher's runs plus the warm start's
   own runs (labelled by the teacher); ITERATIONS iterations, a candidate every SNAPSHOT.
4. A held-out horizon (HELD_OUT) is recorded and reported, never trained on.

Writes ``candidates/distilled_it{K:03d}.msgpack`` and ``distill_log.json`` (the fit per
horizon, held-out included, before and at each snapshot).
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

WARM_START = ROOT / "records/velo_small_v13/candidates/distilled_round2.msgpack"
HELD_OUT = 2000
LEVEL_WEIGHT = 1.0
ITERATIONS = 120
SNAPSHOT = 60
LEARNING_RATE = 1e-3


def run_loss(trainable, theta, xs, lrs, ctls, mask):
    """v12's normalised loss of one run plus the level term LEVEL_WEIGHT * log(r)^2."""
    loss, (lr_s, lr_err, ctl_err) = v12.sequence_loss(trainable, theta, xs, lrs, ctls, mask)
    m = mask[None, :]
    ratio = jnp.sum(m * lr_s) / jnp.sum(m * lrs)
    level = jnp.log(jnp.maximum(ratio, 1e-3)) ** 2
    return loss + LEVEL_WEIGHT * level, (ratio, lr_err, ctl_err)


def horizon_loss(trainable, theta, xs, lrs, ctls, mask):
    losses, aux = jax.vmap(run_loss, in_axes=(None, None, 0, 0, 0, 0))(
        trainable, theta, xs, lrs, ctls, mask
    )
    return jnp.mean(losses), aux


def report(loss_fn, trainable, theta, data) -> dict:
    """Per horizon: the loss, and the mean student / teacher lr_mult over its runs."""
    out = {}
    for n, batch in data.items():
        loss, (ratio, lr_err, ctl_err) = loss_fn(trainable, theta, *batch)
        out[str(n)] = {
            "c": v12.horizon_scale(n),
            "loss": float(loss),
            "student_over_teacher_lr_mult": float(np.mean(np.asarray(ratio))),
            "lr_error": float(np.mean(np.asarray(lr_err))),
            "control_error": float(np.mean(np.asarray(ctl_err))),
        }
    return out


def main(out_dir):
    out = pathlib.Path(out_dir)
    (out / "candidates").mkdir(parents=True, exist_ok=True)
    start = time.time()
    parent = jax.tree.map(jnp.asarray, checkpoint.load(v12.PARENT))
    warm = jax.tree.map(jnp.asarray, checkpoint.load(WARM_START))
    tasks = MetaTrainer(MetaConfig.from_json(v12.CONFIG), None, progress=False).train_tasks
    horizons = v12.HORIZONS
    teachers = {n: v12.scaled_head(parent, v12.horizon_scale(n)) for n in (*horizons, HELD_OUT)}
    runs = {}
    for n in horizons:
        runs[n] = [v12.record_run(t, n, teachers[n], teachers[n]) for t in tasks]
        runs[n] += [v12.record_run(t, n, warm, teachers[n]) for t in tasks]
        print(
            f"N={n}: teacher and warm-start runs recorded ({time.time() - start:.0f} s)", flush=True
        )
    held = [v12.record_run(t, HELD_OUT, teachers[HELD_OUT], teachers[HELD_OUT]) for t in tasks]
    print(f"held-out N={HELD_OUT} recorded ({time.time() - start:.0f} s)", flush=True)
    data = {n: v12.pad(runs[n]) for n in horizons}
    held_data = {HELD_OUT: v12.pad(held)}

    trainable = {k: warm[k] for k in ("rnn_params", "lstm_init_state")}
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(LEARNING_RATE))
    opt_state = optimizer.init(trainable)
    grad_fn = jax.jit(jax.value_and_grad(horizon_loss, has_aux=True))
    loss_fn = jax.jit(horizon_loss)
    log = {
        "horizons": horizons,
        "held_out": HELD_OUT,
        "knots": v12.KNOTS,
        "warm_start": str(WARM_START.relative_to(ROOT)),
        "level_weight": LEVEL_WEIGHT,
        "iterations": ITERATIONS,
        "learning_rate": LEARNING_RATE,
        "fit": [
            {
                "iteration": 0,
                "train": report(loss_fn, trainable, parent, data),
                "held_out": report(loss_fn, trainable, parent, held_data),
            }
        ],
    }
    print(json.dumps(log["fit"][-1], indent=1), flush=True)
    for it in range(1, ITERATIONS + 1):
        total, grads = 0.0, None
        for n in horizons:  # the mean of all six horizons' gradients
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
            log["fit"].append(
                {
                    "iteration": it,
                    "train": report(loss_fn, trainable, parent, data),
                    "held_out": report(loss_fn, trainable, parent, held_data),
                }
            )
            print("wrote", path, json.dumps(log["fit"][-1], indent=1), flush=True)
            log["wall_s"] = round(time.time() - start, 1)
            (out / "distill_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

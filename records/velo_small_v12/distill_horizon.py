"""v12: teach VeLO's LSTM the horizon by distilling a horizon-scaled teacher (SELECTION.md).

    python records/velo_small_v12/distill_horizon.py records/velo_small_v12

v11 found the step scale these tasks want to depend on the horizon N (the multiple of the
meta-trained ``lr_mult`` of least regret: 1.0 at 500 steps, 0.7 at 1500, 0.25 at 5000), and a
linear step-size head could not read N off the meta-trained LSTM's state. Here the LSTM itself
(all of ``rnn_params`` and ``lstm_init_state``) is trained to produce it. N is in its inputs:
the nine fraction-trained features ``tanh(10 (t/N - tau))`` change by about ``10/N`` per step,
and the LSTM sees consecutive inputs.

1. Teacher. The meta-trained weights (``../velo_small_v11/parent_minivelo_small.msgpack``)
   with ``lr_mult`` times c(N), c interpolated log-log through v11's three measured scales
   and held constant outside them. For each of v10's eight training tasks (none is a
   validation or velo-eval task) and each N in HORIZONS, one teacher run (seed 0) records per
   step the LSTM inputs ``(T, 30)``, the teacher's ``lr_mult (T,)`` and controls ``(T, J)``.
2. Student. The meta-trained ``rnn_params`` and ``lstm_init_state``, trained by Adam on
   backpropagation through time over whole recorded runs: for each run,

       L = sum_t,i (lr_s - lr_teacher)^2 / sum_t,i lr_teacher^2
           + CONTROL_WEIGHT * sum_t,i,j (ctl_s - ctl_teacher)^2 / sum_t,i,j ctl_teacher^2

   (each run normalised by its own targets, so every task and horizon counts alike). Each
   iteration takes one horizon and all eight tasks at it (tensors padded and masked; the
   max-pool over tensors ignores the padding). The per-parameter MLP banks stay as they are.
3. DAgger. The student's own runs record new inputs (with the teacher's outputs on them as
   targets), added to the data, and the student trains again (ROUNDS rounds in all).
4. Write ``candidates/distilled_round{k}.msgpack`` per round (published format) and
   ``distill_log.json`` (the fit per horizon: mean student / teacher ``lr_mult``).
"""

import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.lopt.velo import checkpoint, fused
from minivelo.lopt.velo.controller import heads, linear, lstm_cell
from minivelo.lopt.velo.state import init_state
from minivelo.meta.train import MetaConfig, MetaTrainer

ROOT = pathlib.Path(__file__).resolve().parents[2]
PARENT = ROOT / "records/velo_small_v11/parent_minivelo_small.msgpack"
CONFIG = ROOT / "minivelo/meta/configs/velo_small_v10.json"
HORIZONS = (300, 500, 1000, 1500, 2500, 5000)
KNOTS = ((500, 1.0), (1500, 0.7), (5000, 0.25))  # v11's scales.json: c(N) of least regret
CONTROL_WEIGHT = 1.0
ITERATIONS = 240  # per round
LEARNING_RATE = 3e-4
ROUNDS = 2


def horizon_scale(n: int) -> float:
    """c(N): log-log interpolation through KNOTS, constant outside them."""
    xs = np.log([k[0] for k in KNOTS])
    ys = np.log([k[1] for k in KNOTS])
    return float(np.exp(np.interp(np.log(n), xs, ys)))


def scaled_head(theta: dict, scale: float) -> dict:
    head = jax.tree.map(lambda x: scale * x, theta["rnn_params"]["step_size"])
    return {**theta, "rnn_params": {**theta["rnn_params"], "step_size": head}}


def record_run(task, num_steps: int, theta_run: dict, theta_target: dict):
    """One run of VeLO with ``theta_run`` (seed 0); per step the LSTM inputs, and the
    outputs of ``theta_target``'s controller fed the same inputs from its own state."""
    init_key, data_key = jax.random.split(jax.random.PRNGKey(0))

    def run():
        params = task.init(init_key)
        state = init_state(params, theta_run)
        target = init_state(params, theta_target)

        def step(carry, t):
            params, state, hidden, cell = carry
            batch = task.sample_batch(jax.random.fold_in(data_key, t))
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
            steps, state, trace = fused.update(theta_run, state, grads, params, loss, num_steps)
            x = trace["lstm_inputs"]
            controls, lr_mult, hidden, cell = student_step(theta_target, x, hidden, cell, None)
            params = jax.tree.map(lambda p, s: p - s, params, steps)
            return (params, state, hidden, cell), (x, lr_mult, controls, loss)

        carry = (params, state, target.lstm_hidden, target.lstm_cell)
        return jax.lax.scan(step, carry, jnp.arange(num_steps))[1]

    return [np.asarray(a) for a in jax.jit(run)()]


def student_step(theta, x, hidden, cell, mask):
    """The controller (``controller.controller``) with padded tensors masked out of the
    max-pool: relu >= 0, so zeroed rows never win it."""
    rnn = theta["rnn_params"]
    mixed = jax.nn.relu(linear(rnn["linear_1"], x))
    if mask is not None:
        mixed = mixed * mask[:, None]
    x_mixed = linear(rnn["linear_2"], x) + jnp.max(mixed, axis=0, keepdims=True)
    hidden, cell = lstm_cell(rnn["rnn/linear"], x_mixed, hidden, cell)
    controls, lr_mult = heads(rnn, hidden)
    return controls, lr_mult, hidden, cell


def pad(runs):
    """Stack runs of one horizon, padding the tensor axis: (B, N, T_max, ...), mask (B, T)."""
    t_max = max(r[0].shape[1] for r in runs)

    def padded(a):
        width = [(0, 0), (0, t_max - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return np.pad(a, width)

    xs = np.stack([padded(r[0]) for r in runs])
    lrs = np.stack([padded(r[1]) for r in runs])
    ctls = np.stack([padded(r[2]) for r in runs])
    mask = np.stack([np.arange(t_max) < r[0].shape[1] for r in runs]).astype(np.float32)
    return xs, lrs, ctls, mask


def sequence_loss(trainable, theta, xs, lrs, ctls, mask):
    """Normalised squared errors of lr_mult and controls over one run (see the docstring)."""
    theta = {**theta, **trainable}
    init = theta["lstm_init_state"]
    t_max = xs.shape[1]
    hidden = jnp.broadcast_to(init["hidden"], (t_max, init["hidden"].shape[-1]))
    cell = jnp.broadcast_to(init["cell"], (t_max, init["cell"].shape[-1]))

    def step(carry, x):
        controls, lr_mult, hidden, cell = student_step(theta, x, *carry, mask)
        return (hidden, cell), (lr_mult, controls)

    _, (lr_s, ctl_s) = jax.lax.scan(step, (hidden, cell), xs)
    m = mask[None, :]
    lr_err = jnp.sum(m * (lr_s - lrs) ** 2) / jnp.sum(m * lrs**2)
    ctl_err = jnp.sum(m[..., None] * (ctl_s - ctls) ** 2) / jnp.sum(m[..., None] * ctls**2)
    return lr_err + CONTROL_WEIGHT * ctl_err, (lr_s, lr_err, ctl_err)


def batch_loss(trainable, theta, xs, lrs, ctls, mask):
    losses, aux = jax.vmap(sequence_loss, in_axes=(None, None, 0, 0, 0, 0))(
        trainable, theta, xs, lrs, ctls, mask
    )
    return jnp.mean(losses), aux


def fit_report(trainable, theta, data):
    """Per horizon: mean student lr_mult / mean teacher lr_mult on the recorded inputs."""
    report = {}
    for n, (xs, lrs, ctls, mask) in data.items():
        _, (lr_s, lr_err, ctl_err) = jax.jit(batch_loss)(trainable, theta, xs, lrs, ctls, mask)
        m = mask[:, None, :]
        ratio = float(np.sum(np.asarray(lr_s) * m) / np.sum(lrs * m))
        report[str(n)] = {
            "c": horizon_scale(n),
            "student_over_teacher_mean_lr_mult": ratio,
            "lr_error": float(np.mean(lr_err)),
            "control_error": float(np.mean(ctl_err)),
        }
    return report


def main(out_dir):
    out = pathlib.Path(out_dir)
    (out / "candidates").mkdir(parents=True, exist_ok=True)
    start = time.time()
    parent = jax.tree.map(jnp.asarray, checkpoint.load(PARENT))
    tasks = MetaTrainer(MetaConfig.from_json(CONFIG), None, progress=False).train_tasks
    teachers = {n: scaled_head(parent, horizon_scale(n)) for n in HORIZONS}
    runs = {n: [record_run(task, n, teachers[n], teachers[n]) for task in tasks] for n in HORIZONS}
    for n in HORIZONS:
        print(f"teacher runs at N={n} (c={horizon_scale(n):.3f}) recorded", flush=True)
    trainable = {k: parent[k] for k in ("rnn_params", "lstm_init_state")}
    optimizer = optax.adam(LEARNING_RATE)
    opt_state = optimizer.init(trainable)
    grad_fn = jax.jit(jax.value_and_grad(batch_loss, has_aux=True))
    log = {"horizons": HORIZONS, "knots": KNOTS, "rounds": []}
    rng = np.random.default_rng(0)
    for round_index in range(1, ROUNDS + 1):
        data = {n: pad(runs[n]) for n in HORIZONS}
        before = fit_report(trainable, parent, data)
        for it in range(ITERATIONS):
            n = HORIZONS[rng.integers(len(HORIZONS))]
            (loss, _), grads = grad_fn(trainable, parent, *data[n])
            updates, opt_state = optimizer.update(grads, opt_state, trainable)
            trainable = optax.apply_updates(trainable, updates)
            if it % 20 == 0:
                print(f"round {round_index} it {it} N={n} loss {float(loss):.4f}", flush=True)
        after = fit_report(trainable, parent, data)
        student = {**parent, **trainable}
        path = out / "candidates" / f"distilled_round{round_index}.msgpack"
        checkpoint.save(path, jax.tree.map(np.asarray, student))
        finals = {}
        for n in HORIZONS:  # the student's own runs: new inputs, the teacher's targets
            new = [record_run(task, n, student, teachers[n]) for task in tasks]
            finals[str(n)] = {
                task.name: float(np.mean(r[3][-max(1, n // 20) :]))
                for task, r in zip(tasks, new, strict=True)
            }
            runs[n] = runs[n] + new
        log["rounds"].append(
            {"fit_before": before, "fit_after": after, "student_final_losses": finals}
        )
        print(json.dumps(log["rounds"][-1], indent=1), flush=True)
        print("wrote", path, flush=True)
    log["wall_s"] = round(time.time() - start, 1)
    (out / "distill_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

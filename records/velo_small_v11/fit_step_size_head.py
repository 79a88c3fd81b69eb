"""v11: a step-size head fitted to a horizon-dependent step scale (see SELECTION.md).

    python records/velo_small_v11/fit_step_size_head.py records/velo_small_v11

1. Scale search. On v10's eight training tasks (``velo_small_v10.json``: the tasks its
   meta-training samples; none is a validation or velo-eval task), for each horizon N in
   HORIZONS, train with the shipped weights' ``lr_mult`` multiplied by each c in SCALES
   (weights are data: one compilation per task and horizon serves every c) and score each
   run by its final loss. Per task, a scale's regret is ``min(log F_c - min_c' log F_c', 5)``
   (a diverged run counts 5); c(N) is the scale of least mean regret over the tasks.
2. Fit. Run every task at every N with the c(N)-scaled head and collect the per-tensor
   LSTM state h every STRIDE steps; fit the head's (w, b) by least squares so that
   ``h @ w + b`` matches ``c(N) * lr_mult_shipped(h)`` on all of them at once. The LSTM,
   the MLP banks and their mixing stay the shipped ones: only the 33 numbers of
   ``rnn_params/step_size`` change.
3. Write ``scales.json`` (every regret), ``fit.json`` (c(N), the fit's errors) and
   ``candidates/{fitted_head,constant_scale}.msgpack``: the fitted head, and the shipped head
   times the single scale of least mean regret over all horizons (a baseline).
"""

import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minivelo
from minivelo.lopt.velo import checkpoint
from minivelo.lopt.velo.optimizer import load_weights
from minivelo.meta.train import MetaConfig, MetaTrainer

HORIZONS = (500, 1500, 5000)
SCALES = (1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.125)
STRIDE = 10
MAX_REGRET = 5.0
CONFIG = "minivelo/meta/configs/velo_small_v10.json"


def with_scale(theta, w, b):
    head = {
        "w": jnp.asarray(w, jnp.float32).reshape(-1, 1),
        "b": jnp.asarray(b, jnp.float32).reshape(1),
    }
    return {**theta, "rnn_params": {**theta["rnn_params"], "step_size": head}}


def runs(task, num_steps, thetas, collect=False):
    """One run per theta (stacked on a leading axis), seed 0: losses [, hidden states]."""
    tx = minivelo.velo(num_steps)
    init_key, data_key = jax.random.split(jax.random.PRNGKey(0))

    def one(theta):
        params = task.init(init_key)
        state = tx.init(params)._replace(theta=theta)

        def step(carry, t):
            params, state = carry
            batch = task.sample_batch(jax.random.fold_in(data_key, t))
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
            updates, state = tx.update(grads, state, params, loss=loss)
            out = (loss, state.velo.lstm_hidden) if collect else (loss,)
            return (optax.apply_updates(params, updates), state), out

        return jax.lax.scan(step, (params, state), jnp.arange(num_steps))[1]

    return [np.asarray(x) for x in jax.jit(jax.vmap(one))(thetas)]


def final_log_loss(losses):
    tail = losses[:, -max(1, len(losses[0]) // 10) :]
    mean = np.where(np.all(np.isfinite(tail), axis=1), np.mean(tail, axis=1), np.inf)
    return np.log(np.maximum(mean, 1e-30))


def main(out_dir):
    out = pathlib.Path(out_dir)
    theta = load_weights(None)
    w0 = np.asarray(theta["rnn_params"]["step_size"]["w"])[:, 0]
    b0 = float(theta["rnn_params"]["step_size"]["b"][0])
    trainer = MetaTrainer(MetaConfig.from_json(CONFIG), None, progress=False)
    tasks = trainer.train_tasks
    stacked = jax.tree.map(
        lambda *xs: jnp.stack(xs), *[with_scale(theta, c * w0, c * b0) for c in SCALES]
    )
    regret = {}  # horizon -> task -> [regret per scale]
    for n in HORIZONS:
        regret[n] = {}
        for task in tasks:
            (losses,) = runs(task, n, stacked)
            logf = final_log_loss(losses)
            r = np.minimum(logf - np.min(logf), MAX_REGRET)
            regret[n][task.name] = [float(x) for x in r]
            print(f"N={n} {task.name}: regret " + " ".join(f"{x:.2f}" for x in r), flush=True)
    mean_regret = {n: np.mean(list(regret[n].values()), axis=0) for n in HORIZONS}
    best = {n: SCALES[int(np.argmin(mean_regret[n]))] for n in HORIZONS}
    overall = np.mean([mean_regret[n] for n in HORIZONS], axis=0)
    constant = SCALES[int(np.argmin(overall))]
    print("c(N):", best, "| one scale for all:", constant, flush=True)
    (out / "scales.json").write_text(
        json.dumps(
            {
                "horizons": HORIZONS,
                "scales": SCALES,
                "regret": regret,
                "best": best,
                "constant": constant,
            },
            indent=1,
        )
        + "\n"  # fmt: skip
    )

    features, targets, groups = [], [], []
    for n in HORIZONS:
        scaled = jax.tree.map(lambda x: x[None], with_scale(theta, best[n] * w0, best[n] * b0))
        for task in tasks:
            _, hidden = runs(task, n, scaled, collect=True)
            h = hidden[0, ::STRIDE].reshape(-1, hidden.shape[-1])  # (steps x tensors, 32)
            features.append(h)
            targets.append(best[n] * (h @ w0 + b0))
            groups.append(np.full(len(h), n))
    h, y, g = np.concatenate(features), np.concatenate(targets), np.concatenate(groups)
    x = np.concatenate([h, np.ones((len(h), 1))], axis=1)
    sol, *_ = np.linalg.lstsq(x, y, rcond=None)
    pred = x @ sol
    report = {"c": {str(n): best[n] for n in HORIZONS}, "constant": constant, "per_horizon": {}}
    for n in HORIZONS:
        m = g == n
        report["per_horizon"][str(n)] = {
            "target_mean_lr_mult": float(y[m].mean()),
            "fitted_mean_lr_mult": float(pred[m].mean()),
            "median_relative_error": float(np.median(np.abs(pred[m] - y[m]) / np.abs(y[m]))),
        }
    print(json.dumps(report, indent=1), flush=True)
    (out / "fit.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "candidates").mkdir(exist_ok=True)
    for name, (w, b) in {
        "fitted_head": (sol[:-1], sol[-1]),
        "constant_scale": (constant * w0, constant * b0),
    }.items():
        path = out / "candidates" / f"{name}.msgpack"  # the published format, as shipped
        checkpoint.save(path, jax.tree.map(np.asarray, with_scale(theta, w, b)))
        print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1])

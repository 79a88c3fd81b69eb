"""Can the step-size head alone make VeLO's steps depend on the horizon?

    python records/velo_small_v10/horizon_in_lstm_state.py > records/velo_small_v10/horizon_in_lstm_state.txt

lr_mult is linear in the per-tensor LSTM state h (lr_mult = h @ w + b, 33 numbers). Run the
shipped weights told num_steps = 500 and 5000 and collect h over the first 6% of each run
(before either diverges), at matching fractions of training. Then fit (w, b) by least
squares to keep the 500-step run's lr_mult and scale the 5000-step run's by c: if the
fitted head reaches a ratio near c, h carries the horizon and a step-size head trained
alone can shrink long runs' steps (which `../velo_small_v9/diagnosis.txt` shows they need).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minivelo
from minivelo import tasks
from minivelo.lopt.velo.optimizer import load_weights

HEAD = load_weights(None)["rnn_params"]["step_size"]


def hidden_states(task, num_steps, steps):
    tx = minivelo.velo(num_steps)
    init_key, data_key = jax.random.split(jax.random.PRNGKey(0))
    params = task.init(init_key)

    def step(carry, t):
        params, state = carry
        batch = task.sample_batch(jax.random.fold_in(data_key, t))
        loss, grads = jax.value_and_grad(task.loss)(params, batch)
        updates, state = tx.update(grads, state, params, loss=loss)
        return (optax.apply_updates(params, updates), state), state.velo.lstm_hidden

    run = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), jnp.arange(steps))[1])
    return np.asarray(run(params))  # (steps, tensors, 32)


def main():
    w, b = np.asarray(HEAD["w"])[:, 0], float(HEAD["b"][0])
    for name, settings in (("digits_mlp", {"hidden_sizes": (128,)}),
                           ("mnist1d_mlp", {"hidden_sizes": (32,)})):  # fmt: skip
        task = tasks.get_task(name, **settings)
        long_h = hidden_states(task, 5000, 300)  # first 6% of a 5000-step run
        short_h = hidden_states(task, 500, 30)[np.arange(300) // 10]  # same fractions
        long_h, short_h = long_h.reshape(-1, 32), short_h.reshape(-1, 32)
        short_lr = short_h @ w + b
        x = np.concatenate([np.concatenate([short_h, long_h]), np.ones((2 * len(short_h), 1))], 1)
        print(f"{task.name}: {len(short_h)} (step, tensor) pairs per horizon")
        for c in (1.0, 0.5, 0.25):
            fit, *_ = np.linalg.lstsq(x, np.concatenate([short_lr, c * short_lr]), rcond=None)
            pred = x @ fit
            ratio = pred[len(short_h) :].mean() / pred[: len(short_h)].mean()
            error = np.abs(pred[: len(short_h)] - short_lr) / np.abs(short_lr)
            print(f"  target ratio {c:<4}: fitted head gives {ratio:.2f}; "
                  f"median error on the 500-step run {np.median(error):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

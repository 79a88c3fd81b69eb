"""Why the shipped VeLO diverges on 5,000-step runs: the diagnosis behind v9.

    python records/velo_small_v9/diagnose_long_runs.py > records/velo_small_v9/diagnosis.txt

1. Trace a 5,000-step run of lesson 10's first task (digits MLP, hidden 128, seed 0) with the
   shipped weights: loss, relative update size |dp|/|p| and the parameters' norm |p|.
2. Scale the step-size head (lr_mult) by a constant c and train at 500 and 5,000 steps: if
   some c < 1 trains at 5,000 steps, the failure is a step size that does not shrink with
   the horizon, which the heads v9 trains can express.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minivelo
from minivelo import bench, tasks
from minivelo.lopt.velo.optimizer import load_weights

TASK = tasks.get_task("digits_mlp", hidden_sizes=(128,))
KEY = jax.random.PRNGKey(0)


def traced(tx, num_steps):
    init_key, data_key = jax.random.split(KEY)  # as bench.training_run
    params = TASK.init(init_key)

    def step(carry, t):
        params, state = carry
        batch = TASK.sample_batch(jax.random.fold_in(data_key, t))
        loss, grads = jax.value_and_grad(TASK.loss)(params, batch)
        updates, state = tx.update(grads, state, params, loss=loss)
        u2 = sum(jnp.sum(u * u) for u in jax.tree.leaves(updates))
        p2 = sum(jnp.sum(p * p) for p in jax.tree.leaves(params))
        params = optax.apply_updates(params, updates)
        return (params, state), (loss, jnp.sqrt(u2 / p2), jnp.sqrt(p2))

    run = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), jnp.arange(num_steps))[1])
    return [np.asarray(x) for x in run(params)]


def main():
    print(f"task: {TASK.name}, seed 0, shipped weights")
    loss, size, norm = traced(minivelo.velo(5000), 5000)
    bad = np.flatnonzero(~np.isfinite(loss) | (loss > 10 * loss[0]))
    print(f"5000 steps: first loss {loss[0]:.3g}; first above 10x it at step {bad[0] + 1}")
    print(f"{'step':>6} {'loss':>10} {'|dp|/|p|':>10} {'|p|':>10}")
    for t in (0, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 4900):
        print(f"{t:>6} {loss[t]:>10.3g} {size[t]:>10.3g} {norm[t]:>10.3g}")

    theta = load_weights(None)
    head = theta["rnn_params"]["step_size"]
    print("\nlr_mult scaled by c (the step-size head's w and b times c); final loss")
    print(f"{'c':>6} {'500 steps':>12} {'5000 steps':>12}")
    for c in (1.0, 0.5, 0.25, 0.1, 0.03):
        scaled = {**theta, "rnn_params": {**theta["rnn_params"]}}
        scaled["rnn_params"]["step_size"] = {k: v * c for k, v in head.items()}
        finals = []
        for num_steps in (500, 5000):
            tx = minivelo.velo(num_steps, weights=scaled)
            losses = jax.jit(lambda k: bench.training_run(TASK, tx, num_steps, k).losses)(KEY)
            finals.append(float(bench.final_loss(losses)))
        print(f"{c:>6g} {finals[0]:>12.3g} {finals[1]:>12.3g}")


if __name__ == "__main__":
    main()

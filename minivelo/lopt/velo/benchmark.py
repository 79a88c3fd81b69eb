"""``python -m minivelo velo-bench``: VeLO's step time next to Adam's, and its memory.

For MLPs of about 1M and 10M parameters, runs a jitted step (update + apply, params and
state donated) of ``minivelo.velo`` and of ``optax.adam`` alternately on the same
gradients, and prints the median time of each, their ratio, and XLA's temporary memory
(``compiled.memory_analysis().temp_size_in_bytes``) per parameter for one VeLO update.

Options::

    --sizes 1e6,1e7        parameter counts
    --repeats 10           timed steps per optimizer
    --implementation fused (or reference)
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.lopt.velo.optimizer import velo
from minivelo.lopt.velo.params import init_meta_params


def mlp_params(num_params: int, key: jax.Array, depth: int = 3) -> dict:
    """An MLP of ``depth`` square layers (weights and biases) with ~``num_params``."""
    width = int(round((num_params / depth) ** 0.5))
    keys = jax.random.split(key, depth)
    return {
        f"layer{i}": {
            "w": jax.random.normal(keys[i], (width, width)) / np.sqrt(width),
            "b": jnp.zeros((width,)),
        }
        for i in range(depth)
    }


def _step_fn(tx):
    def step(params, state, grads, loss):
        updates, state = tx.update(grads, state, params, loss=loss)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def measure(num_params: int, repeats: int, theta, implementation: str) -> dict:
    key = jax.random.PRNGKey(0)
    params = mlp_params(num_params, key)
    count = sum(p.size for p in jax.tree.leaves(params))
    grads = jax.tree.map(lambda p: 1e-3 * jax.random.normal(key, p.shape), params)
    loss = jnp.float32(1.0)

    velo_tx = velo(10_000, weights=theta, implementation=implementation)
    adam_tx = optax.adam(1e-3)
    velo_step, adam_step = _step_fn(velo_tx), _step_fn(adam_tx)
    velo_params, velo_state = jax.tree.map(jnp.copy, params), velo_tx.init(params)
    adam_params, adam_state = params, adam_tx.init(params)

    lowered = jax.jit(
        lambda g, s, p, l: velo_tx.update(g, s, p, loss=l), donate_argnums=(1,)
    ).lower(grads, velo_state, velo_params, loss)
    update_temp = lowered.compile().memory_analysis().temp_size_in_bytes
    step_lowered = velo_step.lower(velo_params, velo_state, grads, loss)
    step_temp = step_lowered.compile().memory_analysis().temp_size_in_bytes

    velo_times, adam_times = [], []
    for i in range(repeats + 2):  # two warm-up rounds (compilation, first touch)
        (velo_params, velo_state), t_velo = _timed(velo_step, velo_params, velo_state, grads, loss)
        (adam_params, adam_state), t_adam = _timed(adam_step, adam_params, adam_state, grads, loss)
        if i >= 2:
            velo_times.append(t_velo)
            adam_times.append(t_adam)
    velo_median, adam_median = statistics.median(velo_times), statistics.median(adam_times)
    return {
        "num_params": count,
        "adam_s": adam_median,
        "velo_s": velo_median,
        "ratio": velo_median / adam_median,
        "update_temp_bytes_per_param": update_temp / count,
        "step_temp_bytes_per_param": step_temp / count,
    }


def run_velo_bench(
    sizes=(1_000_000, 10_000_000), repeats: int = 10, implementation: str = "fused"
) -> int:
    """Print VeLO's and Adam's step times and VeLO's temporary memory for MLPs of about
    ``sizes`` parameters (module docstring)."""
    # Published sizes (LSTM 512, 256 banks); random weights time the same as trained ones.
    theta = init_meta_params(jax.random.PRNGKey(0), "published")
    print(f"device: {jax.devices()[0].device_kind}, implementation: {implementation}")
    header = f"{'params':>12} {'adam ms':>9} {'velo ms':>9} {'ratio':>7} "
    print(header + f"{'temp B/param (update)':>22} {'(update+apply)':>15}")
    for size in sizes:
        r = measure(int(size), repeats, theta, implementation)
        print(
            f"{r['num_params']:>12,} {1e3 * r['adam_s']:>9.2f} {1e3 * r['velo_s']:>9.2f} "
            f"{r['ratio']:>6.1f}x {r['update_temp_bytes_per_param']:>22.2f} "
            f"{r['step_temp_bytes_per_param']:>15.2f}",
            flush=True,
        )
    return 0


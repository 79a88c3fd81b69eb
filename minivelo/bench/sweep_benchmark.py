"""``python -m minivelo sweep-bench``: a vmapped learning-rate sweep vs the same runs in turn.

Both sides run the same (learning rate, seed) training runs with the same compiled code
path: the sweep as one ``jit(vmap(vmap(run)))`` program, the baseline as one
``jit(run)`` (learning rate and key are arguments, so it compiles once) called in a Python
loop. Compilation is done before timing and reported apart. Each side is timed
``repeats`` times, interleaved, and the ratio of medians is printed.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.bench import optimizers, training
from minivelo.bench.tuning import final_loss
from minivelo.tasks import get_task


def measure(
    task_name: str,
    optimizer: str,
    num_lrs: int,
    num_seeds: int,
    num_steps: int,
    repeats: int,
    seeds=None,
) -> dict:
    """Time the vmapped sweep and the loop of the same runs; ``seeds`` default 0, 1, ..."""
    task = get_task(task_name)
    spec = optimizers.parse_spec(optimizer)
    if not spec.entry.tunable:
        raise ValueError(f"{optimizer!r} has no learning rate to sweep")
    rates = jnp.asarray(np.logspace(-4, -1, num_lrs), jnp.float32)  # 1e-4 ... 1e-1
    keys = training.seed_keys(range(num_seeds) if seeds is None else seeds)

    def one(lr, key):
        return training.training_run(task, spec.make(num_steps, lr), num_steps, key).losses

    start = time.perf_counter()
    swept = jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, None)))
    swept = swept.lower(rates, keys).compile()
    compile_sweep = time.perf_counter() - start
    start = time.perf_counter()
    single = jax.jit(one).lower(rates[0], keys[0]).compile()
    compile_single = time.perf_counter() - start

    def run_sweep():
        return jax.block_until_ready(swept(rates, keys))

    def run_loop():
        return [[jax.block_until_ready(single(lr, k)) for k in keys] for lr in rates]

    # Same runs both ways: compare final losses (batched kernels may reassociate sums, and
    # a chaotic or diverging run amplifies that, so compare the summary, report the gap).
    a = final_loss(np.asarray(run_sweep()))
    b = final_loss(np.asarray([[np.asarray(x) for x in row] for row in run_loop()]))
    gap = float(np.max(np.abs(a - b), initial=0.0, where=np.isfinite(a) & np.isfinite(b)))
    times_sweep, times_loop = [], []
    for _ in range(repeats):  # interleaved so that machine load affects both alike
        t0 = time.perf_counter()
        run_sweep()
        times_sweep.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_loop()
        times_loop.append(time.perf_counter() - t0)
    runs = num_lrs * num_seeds
    t_sweep, t_loop = float(np.median(times_sweep)), float(np.median(times_loop))
    return dict(
        task=task.name,
        runs=runs,
        steps=num_steps,
        sweep_s=t_sweep,
        loop_s=t_loop,
        sweep_runs_per_s=runs / t_sweep,
        loop_runs_per_s=runs / t_loop,
        ratio=t_loop / t_sweep,
        compile_sweep_s=compile_sweep,
        compile_single_s=compile_single,
        final_loss_gap=gap,
    )


def run(
    task_names=("digits_mlp", "logistic"),
    optimizer_names=("adam",),
    num_lrs: int = 8,
    seeds=(0, 1),
    num_steps: int = 300,
    repeats: int = 5,
    log=print,
) -> list[dict]:
    """Measure every (task, optimizer) pair and print one line each; return the records.

    ``seeds`` are the seeds of each learning rate's runs (the measurement uses their count:
    keys ``0 .. len(seeds) - 1`` are as good as any for timing)."""
    seeds = list(seeds)
    log(
        f"{num_lrs} learning rates x {len(seeds)} seeds x {num_steps} steps, "
        f"median of {repeats} interleaved repeats ({jax.devices()[0].platform})"
    )
    records = []
    for name in task_names:
        for optimizer in optimizer_names:
            r = measure(name, optimizer, num_lrs, len(seeds), num_steps, repeats, seeds)
            records.append(r)
            log(
                f"{r['task']}, {optimizer}: vmapped sweep {r['sweep_s']:.3f} s "
                f"({r['sweep_runs_per_s']:.1f} runs/s), "
                f"one after another {r['loop_s']:.3f} s ({r['loop_runs_per_s']:.1f} runs/s): "
                f"ratio {r['ratio']:.2f}x; compile {r['compile_sweep_s']:.1f} s vs "
                f"{r['compile_single_s']:.1f} s; max final-loss gap {r['final_loss_gap']:.1e}"
            )
    return records

"""``python -m minivelo meta-bench``: meta-training throughput vs plain Adam training.

What it measures, from one run, on the same population (the tasks and members of a
meta-training config):

- **meta-training**: one outer step (every member runs one segment of ``K`` inner steps
  per antithetic copy, the estimator, the outer Adam update);
- **plain Adam**: the same members trained for ``K`` steps with Adam, vmapped the same way
  (one jitted program per task), no learned optimizer, no perturbations.

Both are timed alternately, ``--repeats`` times after a compile-and-warm-up call, and the
medians are reported as *inner steps per second across the population* (an inner step
is one minibatch gradient and one update of one member; ES and PES take two per member per
step, one per antithetic copy) and their ratio. The ratio says what learning the optimizer
costs over just training the tasks: the learned optimizer's own MLP, the second copy.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics
import time

import jax
import optax

from minivelo.meta import unroll
from minivelo.meta.train import MetaConfig, MetaTrainer

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parent / "configs" / "mlp_mnist1d_es.json"


def adam_segments(trainer: MetaTrainer):
    """Per task, a jitted ``(members) -> losses``: ``K`` Adam steps for every member."""
    config = trainer.config
    opt = optax.adam(1e-3)

    def make(task):
        def one(member: unroll.InnerState):
            def step(carry, _):
                params, opt_state, state = carry
                loss, grads = jax.value_and_grad(task.loss)(params, unroll.batch_at(task, state))
                updates, opt_state = opt.update(grads, opt_state, params)
                state = state._replace(step=state.step + 1)
                return (optax.apply_updates(params, updates), opt_state, state), loss

            carry = (member.params, opt.init(member.params), member)
            return jax.lax.scan(step, carry, None, length=config.unroll_length)[1]

        return jax.jit(jax.vmap(one))

    return [make(task) for task in trainer.train_tasks]


def members_of(group):
    return group.positive if hasattr(group, "positive") else group


def run_meta_bench(config=DEFAULT_CONFIG, num_tasks: int | None = None, repeats: int = 5) -> int:
    """Time ``repeats`` alternating calls of meta-training and plain Adam (module docstring)
    on the population of the config file ``config`` (``num_tasks`` overrides its own)."""
    config_path = config
    config = MetaConfig.from_json(config_path)
    if num_tasks:
        config = dataclasses.replace(config, num_tasks=num_tasks)
    trainer = MetaTrainer(config, progress=False)
    state = trainer.initial_state()
    adam = adam_segments(trainer)
    copies = 1 if config.estimator == "tbptt" else 2
    members = config.num_tasks * config.members_per_task
    meta_steps = members * config.unroll_length * copies
    adam_steps = members * config.unroll_length

    def run_meta():
        nonlocal state
        state, _ = trainer.outer_step(state)
        jax.block_until_ready(state.theta)

    def run_adam():
        jax.block_until_ready([f(members_of(g)) for f, g in zip(adam, state.pool)])

    print(
        f"config {config_path}: {config.num_tasks} tasks x {config.members_per_task} members, "
        f"segments of {config.unroll_length} steps, estimator {config.estimator}"
    )
    print(f"devices: {jax.devices()}")
    for name, fn in (("meta-training", run_meta), ("plain Adam", run_adam)):
        start = time.perf_counter()
        fn()
        print(f"compile + first call, {name}: {time.perf_counter() - start:.1f} s")
    times = {"meta": [], "adam": []}
    for _ in range(repeats):  # alternate, so both see the same machine load
        for name, fn in (("meta", run_meta), ("adam", run_adam)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    meta_s, adam_s = statistics.median(times["meta"]), statistics.median(times["adam"])
    meta_rate, adam_rate = meta_steps / meta_s, adam_steps / adam_s
    print(f"\n{'':<16}{'median s/call':>14}{'inner steps/call':>18}{'inner steps/s':>15}")
    print(f"{'meta-training':<16}{meta_s:>14.4f}{meta_steps:>18}{meta_rate:>15.0f}")
    print(f"{'plain Adam':<16}{adam_s:>14.4f}{adam_steps:>18}{adam_rate:>15.0f}")
    print(
        f"\nratio meta-training / plain Adam, inner steps per second: {meta_rate / adam_rate:.3f}"
    )
    print(
        f"(each outer step costs {meta_s / adam_s:.2f}x one Adam segment of the population; "
        f"medians of {repeats})"
    )
    return 0

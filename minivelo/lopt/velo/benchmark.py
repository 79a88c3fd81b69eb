"""``python -m minivelo velo-bench``: VeLO's step time next to Adam's, its memory, its compile.

**Step time.** For MLPs of the given sizes and each VeLO preset (``small``: LSTM 32, 16
banks; ``published``: LSTM 512, 256 banks), a jitted step (update + apply, params and
state donated) of ``minivelo.velo`` and of ``optax.adam`` runs alternately on the same
gradients, so both see the same machine load. After two warm-up rounds (compilation,
first touch of memory) every step is timed to ``jax.block_until_ready``; the table gives
the median of ``repeats`` steps of each, their ratio, and XLA's temporary memory
(``compiled.memory_analysis().temp_size_in_bytes``) per parameter.

**Compilation.** For one model and preset, the VeLO update is compiled two ways: with the
meta-parameters closed over (so XLA embeds them in the program as constants: what
``minivelo.velo`` did before its weights became data) and with them as a jit argument
(what ``minivelo.velo`` does now: they live in the optax state). The report gives each
compile time, the program size (bytes of the lowered StableHLO text) and, for the data
path, whether a second weight set of the same preset reused the compilation.

**Where the time goes** (``--profile``). For the largest size and the first preset,
:func:`profile_step` records a few steps with ``jax.profiler`` and lists the compiled
program's operations (XLA's fusions, by name) by their time per step, so a change to
:mod:`.fused` can be aimed at what costs, and checked against it.

Default sizes: 10M and 100M parameters on an accelerator; 1M and 10M on a CPU (minutes).
The command line (:mod:`minivelo.cli`) calls :func:`run_velo_bench`.
"""

from __future__ import annotations

import collections
import datetime
import gzip
import json
import pathlib
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.lopt.velo import fused, reference
from minivelo.lopt.velo.optimizer import velo
from minivelo.lopt.velo.params import init_meta_params
from minivelo.lopt.velo.state import init_state

PRESETS = ("small", "published")
CPU_SIZES = (1_000_000, 10_000_000)
ACCELERATOR_SIZES = (10_000_000, 100_000_000)
NUM_STEPS = 10_000  # VeLO's horizon in the benchmark (its value does not change the cost)


def default_sizes() -> tuple[int, ...]:
    """Parameter counts to time: 10M and 100M on an accelerator, 1M and 10M on a CPU."""
    return CPU_SIZES if jax.default_backend() == "cpu" else ACCELERATOR_SIZES


def mlp_params(num_params: int, key: jax.Array, depth: int = 3) -> dict:
    """An MLP of ``depth`` square layers (weights and biases) with ~``num_params``."""
    width = max(1, int(round((num_params / depth) ** 0.5)))
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


def _problem(num_params: int):
    key = jax.random.PRNGKey(0)
    params = mlp_params(num_params, key)
    grads = jax.tree.map(lambda p: 1e-3 * jax.random.normal(key, p.shape), params)
    return params, grads, jnp.float32(1.0)


def measure(num_params: int, repeats: int, theta, implementation: str = "fused") -> dict:
    """Median step times of VeLO (weights ``theta``) and Adam on an MLP of ~``num_params``."""
    params, grads, loss = _problem(num_params)
    count = sum(p.size for p in jax.tree.leaves(params))

    velo_tx = velo(NUM_STEPS, weights=theta, implementation=implementation)
    adam_tx = optax.adam(1e-3)
    velo_step, adam_step = _step_fn(velo_tx), _step_fn(adam_tx)
    velo_params, velo_state = jax.tree.map(jnp.copy, params), velo_tx.init(params)
    adam_params, adam_state = jax.tree.map(jnp.copy, params), adam_tx.init(params)

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


def profile_step(num_params: int, theta, steps: int = 5, implementation: str = "fused") -> list:
    """``[(operation, ms per step, calls per step)]`` of one jitted VeLO step, costliest first.

    Runs ``steps`` donated steps under ``jax.profiler.trace`` (after two warm-up steps) and
    sums, by operation, the durations of the trace's events that XLA tags with the HLO
    operation they ran (``args.hlo_op``); Python frames and the runtime's own events (argument
    parsing, buffer allocation, executor bookkeeping) carry no such tag and are left out.
    """
    params, grads, loss = _problem(num_params)
    tx = velo(NUM_STEPS, weights=theta, implementation=implementation)
    step = _step_fn(tx)
    params, state = jax.tree.map(jnp.copy, params), tx.init(params)
    for _ in range(2):
        params, state = jax.block_until_ready(step(params, state, grads, loss))
    with tempfile.TemporaryDirectory(prefix="velo-profile-") as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for _ in range(steps):
                params, state = jax.block_until_ready(step(params, state, grads, loss))
        traces = sorted(pathlib.Path(folder).rglob("*.trace.json.gz"))
        if not traces:
            raise RuntimeError(f"jax.profiler wrote no trace under {folder}")
        events = json.loads(gzip.decompress(traces[-1].read_bytes()))
    events = events["traceEvents"] if isinstance(events, dict) else events
    total, count = collections.defaultdict(float), collections.Counter()
    for event in events:
        name = (event.get("args") or {}).get("hlo_op")
        if event.get("ph") != "X" or not name:
            continue
        total[name] += event.get("dur", 0.0) / 1e3  # microseconds -> ms
        count[name] += 1
    rows = [(name, ms / steps, count[name] / steps) for name, ms in total.items()]
    return sorted(rows, key=lambda row: -row[1])


def measure_compilation(num_params: int, preset: str, implementation: str = "fused") -> dict:
    """Compile time and program size of one VeLO update, weights as constants vs as data.

    Constants: ``jit(lambda state, ...: update(theta, state, ...))`` closes over ``theta``.
    Data: ``jit(lambda theta, state, ...: update(theta, state, ...))``; a second weight
    set of the same preset is then run through it and the compilations counted.
    """
    update = {"fused": fused.update, "reference": reference.update}[implementation]
    params, grads, loss = _problem(num_params)
    theta = init_meta_params(jax.random.PRNGKey(0), preset)
    other = init_meta_params(jax.random.PRNGKey(1), preset)
    state = init_state(params, theta)

    def compile_(fn, *args):
        start = time.perf_counter()
        lowered = fn.lower(*args)
        compiled = lowered.compile()
        return compiled, time.perf_counter() - start, len(lowered.as_text().encode())

    as_constants = jax.jit(lambda s, g, p, l: update(theta, s, g, p, l, NUM_STEPS)[:2])
    _, constants_s, constants_bytes = compile_(as_constants, state, grads, params, loss)
    as_data = jax.jit(lambda th, s, g, p, l: update(th, s, g, p, l, NUM_STEPS)[:2])
    _, data_s, data_bytes = compile_(as_data, theta, state, grads, params, loss)
    for weights in (theta, other):  # two weight sets through the one jitted function
        jax.block_until_ready(as_data(weights, state, grads, params, loss))
    return {
        "preset": preset,
        "num_params": sum(p.size for p in jax.tree.leaves(params)),
        "constants_compile_s": constants_s,
        "constants_program_bytes": constants_bytes,
        "data_compile_s": data_s,
        "data_program_bytes": data_bytes,
        "data_compilations_for_two_weight_sets": as_data._cache_size(),
    }


def run_velo_bench(
    sizes=None,
    repeats: int = 20,
    implementation: str = "fused",
    presets=PRESETS,
    compile_size: int | None = 1_000_000,
    profile: bool = False,
    top: int = 15,
) -> int:
    """Print the compilation report (unless ``compile_size`` is None), the step table and,
    with ``profile``, the ``top`` costliest operations of one step (:func:`profile_step`)."""
    sizes = default_sizes() if sizes is None else tuple(int(s) for s in sizes)
    unknown = [p for p in presets if p not in ("tiny", "small", "published")]
    if unknown:
        raise ValueError(f"unknown VeLO preset {unknown[0]!r}; use small, published or tiny")
    device = jax.devices()[0]
    print(
        f"{datetime.date.today()}  backend {jax.default_backend()}, device {device.device_kind}"
        f" x{jax.device_count()}, implementation {implementation}, median of {repeats} steps"
    )
    if compile_size is not None:
        print(f"\none VeLO update ({int(compile_size):,} params): compile time, program size")
        print(f"{'preset':<10} {'weights':<24} {'compile s':>9} {'program bytes':>14}")
        for preset in presets:
            c = measure_compilation(int(compile_size), preset, implementation)
            print(
                f"{preset:<10} {'as constants (before)':<24} {c['constants_compile_s']:>9.2f} "
                f"{c['constants_program_bytes']:>14,}\n"
                f"{preset:<10} {'as data (now)':<24} {c['data_compile_s']:>9.2f} "
                f"{c['data_program_bytes']:>14,}   compilations for two weight sets: "
                f"{c['data_compilations_for_two_weight_sets']}",
                flush=True,
            )
    print(f"\n{'preset':<10} {'params':>12} {'adam ms':>9} {'velo ms':>9} {'ratio':>7} ", end="")
    print(f"{'temp B/param (update)':>22} {'(update+apply)':>15}")
    counts = {}  # requested size -> the MLP's actual parameter count
    for preset in presets:
        # Random weights time the same as trained ones.
        theta = init_meta_params(jax.random.PRNGKey(0), preset)
        for size in sizes:
            r = measure(int(size), repeats, theta, implementation)
            counts[size] = r["num_params"]
            print(
                f"{preset:<10} {r['num_params']:>12,} {1e3 * r['adam_s']:>9.2f} "
                f"{1e3 * r['velo_s']:>9.2f} {r['ratio']:>6.1f}x "
                f"{r['update_temp_bytes_per_param']:>22.2f} "
                f"{r['step_temp_bytes_per_param']:>15.2f}",
                flush=True,
            )
    if profile:
        size, preset = max(sizes), presets[0]
        theta = init_meta_params(jax.random.PRNGKey(0), preset)
        rows = profile_step(size, theta, implementation=implementation)
        step_ms = sum(ms for _, ms, _ in rows)
        print(f"\nwhere the time goes: {preset}, {counts[size]:,} params, one step =")
        print(f"{step_ms:.2f} ms of operations (XLA's names; some may run at once on 2+ cores)")
        print(f"{'ms/step':>9} {'share':>6} {'calls':>6}  operation")
        for name, ms, calls in rows[:top]:
            print(f"{ms:>9.2f} {ms / step_ms:>6.1%} {calls:>6.0f}  {name[:70]}")
    return 0

"""The fused VeLO update equals the plain reference, and stays lean in memory."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from velo_goldens import Golden, assert_state_close, assert_steps_close

import minivelo
from minivelo.lopt.velo import fused, reference
from minivelo.lopt.velo.params import init_meta_params
from minivelo.lopt.velo.state import init_state

SHAPES = {
    "scalar": (),
    "vector": (7,),
    "row": (1, 9),
    "square": (4, 4),
    "matrix": (6, 11),
    "unit_axis": (5, 1, 3),
    "conv": (3, 3, 2, 4),
    "rank5": (2, 3, 2, 3, 2),
}


def _random_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s).astype(np.float32) * 0.3 for k, s in SHAPES.items()}
    grads = [
        {k: rng.normal(size=s).astype(np.float32) * 0.1 for k, s in SHAPES.items()}
        for _ in range(4)
    ]
    return params, grads


def _assert_close(mine, ref, name):
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    error = float(np.max(np.abs(np.asarray(mine) - np.asarray(ref))))
    assert error <= 1e-4 * scale + 1e-12, f"{name}: {error} vs scale {scale}"


def _assert_fused_follows_reference(seed: int, params, grads):
    """Both updates, teacher-forced from the reference's state and params, step by step."""
    theta = init_meta_params(jax.random.PRNGKey(seed), "tiny")
    # Raise the step-size bias so that steps are large enough to compare sharply.
    theta["rnn_params"]["step_size"]["b"] = jnp.full((1,), 30.0)
    ref_update = jax.jit(reference.update, static_argnums=5)
    fused_update = jax.jit(fused.update, static_argnums=5)
    state = init_state(params, theta)
    for i, g in enumerate(grads):
        loss = 2.0 - 0.3 * i
        ref_steps, ref_state, ref_trace = ref_update(theta, state, g, params, loss, 10)
        steps, new_state, trace = fused_update(theta, state, g, params, loss, 10)
        for key in ("lstm_inputs", "controls", "lr_mult"):
            np.testing.assert_allclose(trace[key], ref_trace[key], rtol=1e-4, atol=1e-5)
        for name in SHAPES:
            _assert_close(steps[name], ref_steps[name], f"update {i} {name}")
        for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(ref_state), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        state = ref_state
        params = jax.tree.map(lambda p, s: p - s, params, ref_steps)


def test_fused_equals_reference_step_by_step():
    _assert_fused_follows_reference(3, *_random_problem())


def test_fused_equals_reference_when_gradients_are_clipped():
    """Gradient entries beyond +-1000: both implementations clip them alike."""
    params, grads = _random_problem(seed=1)
    rng = np.random.default_rng(2)
    far = lambda x: np.where(rng.random(np.shape(x)) < 0.3, 5e3 * np.sign(x), x).astype(np.float32)
    grads = [{k: far(x) for k, x in g.items()} for g in grads]  # a third far beyond the clip
    _assert_fused_follows_reference(4, params, grads)


@pytest.mark.parametrize("name", ["golden_tiny", "golden_a"])
def test_fused_matches_published(name):
    golden = Golden(name)
    update = jax.jit(fused.update, static_argnums=5)
    state = init_state(golden.tree(0, "params_before"), golden.theta)
    for i in range(golden.num_updates):
        steps, state, trace = update(
            golden.theta,
            state,
            golden.tree(i, "grads"),
            golden.tree(i, "params_before"),
            golden.loss(i),
            golden.num_steps,
        )
        assert_steps_close(steps, golden, i)
        assert_state_close(state, golden, i)
        for key in ("lstm_inputs", "controls", "lr_mult"):
            np.testing.assert_allclose(trace[key], golden.trace(i, key), rtol=1e-4, atol=1e-5)


def test_statistics_accurate_for_nearly_constant_tensors():
    """var(m) of values 5 +- 1e-4 (1e-8): E[x^2] - E[x]^2 would lose it all in float32."""
    theta = init_meta_params(jax.random.PRNGKey(0), "tiny")
    rng = np.random.default_rng(1)
    shape = (64, 48)
    # Small parameters: the inverse scale 1/rms(p) ~ 1e3 lifts var(m n) to ~1e-2.
    params = {"w": (1e-3 * rng.normal(size=shape)).astype(np.float32)}
    state = init_state(params, theta)
    momentum = (5.0 + 1e-4 * rng.normal(size=(3,) + shape)).astype(np.float32)
    second_moment = (2.0 + 1e-4 * rng.normal(size=shape)).astype(np.float32)
    state = state._replace(momentum=(jnp.asarray(momentum),), second_moment=(second_moment,))
    grads = {"w": np.zeros(shape, np.float32)}
    _, _, trace = jax.jit(fused.update, static_argnums=5)(theta, state, grads, params, 1.0, 10)
    # float64 oracle for columns 24-29
    p64, m64, v64 = (np.asarray(x, np.float64) for x in (params["w"], momentum, second_moment))
    inv_scale = 1.0 / np.sqrt(np.mean(p64**2))
    cla = lambda x: 0.5 * np.clip(np.log(1e-8 + np.abs(10 * x)), -5, 5)
    var_m = np.var(m64 * inv_scale, axis=(1, 2))
    mean_m = np.mean(m64 * inv_scale, axis=(1, 2))
    quirk = np.array([np.mean((v64 * inv_scale - mu) ** 2) for mu in mean_m])
    expected = np.concatenate([cla(var_m), cla(quirk)])
    np.testing.assert_allclose(trace["lstm_inputs"][0, 24:30], expected, atol=2e-3)
    assert np.all(expected[:3] > -2.4)  # the variances are resolved, not clipped at 0


def test_fused_update_temporaries_stay_small():
    """XLA's temporary memory for one jitted, donated update, per parameter (no timing)."""
    theta = init_meta_params(jax.random.PRNGKey(0), "published")
    width = 400
    params = {f"layer{i}": {"w": jnp.ones((width, width)), "b": jnp.zeros(width)} for i in range(3)}
    num_params = sum(p.size for p in jax.tree.leaves(params))
    tx = minivelo.velo(1000, weights=theta)
    state = tx.init(params)

    def step(params, state, grads, loss):
        updates, state = tx.update(grads, state, params, loss=loss)
        return optax.apply_updates(params, updates), state

    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, params, 1.0).compile()
    temp_per_param = compiled.memory_analysis().temp_size_in_bytes / num_params
    assert temp_per_param <= 8.0, f"{temp_per_param:.1f} bytes/param of XLA temporaries"


def test_tensor_sums_stay_accurate_over_millions_of_equal_terms():
    """A single sequential float32 accumulation of 3M x 0.1 drifts by ~9%; ours must not."""
    x = jnp.full((3000, 1000), 0.1, jnp.float32)
    sum_x, sum_x2 = jax.jit(lambda x: fused._sums([x, x * x]))(x)
    tenth = float(np.float32(0.1))
    assert float(sum_x) == pytest.approx(tenth * x.size, rel=1e-4)
    assert float(sum_x2) == pytest.approx(float(np.float32(tenth * tenth)) * x.size, rel=1e-4)


def test_velo_bench_code_path_on_tiny_sizes(capsys):
    """velo-bench's GPU path, run on CPU at a tiny size: timings, compile report, table."""
    from minivelo.lopt.velo import benchmark

    c = benchmark.measure_compilation(2_000, "tiny")
    assert c["data_compilations_for_two_weight_sets"] == 1
    # Closed over, theta is in the program as hex text (8 characters per float32).
    num_meta = sum(
        np.size(w) for w in jax.tree.leaves(init_meta_params(jax.random.PRNGKey(0), "tiny"))
    )
    assert c["constants_program_bytes"] - c["data_program_bytes"] > 0.5 * 8 * num_meta
    assert c["constants_compile_s"] > 0 and c["data_compile_s"] > 0

    assert benchmark.run_velo_bench([2_000], 2, presets=("tiny",), compile_size=None) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("tiny "))
    assert row[1] == "2,106"  # 3 layers of width 26, with biases
    adam_ms, velo_ms, ratio = float(row[2]), float(row[3]), float(row[4].rstrip("x"))
    assert adam_ms > 0 and velo_ms > 0 and ratio > 0
    assert benchmark.default_sizes() == benchmark.CPU_SIZES
    with pytest.raises(ValueError, match="unknown VeLO preset"):
        benchmark.run_velo_bench([2_000], 2, presets=("huge",))


def test_velo_bench_profile_lists_the_programs_operations(capsys):
    """velo-bench --profile: the compiled step's operations by time, no Python frames."""
    from minivelo.lopt.velo import benchmark

    theta = init_meta_params(jax.random.PRNGKey(0), "tiny")
    rows = benchmark.profile_step(2_000, theta, steps=2)
    assert rows, "the trace held no operations"
    times = [ms for _, ms, _ in rows]
    assert times == sorted(times, reverse=True) and min(times) >= 0
    names = [name for name, _, _ in rows]
    assert not any(name.startswith(("$", "end:")) for name in names)  # Python, markers: out
    assert "ParseArguments" not in names  # the runtime's own events are left out
    assert any("fusion" in name for name in names)  # XLA's fused operations are in

    assert (
        benchmark.run_velo_bench([2_000], 2, presets=("tiny",), compile_size=None, profile=True)
        == 0
    )
    out = capsys.readouterr().out
    assert "where the time goes: tiny, 2,106 params" in out  # as in the table above it

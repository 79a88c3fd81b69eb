"""minivelo.velo as an optax transformation: API, jit, nnx, errors, edge cases."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from velo_goldens import BUNDLES, Golden, assert_steps_close

import minivelo
from minivelo.lopt.velo import checkpoint, optimizer, reference
from minivelo.lopt.velo.params import init_meta_params
from minivelo.lopt.velo.state import init_state

TINY = BUNDLES["golden_tiny"] / "meta_params.npz"


@pytest.fixture(scope="module")
def theta():
    return init_meta_params(jax.random.PRNGKey(0), "tiny")


def _params():
    return {"w": jnp.full((4, 3), 0.5), "b": jnp.linspace(-1.0, 1.0, 3)}


def _loss(params):
    return jnp.sum((params["w"] @ jnp.ones(3) - 1.0) ** 2) + jnp.sum(params["b"] ** 2)


@pytest.mark.parametrize("implementation", ["fused", "reference"])
def test_optax_loop_reproduces_published_steps(implementation):
    golden = Golden("golden_tiny")
    tx = minivelo.velo(golden.num_steps, weights=TINY, implementation=implementation)
    assert isinstance(tx, optax.GradientTransformationExtraArgs)
    state = tx.init(golden.tree(0, "params_before"))
    update = jax.jit(tx.update)
    for i in range(golden.num_updates):
        params = golden.tree(i, "params_before")
        updates, state = update(golden.tree(i, "grads"), state, params, loss=golden.loss(i))
        assert_steps_close(jax.tree.map(jnp.negative, updates), golden, i)
    assert int(state.num_skipped) == 0


def test_trains_under_jit_in_a_plain_optax_loop(theta):
    tx = minivelo.velo(50, weights=theta)
    params, state = _params(), tx.init(_params())

    @functools.partial(jax.jit, donate_argnums=(0, 1))  # donated state: no shared buffers
    def step(params, state):
        loss, grads = jax.value_and_grad(_loss)(params)
        updates, state = tx.update(grads, state, params, loss=loss)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(5):
        params, state, loss = step(params, state)
    assert int(state.velo.iteration) == 5
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))
    assert not np.allclose(params["w"], _params()["w"])


def test_works_with_flax_nnx_optimizer(theta):
    from flax import nnx

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    x, y = jnp.ones((5, 3)), jnp.zeros((5, 2))
    tx = minivelo.velo(20, weights=theta)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    before = nnx.state(model, nnx.Param)
    before = jax.tree.map(jnp.copy, nnx.to_pure_dict(before))

    def loss_fn(model):
        return jnp.mean((model(x) - y) ** 2)

    @nnx.jit
    def train_step(model, opt):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        opt.update(model, grads, loss=loss)
        return loss

    for _ in range(3):
        train_step(model, opt)
    after = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    # The same three updates through plain optax give the same parameters.
    params, state = before, tx.init(before)
    for _ in range(3):
        loss, grads = jax.value_and_grad(
            lambda p: jnp.mean((x @ p["kernel"] + p["bias"] - y) ** 2)
        )(params)
        updates, state = tx.update(grads, state, params, loss=loss)
        params = optax.apply_updates(params, updates)
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not np.allclose(after["kernel"], before["kernel"])


# ---------------------------------------------------------------- errors
def test_missing_loss_or_params_is_a_clear_error(theta):
    tx = minivelo.velo(10, weights=theta)
    params = _params()
    state = tx.init(params)
    with pytest.raises(ValueError, match="needs the training loss"):
        tx.update(params, state, params)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(params, state, None, loss=1.0)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.init(None)


def test_non_float_parameters_are_rejected(theta):
    tx = minivelo.velo(10, weights=theta)
    with pytest.raises(TypeError, match=r"\['count'\].*int32"):
        tx.init({"w": jnp.ones(3), "count": jnp.zeros(2, jnp.int32)})


def test_weights_that_do_not_fit_name_the_tensor_and_both_shapes(theta):
    bad = jax.tree.map(lambda x: x, theta)
    bad["rnn_params"]["linear_2"]["w"] = jnp.zeros((30, 17))
    with pytest.raises(ValueError, match=r"rnn_params/linear_2/w.*\(30, 17\).*\(30, 16\)"):
        minivelo.velo(10, weights=bad)
    missing = {k: v for k, v in theta.items() if k != "ff_mod_stack"}
    with pytest.raises(ValueError, match="lack tensor 'ff_mod_stack/~/b0'"):
        minivelo.velo(10, weights=missing)
    with pytest.raises(FileNotFoundError, match="not found"):
        minivelo.velo(10, weights="/nonexistent/params")


def test_no_weights_without_shipped_weights_says_how(tmp_path, monkeypatch):
    monkeypatch.setattr(optimizer, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match="ships no trained VeLO weights.*weights="):
        minivelo.velo(10)


@pytest.mark.parametrize("name", optimizer.SHIPPED_WEIGHTS)
def test_shipped_weights_are_used_when_present(tmp_path, monkeypatch, theta, name):
    monkeypatch.setattr(optimizer, "WEIGHTS_DIR", tmp_path)
    if name.endswith(".npz"):
        np.savez(tmp_path / name, **checkpoint.flatten(theta))
    else:
        checkpoint.save(tmp_path / name, theta)
    tx = minivelo.velo(10)
    state = tx.init(_params())
    assert state.velo.lstm_hidden.shape == (2, 16)


# ---------------------------------------------------------------- edge cases
@pytest.mark.parametrize("bad", ["grad_nan", "grad_inf", "loss_nan", "loss_inf"])
def test_non_finite_loss_or_gradient_skips_the_update(theta, bad):
    tx = minivelo.velo(10, weights=theta)
    params = _params()
    state = tx.init(params)
    loss, grads = jax.value_and_grad(_loss)(params)
    _, state = tx.update(grads, state, params, loss=loss)  # one normal update first
    if bad.startswith("grad"):
        value = np.nan if bad == "grad_nan" else np.inf
        grads = {"w": grads["w"].at[1, 2].set(value), "b": grads["b"]}
    else:
        loss = jnp.nan if bad == "loss_nan" else jnp.inf
    updates, new_state = jax.jit(tx.update)(grads, state, params, loss=loss)
    assert all(np.all(u == 0) for u in jax.tree.leaves(updates))
    assert int(new_state.num_skipped) == 1
    for a, b in zip(jax.tree.leaves(new_state.velo), jax.tree.leaves(state.velo), strict=True):
        np.testing.assert_array_equal(a, b)


def test_past_num_steps_keeps_going_uncapped(theta):
    """Published behaviour: fraction_trained = t / N is not capped at 1."""
    params = _params()
    state = init_state(params, theta)
    grads = jax.grad(_loss)(params)
    update = jax.jit(reference.update, static_argnums=5)
    for t in range(5):
        steps, state, trace = update(theta, state, grads, params, 1.0, 2)
        assert float(trace["fraction_trained"]) == pytest.approx(t / 2)
        assert all(np.all(np.isfinite(s)) for s in jax.tree.leaves(steps))
    expected = np.tanh(10 * (2.0 - np.array([0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1])))
    np.testing.assert_allclose(trace["lstm_inputs"][0, :9], expected, rtol=1e-6)
    tx = minivelo.velo(2, weights=theta)
    opt_state = tx.init(params)
    tx_update = jax.jit(tx.update)
    for _ in range(4):
        updates, opt_state = tx_update(grads, opt_state, params, loss=1.0)
    assert int(opt_state.velo.iteration) == 4
    assert all(np.all(np.isfinite(u)) for u in jax.tree.leaves(updates))


def test_weight_decay_adds_to_gradient_and_loss(theta):
    decay = 0.1
    tx = minivelo.velo(10, weights=theta, weight_decay=decay, implementation="reference")
    params = _params()
    loss, grads = jax.value_and_grad(_loss)(params)
    updates, _ = tx.update(grads, tx.init(params), params, loss=loss)
    decayed = jax.tree.map(lambda g, p: g + decay * p, grads, params)
    decayed_loss = loss + decay * sum(jnp.sum(p * p) for p in jax.tree.leaves(params))
    steps, _, _ = reference.update(
        theta, init_state(params, theta), decayed, params, decayed_loss, 10
    )
    for u, s in zip(jax.tree.leaves(updates), jax.tree.leaves(steps), strict=True):
        np.testing.assert_allclose(u, -s, rtol=1e-6, atol=1e-9)


def test_long_runs_accumulate_gradients(theta):
    """num_steps = 300,001 > 150k: k = 3 calls per VeLO step, horizon 300,001 // 3."""
    tx = minivelo.velo(300_001, weights=theta, implementation="reference")
    params = _params()
    state = tx.init(params)
    rng = np.random.default_rng(0)
    grads = [
        jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
        for _ in range(3)
    ]
    losses = [1.0, 2.0, 4.0]
    for i in range(3):
        updates, state = tx.update(grads[i], state, params, loss=losses[i])
        if i < 2:
            assert all(np.all(u == 0) for u in jax.tree.leaves(updates))
            assert int(state.velo.iteration) == 0
    mean_grads = jax.tree.map(lambda *g: sum(g) / 3, *grads)
    steps, _, _ = reference.update(
        theta, init_state(params, theta), mean_grads, params, sum(losses) / 3, 100_000
    )
    for u, s in zip(jax.tree.leaves(updates), jax.tree.leaves(steps), strict=True):
        np.testing.assert_allclose(u, -s, rtol=1e-5, atol=1e-9)
    assert int(state.velo.iteration) == 1 and int(state.num_accumulated) == 0


def test_bfloat16_parameters_get_bfloat16_updates(theta):
    tx = minivelo.velo(10, weights=theta)
    params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), _params())
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params, loss=1.0)
    assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))


def test_two_weight_sets_of_one_preset_compile_once(theta):
    other = init_meta_params(jax.random.PRNGKey(1), "tiny")
    tx_a, tx_b = minivelo.velo(50, weights=theta), minivelo.velo(50, weights=other)
    params = _params()
    loss, grads = jax.value_and_grad(_loss)(params)

    @functools.partial(jax.jit, donate_argnums=(1,))
    def step(params, state):
        return tx_a.update(grads, state, params, loss=loss)

    updates_a, _ = step(params, tx_a.init(params))
    updates_b, _ = step(params, tx_b.init(params))  # tx_a's update, tx_b's weights
    updates_swapped, _ = step(params, optimizer.with_weights(tx_a.init(params), other))
    assert step._cache_size() == 1  # one trace and compilation for both weight sets
    for u, v in zip(jax.tree.leaves(updates_b), jax.tree.leaves(updates_swapped), strict=True):
        np.testing.assert_array_equal(u, v)
    for weights, updates in ((theta, updates_a), (other, updates_b)):
        steps, _, _ = reference.update(
            weights, init_state(params, weights), grads, params, loss, 50
        )
        for u, s in zip(jax.tree.leaves(updates), jax.tree.leaves(steps), strict=True):
            np.testing.assert_allclose(u, -s, rtol=1e-5, atol=1e-7)
    assert not np.allclose(updates_a["w"], updates_b["w"])  # the weights do matter

    # No meta-parameter is a constant of the program (as it is when the update closes
    # over theta: the control below finds the bytes of its tensors in the program text).
    def embedded(text):
        return [w for w in jax.tree.leaves(theta) if np.asarray(w).tobytes().hex().upper() in text]

    assert not embedded(step.lower(params, tx_a.init(params)).as_text())
    closure = jax.jit(lambda p: reference.update(theta, init_state(p, theta), grads, p, loss, 50))
    assert embedded(closure.lower(params).as_text())
    with pytest.raises(ValueError, match="holds weights of"):
        optimizer.with_weights(tx_a.init(params), init_meta_params(jax.random.PRNGKey(2), "small"))


# ---------------------------------------------------------------- arguments no one can mean
@pytest.mark.parametrize("num_steps", [2.7, 10.0, True, 0, -3, "10", None])
def test_num_steps_must_be_a_positive_integer(theta, num_steps):
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        minivelo.velo(num_steps, weights=theta)


@pytest.mark.parametrize("weight_decay", [-0.1, float("nan"), float("inf"), True, "0.1"])
def test_weight_decay_must_be_finite_and_non_negative(theta, weight_decay):
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        minivelo.velo(10, weights=theta, weight_decay=weight_decay)


def test_numpy_integers_are_fine(theta):
    tx = minivelo.velo(np.int64(10), weights=theta, weight_decay=np.float32(0.01))
    assert tx.init(_params()).velo.iteration == 0


def test_python_number_leaves_are_rejected_at_init_naming_the_leaf(theta):
    tx = minivelo.velo(10, weights=theta)
    with pytest.raises(TypeError, match=r"params\['scale'\] is a float .*jnp.asarray"):
        tx.init({**_params(), "scale": 0.5})
    params = _params()
    state = tx.init(params)
    with pytest.raises(TypeError, match=r"grads\['b'\] is a float"):
        tx.update({"w": params["w"], "b": 0.1}, state, params, loss=1.0)


def test_leaf_shapes_are_checked_against_grads_and_init_naming_the_leaf(theta):
    tx = minivelo.velo(10, weights=theta)
    params = _params()
    state = tx.init(params)
    grads = {"w": jnp.ones((3, 4)), "b": jnp.ones(3)}  # same structure, w transposed
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3, 4\) but params\['w'\]"):
        tx.update(grads, state, params, loss=1.0)
    other = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}  # not the shapes init saw
    with pytest.raises(ValueError, match=r"params\['w'\] has shape \(2, 3\).*init.*\(4, 3\)"):
        tx.update(other, state, other, loss=1.0)
    fewer = {"w": params["w"]}
    with pytest.raises(ValueError, match="made for 2 parameter tensors, got 1"):
        tx.update(fewer, state, fewer, loss=1.0)

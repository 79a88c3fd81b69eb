"""Non-finite gradients, hyperparameters no one can mean, and the one-way imports.

The module docstring of ``minivelo.optim`` promises: a NaN or inf gradient is never
hidden. The coordinate's update is non-finite at that step and, for optimizers with state,
at every later step; the other coordinates are unaffected.
"""

from __future__ import annotations

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minivelo import optim, second_order

OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.1),
    "nesterov": lambda: optim.momentum(0.1, nesterov=True),
    "adagrad": lambda: optim.adagrad(0.1),
    "adagrad_textbook_start": lambda: optim.adagrad(0.1, initial_accumulator_value=0.0),
    "adagrad_eps_outside": lambda: optim.adagrad(0.1, eps_in_sqrt=False),
    "rmsprop": lambda: optim.rmsprop(0.1),
    "adadelta": lambda: optim.adadelta(weight_decay=0.1),
    "adam": lambda: optim.adam(0.1),
    "adamw": lambda: optim.adamw(0.1, weight_decay=0.1),
    "nadam": lambda: optim.nadam(0.1),
    "adamax": lambda: optim.adamax(0.1),
    "lion": lambda: optim.lion(0.1, weight_decay=0.1),
    "lion_no_decay": lambda: optim.lion(0.1, weight_decay=0.0),
    "adahessian": lambda: optim.adahessian(0.1, weight_decay=0.1),
}
STATELESS = {"sgd"}
PARAMS = jnp.array([1.0, -2.0, 0.5])
GRADS = jnp.array([0.3, -0.7, 1.1])


def _update(opt, grads, state, hessian_diagonal=None):
    if isinstance(opt, optax.GradientTransformationExtraArgs) and "adahessian" in repr(opt.update):
        diagonal = grads if hessian_diagonal is None else hessian_diagonal
        return opt.update(grads, state, PARAMS, hessian_diagonal=diagonal)
    return opt.update(grads, state, PARAMS)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_non_finite_gradient_shows_in_that_coordinate_and_nowhere_else(name, bad):
    opt = OPTIMIZERS[name]()
    clean, _ = _update(opt, GRADS, opt.init(PARAMS))
    updates, state = _update(opt, GRADS.at[1].set(bad), opt.init(PARAMS))
    assert not np.isfinite(updates[1]), f"{name}: a {bad} gradient gave update {updates[1]}"
    np.testing.assert_allclose(updates[np.array([0, 2])], clean[np.array([0, 2])], rtol=1e-6)
    for _ in range(3):  # finite gradients afterwards: never a silent, finite step
        updates, state = _update(opt, GRADS, state)
        assert np.all(np.isfinite(updates[np.array([0, 2])]))
        if name in STATELESS:
            assert np.isfinite(updates[1])
        else:
            assert not np.isfinite(updates[1]), f"{name}: the coordinate went quiet: {updates}"


def test_adagrad_does_not_freeze_a_coordinate_after_a_nan_gradient():
    # the reproducer: our old adagrad returned 0 for ever after one NaN
    opt = optim.adagrad(0.1)
    state = opt.init(PARAMS)
    for grads in (GRADS.at[0].set(jnp.nan), GRADS, GRADS):
        updates, state = opt.update(grads, state)
        assert np.isnan(updates[0])


def test_adahessian_shows_an_infinite_hessian_diagonal():
    opt = optim.adahessian(0.1)
    diagonal = GRADS.at[2].set(jnp.inf)
    updates, state = opt.update(GRADS, opt.init(PARAMS), PARAMS, hessian_diagonal=diagonal)
    assert np.isnan(updates[2]) and np.all(np.isfinite(updates[:2]))


def test_finite_gradients_still_match_optax_where_optax_hides_non_finite_values():
    # the two deliberate differences (adagrad, lion) change nothing for finite inputs
    for mine, theirs in (
        (optim.adagrad(0.1), optax.adagrad(0.1)),
        (optim.lion(0.1, weight_decay=0.1), optax.lion(0.1, weight_decay=0.1)),
    ):
        s1, s2 = mine.init(PARAMS), theirs.init(PARAMS)
        for k in range(5):
            grads = GRADS * (k - 2.0)  # includes an all-zero gradient
            u1, s1 = mine.update(grads, s1, PARAMS)
            u2, s2 = theirs.update(grads, s2, PARAMS)
            np.testing.assert_allclose(u1, u2, rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Hyperparameters no one can mean
# ---------------------------------------------------------------------------------------

BAD_HYPERPARAMETERS = [
    (optim.momentum, {"beta": 1.5}, "beta must be in \\[0, 1\\)"),
    (optim.momentum, {"beta": -0.1}, "beta must be in \\[0, 1\\)"),
    (optim.momentum, {"beta": True}, "beta must be a number"),
    (optim.adagrad, {"eps": -1.0}, "eps must be a finite number >= 0"),
    (optim.adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    (optim.rmsprop, {"decay": -1.0}, "decay must be in \\[0, 1\\)"),
    (optim.rmsprop, {"decay": 1.0}, "decay must be in \\[0, 1\\)"),
    (optim.adadelta, {"rho": 2.0}, "rho must be in \\[0, 1\\)"),
    (optim.adadelta, {"weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
    (optim.adam, {"b1": 1.5}, "adam: b1 must be in \\[0, 1\\)"),
    (optim.adam, {"b2": 1.0}, "adam: b2 must be in \\[0, 1\\)"),
    (optim.adam, {"eps": -1.0}, "adam: eps must be a finite number >= 0"),
    (optim.adam, {"b1": float("nan")}, "adam: b1 must be in \\[0, 1\\)"),
    (optim.adam, {"eps": "1e-8"}, "adam: eps must be a number"),
    (optim.adamw, {"weight_decay": -1.0}, "adamw: weight_decay must be a finite number >= 0"),
    (optim.nadam, {"b2": 2.0}, "nadam: b2"),
    (optim.adamax, {"b1": -0.5}, "adamax: b1"),
    (optim.lion, {"b1": 2.0}, "lion: b1 must be in \\[0, 1\\)"),
    (optim.lion, {"b2": -1.0}, "lion: b2"),
    (optim.lion, {"weight_decay": -1.0}, "lion: weight_decay"),
    (optim.adahessian, {"b1": 1.0}, "adahessian: b1"),
    (optim.adahessian, {"eps": -1.0}, "adahessian: eps"),
    (optim.adahessian, {"weight_decay": -1.0}, "adahessian: weight_decay"),
    (optim.adahessian, {"hessian_power": 1.5}, "adahessian: hessian_power must be in \\[0, 1\\]"),
]


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    BAD_HYPERPARAMETERS,
    ids=[
        f"{make.__name__}-{next(iter(kw))}={next(iter(kw.values()))}"
        for make, kw, _ in BAD_HYPERPARAMETERS
    ],
)
def test_values_no_one_can_mean_are_refused(make, kwargs, message):
    learning_rate = {} if make is optim.adadelta else {"learning_rate": 0.1}
    with pytest.raises(ValueError, match=message):
        make(**learning_rate, **kwargs)


@pytest.mark.parametrize("learning_rate", [float("nan"), float("inf"), "0.1", None])
def test_a_learning_rate_must_be_a_finite_number_or_a_schedule(learning_rate):
    with pytest.raises(ValueError, match="sgd: learning_rate must be"):
        optim.sgd(learning_rate)


def test_values_optax_also_allows_are_accepted():
    # a negative learning rate ascends (as in optax); zero coefficients are meaningful
    optim.sgd(-0.1)
    optim.adam(optax.constant_schedule(1e-3), b1=0.0, eps=0.0)
    optim.momentum(0.1, beta=0.0)
    optim.lion(0.1, weight_decay=0)
    optim.adam(jnp.asarray(1e-3), b1=np.float32(0.9))  # numpy / jax scalars


def test_a_traced_hyperparameter_is_not_inspected():
    # lesson 13 vmaps Lion over its weight decay: the check must not touch tracers
    def first_update(weight_decay):
        opt = optim.lion(0.1, weight_decay=weight_decay)
        return opt.update(GRADS, opt.init(PARAMS), PARAMS)[0]

    updates = jax.vmap(first_update)(jnp.array([0.0, 0.5]))
    np.testing.assert_allclose(updates[1] - updates[0], -0.1 * 0.5 * PARAMS, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Imports run one way: optim -> second_order -> _optim_common
# ---------------------------------------------------------------------------------------


def _imported_modules(module) -> set[str]:
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_second_order_does_not_import_optim():
    assert "minivelo.optim" not in _imported_modules(second_order)
    assert "minivelo.second_order" in _imported_modules(optim)
    assert optim.adahessian is second_order.adahessian

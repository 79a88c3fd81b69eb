"""The one interface meta-training needs from a learned optimizer, and adapters to it.

A learned optimizer is a family of update rules indexed by meta-parameters :math:`\\theta`.
Meta-training perturbs and differentiates :math:`\\theta`, so it needs the update rule as a
*pure function of* :math:`\\theta`, not an optax transform with :math:`\\theta` baked in::

    lopt = learned_optimizers.build({"kind": "mlp"}, num_steps=500)
    theta = lopt.init_meta_params(key)
    state = lopt.init(theta, params)
    updates, state = lopt.update(theta, grads, state, params, loss)   # params + updates

``num_steps`` (the inner training horizon :math:`N`) is fixed when the optimizer is built,
since both the per-parameter MLP and VeLO read the fraction trained :math:`t/N`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from minivelo.lopt import mlp_lopt

PyTree = Any


class LearnedOptimizer(NamedTuple):
    name: str
    init_meta_params: Callable[[jax.Array], PyTree]
    init: Callable[[PyTree, PyTree], PyTree]  # (theta, params) -> state
    update: Callable[..., tuple[PyTree, PyTree]]  # (theta, grads, state, params, loss)
    config: dict  # the settings it was built from (saved with checkpoints)


def mlp(num_steps: int, **settings) -> LearnedOptimizer:
    """The per-parameter MLP optimizer of :mod:`minivelo.lopt.mlp_lopt`."""
    config = mlp_lopt.MLPLOptConfig.from_dict(settings)

    def update(theta, grads, state, params, loss):
        del loss
        return mlp_lopt.update(theta, grads, state, params, num_steps, config)

    return LearnedOptimizer(
        name="mlp",
        init_meta_params=lambda key: mlp_lopt.init_meta_params(key, config),
        init=lambda theta, params: mlp_lopt.init_state(params, config),
        update=update,
        config={"kind": "mlp", **config.to_dict()},
    )


def velo(num_steps: int, preset: str = "small", implementation: str = "fused") -> LearnedOptimizer:
    """VeLO (:mod:`minivelo.lopt.velo`) at a preset size, through its functional update.

    Uses ``fused.update`` (or ``reference.update``; they are equal) ``(theta, state, grads,
    params, loss, num_steps) -> (steps, state, trace)``; the new parameters are
    ``params - steps``. This is the bare update: the optax wrapper :func:`minivelo.velo`
    adds skipping of non-finite steps and weight decay, which meta-training does not use
    (a member that goes non-finite is restarted instead).
    """
    from minivelo.lopt.velo import fused, reference
    from minivelo.lopt.velo import params as velo_params
    from minivelo.lopt.velo.state import init_state

    implementations = {"fused": fused, "reference": reference}
    if implementation not in implementations:
        raise ValueError(f"implementation must be 'fused' or 'reference', got {implementation!r}")
    module = implementations[implementation]
    if preset not in velo_params.PRESETS:
        raise ValueError(
            f"unknown VeLO preset {preset!r}; choose one of {list(velo_params.PRESETS)}"
        )

    def update(theta, grads, state, params, loss):
        steps, state, _ = module.update(theta, state, grads, params, loss, num_steps)
        return jax.tree.map(lambda s: -s, steps), state

    return LearnedOptimizer(
        name="velo",
        init_meta_params=lambda key: velo_params.init_meta_params(key, preset),
        init=lambda theta, params: init_state(params, theta),
        update=update,
        config={"kind": "velo", "preset": preset, "implementation": implementation},
    )


BUILDERS: dict[str, Callable[..., LearnedOptimizer]] = {"mlp": mlp, "velo": velo}


def build(settings: dict, num_steps: int) -> LearnedOptimizer:
    """``{"kind": "mlp", ...settings}`` or ``{"kind": "velo", "preset": "small"}``."""
    settings = dict(settings)
    kind = settings.pop("kind", "mlp")
    if kind not in BUILDERS:
        raise ValueError(f"unknown learned optimizer kind {kind!r}; choose one of {list(BUILDERS)}")
    return BUILDERS[kind](num_steps, **settings)


def as_optax(lopt: LearnedOptimizer, theta: PyTree):
    """``lopt`` with fixed ``theta`` as an ``optax.GradientTransformationExtraArgs``.

    ``theta`` may be a traced value, so a jitted function can take it as an argument and
    evaluate new meta-parameters without recompiling.
    """
    import optax

    def update(grads, state, params=None, *, loss=None, **extra_args):
        if params is None:
            raise ValueError(f"the {lopt.name} learned optimizer needs params")
        return lopt.update(theta, grads, state, params, loss)

    return optax.GradientTransformationExtraArgs(lambda params: lopt.init(theta, params), update)

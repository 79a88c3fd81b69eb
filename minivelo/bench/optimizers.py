"""Optimizers by name, for the benchmark and its command line.

A registered optimizer is a factory returning an ``optax.GradientTransformation``. If the
factory takes ``learning_rate`` it can be tuned; if it takes ``num_steps`` (VeLO does: it
is told the training horizon) the benchmark passes the run length.

Built-in names (:data:`BUILTIN_NAMES`) resolve to every optimizer of :mod:`minivelo.optim`
(``sgd``, ``momentum``, ``adagrad``, ``rmsprop``, ``adadelta``, ``adam``, ``adamw``,
``nadam``, ``adamax``, ``lion``) and :func:`minivelo.second_order.adahessian`, with their
usual default learning rates (AdamW with its default weight decay 1e-4), to ``velo``
(:func:`minivelo.velo`, the shipped VeLO weights, told ``num_steps``) and to ``mlp_lopt``
(:func:`minivelo.lopt.mlp_lopt.mlp_lopt`, the shipped per-parameter MLP optimizer, told
``num_steps``). AdaHessian reads a Hessian-diagonal estimate; :mod:`minivelo.bench.training`
computes one (Hutchinson, one probe per step) for transforms marked by
:func:`needs_hessian_diagonal`. For other weights, build a spec without touching the
registry: ``OptimizerSpec(OptimizerEntry("mine", partial(minivelo.velo, weights=theta),
None), None)``. Add your own names with :func:`register_optimizer`.

A *spec* string picks the hyperparameters a benchmark row uses:

- ``"adam"``: the default learning rate;
- ``"adam:lr=0.01"``: an explicit one;
- ``"adam:tuned"``: the best on the benchmark's learning-rate grid (VeLO's protocol);
- ``"velo"``: no hyperparameters.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable

import optax


@dataclasses.dataclass(frozen=True)
class OptimizerEntry:
    name: str
    factory: Callable[..., optax.GradientTransformation]
    default_learning_rate: float | None  # None: the factory takes no learning rate

    @property
    def tunable(self) -> bool:
        return self.default_learning_rate is not None

    @property
    def takes_num_steps(self) -> bool:
        return "num_steps" in inspect.signature(self.factory).parameters


_REGISTRY: dict[str, OptimizerEntry] = {}

# name -> (module, attribute, default learning rate); imported on first use. The rates are
# the papers' or the libraries' usual defaults (Lion: 10x below Adam's, as its paper
# advises; Adadelta: 1, the paper's algorithm; AdaHessian: 0.15, its authors' code).
_BUILTIN: dict[str, tuple[str, str, float | None]] = {
    "sgd": ("minivelo.optim", "sgd", 0.1),
    "momentum": ("minivelo.optim", "momentum", 0.01),
    "adagrad": ("minivelo.optim", "adagrad", 0.01),
    "rmsprop": ("minivelo.optim", "rmsprop", 1e-3),
    "adadelta": ("minivelo.optim", "adadelta", 1.0),
    "adam": ("minivelo.optim", "adam", 1e-3),
    "adamw": ("minivelo.optim", "adamw", 1e-3),
    "nadam": ("minivelo.optim", "nadam", 1e-3),
    "adamax": ("minivelo.optim", "adamax", 2e-3),
    "lion": ("minivelo.optim", "lion", 1e-4),
    "adahessian": ("minivelo.bench.optimizers", "_adahessian", 0.15),
    "velo": ("minivelo", "velo", None),
    "mlp_lopt": ("minivelo.bench.optimizers", "_shipped_mlp_lopt", None),
}
BUILTIN_NAMES: tuple[str, ...] = tuple(_BUILTIN)


class HessianDiagonalTransformation(optax.GradientTransformationExtraArgs):
    """An optax transform whose ``update`` needs ``hessian_diagonal=`` (AdaHessian).

    The same tuple as the transform it wraps; the type tells the training loop to pass a
    Hutchinson estimate of the Hessian diagonal with every update.
    """


def needs_hessian_diagonal(transform: optax.GradientTransformation) -> bool:
    return isinstance(transform, HessianDiagonalTransformation)


def _adahessian(learning_rate=0.15) -> HessianDiagonalTransformation:
    """:func:`minivelo.second_order.adahessian`, marked for the training loop."""
    from minivelo.second_order import adahessian

    return HessianDiagonalTransformation(*adahessian(learning_rate))


def _shipped_mlp_lopt(num_steps: int) -> optax.GradientTransformationExtraArgs:
    """The per-parameter MLP optimizer with the weights shipped in ``minivelo/weights``."""
    from minivelo.lopt.mlp_lopt import mlp_lopt

    return mlp_lopt(None, num_steps=num_steps)


def register_optimizer(
    name: str,
    factory: Callable[..., optax.GradientTransformation],
    default_learning_rate: float | None = None,
) -> None:
    """Make ``name`` resolvable. ``default_learning_rate=None`` marks a factory without one."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"optimizer name must be a non-empty string without ':', got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable, got {factory!r}")
    if default_learning_rate is not None and "learning_rate" not in _parameters(factory):
        raise TypeError(f"factory for {name!r} takes no learning_rate argument")
    _REGISTRY[name] = OptimizerEntry(name, factory, default_learning_rate)


def _parameters(factory) -> set[str]:
    return set(inspect.signature(factory).parameters)


def list_optimizers() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTRY})


def get_optimizer(name: str) -> OptimizerEntry:
    """The registered entry for ``name`` (built-ins are imported on first use)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _BUILTIN:
        raise KeyError(f"unknown optimizer {name!r}; choose one of: {', '.join(list_optimizers())}")
    module_name, attribute, lr = _BUILTIN[name]
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise KeyError(
            f"optimizer {name!r} needs {module_name}.{attribute}, which is not available: {error}"
        ) from error
    register_optimizer(name, factory, lr)
    return _REGISTRY[name]


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One benchmark row's optimizer: an entry plus how its learning rate is chosen."""

    entry: OptimizerEntry
    learning_rate: float | None  # None with tuned=False: hyperparameter-free
    tuned: bool = False

    @property
    def label(self) -> str:
        if self.tuned:
            return f"{self.entry.name} (tuned)"
        if self.learning_rate is None:
            return self.entry.name
        return f"{self.entry.name} (lr={self.learning_rate:g})"

    def make(self, num_steps: int, learning_rate=None) -> optax.GradientTransformation:
        """Build the transform; ``learning_rate`` overrides (it may be a traced value)."""
        kwargs = {}
        lr = self.learning_rate if learning_rate is None else learning_rate
        if self.entry.tunable:
            kwargs["learning_rate"] = lr
        if self.entry.takes_num_steps:
            kwargs["num_steps"] = num_steps
        return self.entry.factory(**kwargs)


def parse_spec(spec: str | OptimizerSpec) -> OptimizerSpec:
    """``"adam"``, ``"adam:lr=0.01"``, ``"adam:tuned"`` or ``"velo"`` -> :class:`OptimizerSpec`.

    An :class:`OptimizerSpec` is returned as it is.
    """
    if isinstance(spec, OptimizerSpec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"an optimizer spec is a string or an OptimizerSpec, got {spec!r}")
    name, _, option = spec.strip().partition(":")
    entry = get_optimizer(name)
    if not option:
        return OptimizerSpec(entry, entry.default_learning_rate)
    if not entry.tunable:
        raise ValueError(f"{name!r} has no learning rate, so {spec!r} is not a valid spec")
    if option == "tuned":
        return OptimizerSpec(entry, None, tuned=True)
    if option.startswith("lr="):
        try:
            lr = float(option[3:])
        except ValueError:
            lr = float("nan")
        if not lr > 0 or lr == float("inf"):
            raise ValueError(f"learning rate in {spec!r} must be a positive number")
        return OptimizerSpec(entry, lr)
    raise ValueError(f"cannot parse optimizer spec {spec!r}; use NAME, NAME:lr=X or NAME:tuned")

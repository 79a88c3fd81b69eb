"""Optimizers by name, for the benchmark and its command line.

A registered optimizer is a factory returning an ``optax.GradientTransformation``. If the
factory takes ``learning_rate`` it can be tuned; if it takes ``num_steps`` (VeLO does: it
is told the training horizon) the benchmark passes the run length.

Built-in names resolve to :mod:`minivelo.optim` (``sgd``, ``momentum``, ``adagrad``,
``rmsprop``, ``adam``, ``adamw``) with the usual default learning rates, and ``velo`` to
:func:`minivelo.velo` (told ``num_steps``; it loads the weights shipped with the package, so
to benchmark other weights register ``functools.partial(minivelo.velo, weights=theta)``).
Add your own with :func:`register_optimizer`.

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

# name -> (module, attribute, default learning rate); imported on first use.
_BUILTIN: dict[str, tuple[str, str, float | None]] = {
    "sgd": ("minivelo.optim", "sgd", 0.1),
    "momentum": ("minivelo.optim", "momentum", 0.01),
    "adagrad": ("minivelo.optim", "adagrad", 0.01),
    "rmsprop": ("minivelo.optim", "rmsprop", 1e-3),
    "adam": ("minivelo.optim", "adam", 1e-3),
    "adamw": ("minivelo.optim", "adamw", 1e-3),
    "velo": ("minivelo", "velo", None),
}


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


def parse_spec(spec: str) -> OptimizerSpec:
    """``"adam"``, ``"adam:lr=0.01"``, ``"adam:tuned"`` or ``"velo"`` -> :class:`OptimizerSpec`."""
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

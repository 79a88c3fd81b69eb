r"""The one contract every learned optimizer meets, its registry by kind, and the two
learned optimizers minivelo ships through it: the per-parameter MLP and VeLO.

A learned optimizer is a family of update rules indexed by meta-parameters :math:`\theta`.
Meta-training perturbs and differentiates :math:`\theta`, so the contract is a set of
*pure functions of* :math:`\theta` (no :math:`\theta` baked in), with one argument order
and optax's sign: ``update`` returns the updates to ADD,

.. math::
    (u_t, s_{t+1}) = \mathrm{update}(\theta, g_t, s_t, p_t, \ell_t), \qquad
    p_{t+1} = p_t + u_t .

Every learned optimizer, built from a JSON-able spec and the training horizon :math:`N`
(both read the fraction trained :math:`t/N`; ``num_steps`` may be a traced integer, so
one compiled program can serve many horizons):

>>> import jax, jax.numpy as jnp
>>> from minivelo.lopt import base
>>> lopt = base.build({"kind": "mlp", "hidden_sizes": [4]}, num_steps=100)
>>> theta = lopt.init_meta_params(jax.random.PRNGKey(0))          # meta-parameter init
>>> params = {"w": jnp.ones(3)}
>>> state = lopt.init(theta, params)                              # optimizer init
>>> updates, state = lopt.update(theta, params, state, params, jnp.float32(1.0))
>>> updates["w"].shape                                            # params + updates
(3,)
>>> spec = lopt.spec()                                            # what rebuilds it
>>> spec["kind"], spec["hidden_sizes"], base.build(spec, 100) == lopt
('mlp', [4], True)
>>> tx = lopt.as_optax(theta)        # the optax view: tx.update(grads, state, params, loss=)

Saving and loading meta-parameters: ``lopt.save(path, theta, metadata)`` writes the
meta-parameters in the optimizer's own format (``path`` + :attr:`LearnedOptimizer.suffix`)
beside ``path.json`` (``{"config": ..., "num_meta_params": ..., **metadata}``);
:func:`load_weights` reads either back, dispatching on the kind recorded in the JSON.

Adding a third learned optimizer takes one file: subclass :class:`LearnedOptimizer` as a
frozen dataclass whose first field is ``num_steps``, give it a ``kind``, implement the
five methods, and register it. Meta-training (``{"optimizer": {"kind": "sgdm"}}`` in a
config), evaluation and export then work unchanged once the module is imported::

    import dataclasses, jax, jax.numpy as jnp, numpy as np
    from minivelo.lopt import base

    @base.register
    @dataclasses.dataclass(frozen=True)
    class LearnedMomentum(base.LearnedOptimizer):
        num_steps: int
        kind = "sgdm"                      # the spec's "kind"

        def settings(self):                # the rest of the spec (JSON-able)
            return {}

        def init_meta_params(self, key):   # theta: log learning rate, momentum logit
            return {"log_lr": jnp.float32(-3.0), "logit_beta": jnp.float32(2.0)}

        def init(self, theta, params):
            return jax.tree.map(jnp.zeros_like, params)

        def update(self, theta, grads, state, params, loss):
            beta = jax.nn.sigmoid(theta["logit_beta"])
            m = jax.tree.map(lambda m, g: beta * m + g, state, grads)
            return jax.tree.map(lambda m: -jnp.exp(theta["log_lr"]) * m, m), m

        def write_meta_params(self, path, theta, metadata):
            np.savez(path, **{k: np.asarray(v) for k, v in theta.items()})

        def read_meta_params(self, path):
            with np.load(path) as data:
                return {k: jnp.asarray(data[k]) for k in data.files}

(``tests/toy_lopt.py`` is such a file, run through meta-training, evaluation and export by
``tests/test_lopt_contract.py``.)

References:
  Metz, Harrison, Freeman, Nado, Schoenholz, Sohl-Dickstein. "Tasks, stability,
  architecture, and compute: Training more effective learned optimizers, and using them
  to train themselves", 2020. https://arxiv.org/abs/2009.11243 (the per-parameter MLP).
  Metz, Harrison, Freeman, Nado, Sohl-Dickstein et al. "VeLO: Training Versatile Learned
  Optimizers by Scaling Up", 2022. https://arxiv.org/abs/2211.09760
"""

from __future__ import annotations

import abc
import dataclasses
import json
import pathlib
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import numpy as np
import optax

from minivelo.lopt import mlp_lopt
from minivelo.lopt.velo import checkpoint as velo_checkpoint
from minivelo.lopt.velo import fused, reference
from minivelo.lopt.velo import params as velo_params
from minivelo.lopt.velo.state import init_state as velo_init_state

PyTree = Any


class LearnedOptimizer(abc.ABC):
    """The contract. Subclasses are frozen dataclasses whose first field is ``num_steps``.

    Class attributes: ``kind`` (the registry key, the spec's ``"kind"``) and ``suffix``
    (the meta-parameter file's extension, ``".npz"`` unless the format says otherwise).
    """

    kind: ClassVar[str]
    suffix: ClassVar[str] = ".npz"
    num_steps: Any  # the training horizon N (an int, or a traced int32 scalar)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_settings(cls, num_steps, **settings) -> LearnedOptimizer:
        """Build from the spec (without ``kind``); override to parse nested settings."""
        fields = [f.name for f in dataclasses.fields(cls)][1:]
        unknown = sorted(set(settings) - set(fields))
        if unknown:
            raise ValueError(f"unknown {cls.kind} optimizer setting(s) {unknown}; known: {fields}")
        return cls(num_steps, **settings)

    @classmethod
    def from_weights_config(cls, num_steps, config: dict) -> LearnedOptimizer:
        """Rebuild from a saved ``config`` (the spec, plus what :meth:`weights_config` adds)."""
        return cls.from_settings(num_steps, **{k: v for k, v in config.items() if k != "kind"})

    @abc.abstractmethod
    def settings(self) -> dict:
        """The JSON-able settings that, with ``kind``, rebuild this optimizer."""

    def spec(self) -> dict:
        """``{"kind": ..., **settings}``: ``build(lopt.spec(), lopt.num_steps)`` rebuilds it."""
        return {"kind": self.kind, **self.settings()}

    @property
    def name(self) -> str:
        return self.kind

    @property
    def config(self) -> dict:
        """The spec (:meth:`spec`), as meta-training configs and checkpoints record it."""
        return self.spec()

    # ------------------------------------------------------------ pure functions
    @abc.abstractmethod
    def init_meta_params(self, key: jax.Array) -> PyTree:
        """Fresh meta-parameters :math:`\\theta` (a pytree of float32 arrays)."""

    @abc.abstractmethod
    def init(self, theta: PyTree, params: PyTree) -> PyTree:
        """The optimizer state for ``params``."""

    @abc.abstractmethod
    def update(self, theta, grads, state, params, loss) -> tuple[PyTree, PyTree]:
        """One step: ``(updates, new_state)``; the new parameters are ``params + updates``."""

    def as_optax(self, theta: PyTree) -> optax.GradientTransformationExtraArgs:
        """This optimizer with fixed ``theta`` as an optax transform.

        ``update(grads, state, params, *, loss)`` equals :meth:`update`; ``theta`` may be
        traced, so a jitted function can take it as an argument and evaluate new
        meta-parameters without recompiling.
        """

        def update_fn(grads, state, params=None, *, loss=None, **extra_args):
            del extra_args  # other transforms' extra arguments
            if params is None:
                raise ValueError(f"the {self.kind} learned optimizer needs params")
            return self.update(theta, grads, state, params, loss)

        return optax.GradientTransformationExtraArgs(
            lambda params: self.init(theta, params), update_fn
        )

    # -------------------------------------------------------- saved meta-parameters
    @abc.abstractmethod
    def write_meta_params(self, path: pathlib.Path, theta: PyTree, metadata: dict) -> None:
        """Write ``theta`` to ``path`` (which ends in :attr:`suffix`)."""

    @abc.abstractmethod
    def read_meta_params(self, path: pathlib.Path) -> PyTree:
        """Read what :meth:`write_meta_params` wrote; raise ``ValueError`` if it does not fit."""

    def weights_config(self, theta: PyTree) -> dict:
        """The ``"config"`` of the saved JSON: the spec (VeLO adds its sizes)."""
        return self.spec()

    def save(self, path, theta: PyTree, metadata: dict | None = None) -> pathlib.Path:
        """``path + suffix`` (the meta-parameters) and ``path.json``; returns the former."""
        path = pathlib.Path(path)
        if path.suffix in (self.suffix, ".json"):
            path = path.with_suffix("")
        path.parent.mkdir(parents=True, exist_ok=True)
        weights = path.with_name(path.name + self.suffix)
        self.write_meta_params(weights, theta, dict(metadata or {}))
        info = {
            "config": self.weights_config(theta),
            "num_meta_params": int(sum(np.size(x) for x in jax.tree.leaves(theta))),
            **(metadata or {}),
        }
        path.with_name(path.name + ".json").write_text(json.dumps(info, indent=2) + "\n")
        return weights


REGISTRY: dict[str, type[LearnedOptimizer]] = {}


def register(cls: type[LearnedOptimizer]) -> type[LearnedOptimizer]:
    """Class decorator: make ``cls`` buildable as ``{"kind": cls.kind, ...}``."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} needs a class attribute kind = '<name>'")
    taken = REGISTRY.get(kind)
    if taken is not None and taken.__qualname__ != cls.__qualname__:  # (a re-import is fine)
        raise ValueError(f"learned optimizer kind {kind!r} is taken by {taken.__qualname__}")
    REGISTRY[kind] = cls
    return cls


def _check_num_steps(num_steps) -> None:
    if isinstance(num_steps, jax.Array | np.ndarray):
        return  # a traced or array horizon: checked by whoever made it
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")


def build(spec: dict, num_steps) -> LearnedOptimizer:
    """The learned optimizer ``{"kind": K, **settings}`` for a horizon of ``num_steps``."""
    if not isinstance(spec, dict):
        raise ValueError(f"a learned optimizer spec is an object like {{'kind': 'mlp'}}: {spec!r}")
    settings = dict(spec)
    kind = settings.pop("kind", "mlp")
    if kind not in REGISTRY:
        raise ValueError(f"unknown learned optimizer kind {kind!r}; choose one of {list(REGISTRY)}")
    _check_num_steps(num_steps)
    return REGISTRY[kind].from_settings(num_steps, **settings)


def spec_of_weights(info: dict) -> dict:
    """The spec recorded in a weights JSON (older MLP files name the kind only in
    ``meta_config.optimizer``)."""
    config = dict(info.get("config") or {})
    if "kind" not in config:
        recorded = (info.get("meta_config") or {}).get("optimizer") or {}
        config["kind"] = recorded.get("kind", "mlp")
    return config


def load_weights(path, num_steps=None) -> tuple[LearnedOptimizer, PyTree, dict]:
    """Saved meta-parameters: ``(learned optimizer, theta, info)`` from ``path`` (the
    meta-parameter file or its ``.json``); ``num_steps`` defaults to the training horizon
    recorded in ``info["meta_config"]`` (or 1)."""
    path = pathlib.Path(path)
    stem = path.with_suffix("") if path.suffix else path
    meta = stem.with_name(stem.name + ".json")
    if not meta.exists():
        raise FileNotFoundError(f"no weights metadata {meta} (saved weights come in pairs)")
    info = json.loads(meta.read_text())
    spec = spec_of_weights(info)
    kind = spec["kind"]
    if kind not in REGISTRY:
        raise ValueError(
            f"{meta} holds a {kind!r} optimizer, which is not registered; known: {list(REGISTRY)}"
        )
    if num_steps is None:
        num_steps = int((info.get("meta_config") or {}).get("num_steps", 1))
    lopt = REGISTRY[kind].from_weights_config(num_steps, spec)
    weights = stem.with_name(stem.name + lopt.suffix)
    if not weights.exists():
        raise FileNotFoundError(f"no meta-parameters at {weights}")
    return lopt, lopt.read_meta_params(weights), info


# ---------------------------------------------------------------- the per-parameter MLP


@register
@dataclasses.dataclass(frozen=True)
class MLP(LearnedOptimizer):
    r"""The per-parameter MLP of :mod:`minivelo.lopt.mlp_lopt` (its update already adds).

    References:
      Metz et al. 2020, "Tasks, stability, architecture, and compute",
      https://arxiv.org/abs/2009.11243
    """

    num_steps: Any
    architecture: mlp_lopt.MLPLOptConfig = mlp_lopt.DEFAULT_CONFIG
    kind: ClassVar[str] = "mlp"

    @classmethod
    def from_settings(cls, num_steps, **settings) -> MLP:
        return cls(num_steps, mlp_lopt.MLPLOptConfig.from_dict(settings))

    def settings(self) -> dict:
        return self.architecture.to_dict()

    def init_meta_params(self, key):
        return mlp_lopt.init_meta_params(key, self.architecture)

    def init(self, theta, params):
        return mlp_lopt.init_state(params, self.architecture)

    def update(self, theta, grads, state, params, loss):
        del loss  # this optimizer does not read the loss
        return mlp_lopt.update(theta, grads, state, params, self.num_steps, self.architecture)

    def write_meta_params(self, path, theta, metadata):
        mlp_lopt.save_meta_params(path, theta)

    def read_meta_params(self, path):
        theta = mlp_lopt.load_meta_params(path)
        mlp_lopt.check_meta_params(theta, self.architecture)
        return theta


# ------------------------------------------------------------------------------- VeLO


@register
@dataclasses.dataclass(frozen=True)
class VeLO(LearnedOptimizer):
    r"""VeLO (:mod:`minivelo.lopt.velo`) at a preset size, through its functional update.

    ``fused.update`` (or ``reference.update``; they are equal) returns steps to SUBTRACT,
    as the published code does; this adapter is the one place that turns them into
    updates to add. It is the bare update: the optax wrapper :func:`minivelo.velo` adds
    skipping of non-finite steps, weight decay and gradient accumulation for very long
    runs, which meta-training does not use (a member that goes non-finite is restarted).

    References:
      Metz et al. 2022, "VeLO: Training Versatile Learned Optimizers by Scaling Up",
      https://arxiv.org/abs/2211.09760
    """

    num_steps: Any
    preset: str = "small"
    implementation: str = "fused"
    kind: ClassVar[str] = "velo"
    suffix: ClassVar[str] = ".msgpack"  # the published checkpoint format

    def __post_init__(self):
        if self.implementation not in ("fused", "reference"):
            raise ValueError(
                f"implementation must be 'fused' or 'reference', got {self.implementation!r}"
            )
        if self.preset not in velo_params.PRESETS:
            raise ValueError(
                f"unknown VeLO preset {self.preset!r}; choose one of {list(velo_params.PRESETS)}"
            )

    @classmethod
    def from_weights_config(cls, num_steps, config: dict) -> VeLO:
        sizes = {k: config[k] for k in ("lstm_hidden_size", "num_banks") if k in config}
        settings = {k: v for k, v in config.items() if k not in ("kind", *sizes)}
        lopt = cls.from_settings(num_steps, **settings)
        expected = dataclasses.asdict(velo_params.PRESETS[lopt.preset])
        if any(expected[k] != v for k, v in sizes.items()):
            raise ValueError(f"VeLO weights of sizes {sizes} are not preset {lopt.preset!r}")
        return lopt

    @property
    def _update(self) -> Callable:
        return {"fused": fused.update, "reference": reference.update}[self.implementation]

    def settings(self) -> dict:
        # "implementation" is left out at its default, as meta-training configs write it
        if self.implementation == "fused":
            return {"preset": self.preset}
        return {"preset": self.preset, "implementation": self.implementation}

    def init_meta_params(self, key):
        return velo_params.init_meta_params(key, self.preset)

    def init(self, theta, params):
        return velo_init_state(params, theta)

    def update(self, theta, grads, state, params, loss):
        steps, state, _ = self._update(theta, state, grads, params, loss, self.num_steps)
        # The contract's one sign flip. (minivelo.velo, the optax wrapper, negates the
        # same steps inside itself: it calls the functional update directly.)
        return jax.tree.map(lambda s: -s, steps), state

    def weights_config(self, theta) -> dict:
        return {**self.spec(), **dataclasses.asdict(velo_params.infer_config(theta))}

    def write_meta_params(self, path, theta, metadata):
        velo_checkpoint.save(path, theta, step=int(metadata.get("outer_steps", 0)))

    def read_meta_params(self, path):
        theta = velo_params.as_float32(velo_checkpoint.load(path))
        velo_params.check_meta_params(theta, velo_params.PRESETS[self.preset])
        return theta

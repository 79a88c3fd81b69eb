r"""A per-parameter MLP learned optimizer: the stepping stone between Adam and VeLO.

Adam computes each parameter's step from a few running statistics by a fixed formula,
:math:`-\eta\,\hat m / (\sqrt{\hat v} + \epsilon)`. This optimizer computes it from the same
kind of statistics with a small neural network whose weights :math:`\theta` (the
*meta-parameters*, 530 numbers by default) are learned by meta-training (:mod:`minivelo.meta`). The
same network is applied to every scalar parameter of every tensor, as in Metz et al. 2020
("Tasks, stability, architecture, and compute", the ``MLPLOpt`` of learned_optimization),
and as VeLO's per-parameter MLP is.

One update, for a parameter :math:`p` with gradient :math:`g` at step :math:`t` of :math:`N`:

.. math::
    m^{(\beta)}_t &= \beta\, m^{(\beta)}_{t-1} + (1-\beta)\, g_t
        \qquad \beta \in \{0.9, 0.99, 0.999\} \\
    v_t &= 0.999\, v_{t-1} + 0.001\, g_t^2 \\
    x &= \Big[g,\ p,\ m^{(\beta)},\ \tfrac{m^{(\beta)}}{\sqrt{v+\epsilon}},\
        \tfrac{g}{\sqrt{v+\epsilon}}\Big] \quad\text{each divided by its tensor's rms}\\
    x &\leftarrow \big[x,\ \phi(t/N)\big] \quad\text{(shared training-progress features)} \\
    (d, a) &= \mathrm{MLP}_\theta(x) \\
    \Delta p &= -\,\text{step\_mult}\cdot d \cdot \exp(\text{exp\_mult}\cdot a)

``d`` is a direction and ``a`` a log step size. Dividing every feature by its tensor's root
mean square makes the optimizer blind to the scale of gradients and weights (like Adam),
so one :math:`\theta` can serve tasks whose gradients differ by orders of magnitude.

Three interfaces:

- :func:`mlp_lopt` builds an ``optax.GradientTransformationExtraArgs`` from meta-parameters
  (``update`` takes ``loss=`` like VeLO's, and ignores it);
- the pure pieces (:func:`init_meta_params`, :func:`init_state`, :func:`features`,
  :func:`apply_mlp`, :func:`update`);
- :class:`minivelo.lopt.base.MLP`, the learned-optimizer contract that meta-training,
  evaluation and export use (``build({"kind": "mlp", ...}, num_steps)``), met by VeLO too.

>>> import jax, jax.numpy as jnp
>>> theta = init_meta_params(jax.random.PRNGKey(0))
>>> num_meta_params() == sum(x.size for x in jax.tree.leaves(theta))
True
>>> params = {"w": jnp.array([1.0, -2.0])}
>>> updates, state = update(theta, params, init_state(params), params, num_steps=100)
>>> int(state.iteration), updates["w"].shape
(1, (2,))

References:
  Metz, Harrison, Freeman, Nado, Schoenholz, Sohl-Dickstein. "Tasks, stability,
  architecture, and compute: Training more effective learned optimizers, and using them
  to train themselves", 2020. https://arxiv.org/abs/2009.11243
  Andrychowicz et al. "Learning to learn by gradient descent by gradient descent", 2016.
  https://arxiv.org/abs/1606.04474 (the per-parameter, coordinate-wise learned optimizer).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

PyTree = Any

WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "weights"


@dataclasses.dataclass(frozen=True)
class MLPLOptConfig:
    """The architecture: MLP widths, accumulator decays and the output scaling."""

    hidden_sizes: tuple[int, ...] = (16, 16)
    momentum_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    rms_decay: float = 0.999
    step_mult: float = 1e-3
    exp_mult: float = 1.0
    # Time scales (in steps) of the absolute-step features tanh(t / c); with t / N.
    step_timescales: tuple[float, ...] = (10.0, 100.0, 1000.0)

    @property
    def num_parameter_features(self) -> int:
        # g, p, m (per decay), m / sqrt(v) (per decay), g / sqrt(v)
        return 3 + 2 * len(self.momentum_decays)

    @property
    def num_progress_features(self) -> int:
        return 1 + len(self.step_timescales)

    @property
    def num_inputs(self) -> int:
        return self.num_parameter_features + self.num_progress_features

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, settings: dict) -> MLPLOptConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise ValueError(f"unknown MLP optimizer setting(s) {unknown}; known: {sorted(fields)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})


DEFAULT_CONFIG = MLPLOptConfig()


class MLPLOptState(NamedTuple):
    iteration: jax.Array  # int32: updates applied so far
    momentum: PyTree  # like params, each leaf (len(momentum_decays), *shape)
    second_moment: PyTree  # like params: EMA of g^2


# ------------------------------------------------------------------ meta-parameters


def init_meta_params(key: jax.Array, config: MLPLOptConfig = DEFAULT_CONFIG) -> dict:
    """LeCun-normal weights, zero biases: ``{"layer_i": {"w": (in, out), "b": (out,)}}``.

    The last layer has two outputs: the direction ``d`` and the log step size ``a``.
    """
    sizes = [config.num_inputs, *config.hidden_sizes, 2]
    keys = jax.random.split(key, len(sizes) - 1)
    return {
        f"layer_{i}": {
            "w": jax.random.normal(k, (a, b), jnp.float32) / np.sqrt(a),
            "b": jnp.zeros((b,), jnp.float32),
        }
        for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:]))
    }


def num_meta_params(config: MLPLOptConfig = DEFAULT_CONFIG) -> int:
    sizes = [config.num_inputs, *config.hidden_sizes, 2]
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


# ------------------------------------------------------------------------- state


def init_state(params: PyTree, config: MLPLOptConfig = DEFAULT_CONFIG) -> MLPLOptState:
    k = len(config.momentum_decays)
    return MLPLOptState(
        iteration=jnp.zeros((), jnp.int32),
        momentum=jax.tree.map(lambda p: jnp.zeros((k, *jnp.shape(p)), jnp.float32), params),
        second_moment=jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32), params),
    )


def update_accumulators(
    state: MLPLOptState, grads: PyTree, config: MLPLOptConfig = DEFAULT_CONFIG
) -> MLPLOptState:
    """Momenta and second moment, updated with ``grads``.

    :math:`m^{(\\beta)} \\leftarrow \\beta m + (1-\\beta) g`,
    :math:`v \\leftarrow \\rho v + (1-\\rho) g^2`.
    """
    decays = jnp.asarray(config.momentum_decays, jnp.float32)

    def momentum(m, g):
        b = decays.reshape((-1,) + (1,) * jnp.ndim(g))  # (k, 1, ..., 1)
        return b * m + (1 - b) * g[None]

    rho = config.rms_decay
    return MLPLOptState(
        iteration=state.iteration + 1,
        momentum=jax.tree.map(momentum, state.momentum, grads),
        second_moment=jax.tree.map(
            lambda v, g: rho * v + (1 - rho) * g**2, state.second_moment, grads
        ),
    )


# ---------------------------------------------------------------------- features


def rms_normalise(x: jax.Array, axes) -> jax.Array:
    """:math:`x / \\sqrt{\\operatorname{mean}(x^2) + 10^{-12}}` over ``axes`` (one tensor)."""
    return x * jax.lax.rsqrt(jnp.mean(x**2, axis=axes, keepdims=True) + 1e-12)


def progress_features(
    iteration: jax.Array, num_steps: int, config: MLPLOptConfig = DEFAULT_CONFIG
) -> jax.Array:
    """Shared by every parameter: ``[t / N, tanh(t / c) for c in step_timescales]``."""
    t = iteration.astype(jnp.float32)
    scales = jnp.asarray(config.step_timescales, jnp.float32)
    return jnp.concatenate([(t / num_steps)[None], jnp.tanh(t / scales)])


def tensor_features(g: jax.Array, p: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
    """The per-parameter inputs of one tensor, each rms-normalised: shape ``(*shape, 3 + 2k)``.

    ``m`` is ``(k, *shape)`` (one row per momentum decay), ``v`` the second moment.
    """
    rsqrt_v = jax.lax.rsqrt(v + 1e-12)
    channels = jnp.concatenate([g[None], p[None], m, m * rsqrt_v[None], (g * rsqrt_v)[None]])
    axes = tuple(range(1, channels.ndim))  # normalise each channel over the tensor
    return jnp.moveaxis(rms_normalise(channels, axes), 0, -1)


def features(
    grads: PyTree,
    params: PyTree,
    state: MLPLOptState,
    num_steps: int,
    config: MLPLOptConfig = DEFAULT_CONFIG,
) -> PyTree:
    """Every parameter's MLP input, a tree like ``params`` with leaves ``(*shape, num_inputs)``.

    ``state`` holds the accumulators already updated with ``grads``; the progress features
    use the iteration *before* this update.
    """
    progress = progress_features(state.iteration - 1, num_steps, config)

    def one(g, p, m, v):
        x = tensor_features(g, p, m, v)
        return jnp.concatenate([x, jnp.broadcast_to(progress, (*x.shape[:-1], progress.size))], -1)

    return jax.tree.map(one, grads, params, state.momentum, state.second_moment)


# ---------------------------------------------------------------------- the MLP


def apply_mlp(meta_params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x`` ``(..., num_inputs)`` -> direction ``d`` and log step size ``a``, each ``(...)``."""
    num_layers = len(meta_params)
    for i in range(num_layers):
        layer = meta_params[f"layer_{i}"]
        x = x @ layer["w"] + layer["b"]
        if i < num_layers - 1:
            x = jax.nn.relu(x)
    return x[..., 0], x[..., 1]


def update(
    meta_params: dict,
    grads: PyTree,
    state: MLPLOptState,
    params: PyTree,
    num_steps: int,
    config: MLPLOptConfig = DEFAULT_CONFIG,
) -> tuple[PyTree, MLPLOptState]:
    """One step: ``(updates, new_state)``; the new parameters are ``params + updates``."""
    state = update_accumulators(state, grads, config)
    inputs = features(grads, params, state, num_steps, config)
    # One MLP call for all tensors: (total parameters, num_inputs) -> (total parameters,).
    leaves, treedef = jax.tree.flatten(inputs)
    stacked = jnp.concatenate([x.reshape(-1, x.shape[-1]) for x in leaves])
    d, a = apply_mlp(meta_params, stacked)
    steps = -config.step_mult * d * jnp.exp(config.exp_mult * a)
    ends = np.cumsum([int(np.prod(x.shape[:-1])) for x in leaves])[:-1]
    pieces = [s.reshape(x.shape[:-1]) for s, x in zip(jnp.split(steps, ends), leaves)]
    return jax.tree.unflatten(treedef, pieces), state


# ------------------------------------------------------------------ optax interface


def mlp_lopt(
    meta_params: dict | None = None,
    num_steps: int = 1000,
    config: MLPLOptConfig | None = None,
) -> optax.GradientTransformationExtraArgs:
    """The learned optimizer as an optax transform.

    Args:
      meta_params: the learned weights :math:`\\theta`; ``None`` loads the shipped ones
        (:func:`load_weights`).
      num_steps: the training horizon :math:`N` (the progress feature is :math:`t/N`).
      config: the architecture; ``None`` takes the shipped weights' (or the default).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update(grads, state, params, loss=...)``
      needs ``params`` and accepts (and ignores) ``loss``.

    Example (the shipped weights, one step):

    >>> import jax.numpy as jnp
    >>> opt = mlp_lopt(num_steps=500)
    >>> params = {"w": jnp.ones((2, 3))}
    >>> updates, state = opt.update(params, opt.init(params), params, loss=1.0)
    >>> updates["w"].shape
    (2, 3)
    """
    if meta_params is None:
        meta_params, shipped_config, _ = load_weights()
        config = config or shipped_config
    config = config or DEFAULT_CONFIG
    check_meta_params(meta_params, config)

    def init_fn(params):
        return init_state(params, config)

    def update_fn(grads, state, params=None, **extra_args):
        del extra_args  # loss= and friends: this optimizer does not read them
        if params is None:
            raise ValueError("mlp_lopt needs params: call update(grads, state, params)")
        return update(meta_params, grads, state, params, num_steps, config)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def check_meta_params(meta_params: dict, config: MLPLOptConfig = DEFAULT_CONFIG) -> None:
    """Raise ``ValueError`` naming the first layer whose shape does not fit ``config``."""
    sizes = [config.num_inputs, *config.hidden_sizes, 2]
    expected = {f"layer_{i}": (a, b) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))}
    if not isinstance(meta_params, dict) or set(meta_params) != set(expected):
        got = sorted(meta_params) if isinstance(meta_params, dict) else type(meta_params).__name__
        raise ValueError(f"MLP optimizer weights need layers {sorted(expected)}, got {got}")
    for name, (a, b) in expected.items():
        w, bias = np.shape(meta_params[name]["w"]), np.shape(meta_params[name]["b"])
        if w != (a, b) or bias != (b,):
            raise ValueError(f"{name}: weight {w} and bias {bias}, expected {(a, b)} and {(b,)}")


# ------------------------------------------------------------------ saved weights


def save_meta_params(path, meta_params: dict) -> None:
    """``path`` (an ``.npz``): one flat ``layer_i/w`` / ``layer_i/b`` array per tensor."""
    flat = {f"{k}/{n}": np.asarray(v) for k, layer in meta_params.items() for n, v in layer.items()}
    np.savez(path, **flat)


def load_meta_params(path) -> dict:
    """The ``{"layer_i": {"w", "b"}}`` tree that :func:`save_meta_params` wrote."""
    meta_params: dict = {}
    with np.load(path) as data:
        for key in data.files:
            layer, name = key.split("/")
            meta_params.setdefault(layer, {})[name] = jnp.asarray(data[key])
    return meta_params


def save_weights(path, meta_params: dict, config: MLPLOptConfig, metadata: dict) -> None:
    """``path.npz`` (flat ``layer_i/w`` arrays) and ``path.json`` (config and metadata).

    The same files as ``minivelo.lopt.base.build({"kind": "mlp", ...}).save(...)`` writes.
    """
    path = pathlib.Path(path).with_suffix("")
    save_meta_params(path.with_suffix(".npz"), meta_params)
    info = {"config": {"kind": "mlp", **config.to_dict()}, **metadata}
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")


def load_weights(name: str = "mlp_lopt_mnist1d") -> tuple[dict, MLPLOptConfig, dict]:
    """Load ``minivelo/weights/<name>`` (or a path): ``(meta_params, config, metadata)``.

    Raises ``FileNotFoundError`` when neither ``<name>.npz`` nor
    ``minivelo/weights/<name>.npz`` exists, ``ValueError`` when the layers do not fit the
    recorded config.
    """
    path = pathlib.Path(name)
    if not path.with_suffix(".npz").exists():
        path = WEIGHTS_DIR / name
    path = path.with_suffix("")
    if not path.with_suffix(".npz").exists():
        raise FileNotFoundError(f"no weights at {path.with_suffix('.npz')}")
    info = json.loads(path.with_suffix(".json").read_text())
    settings = dict(info["config"])
    kind = settings.pop("kind", "mlp")
    if kind != "mlp":
        raise ValueError(f"{path.with_suffix('.json')} holds a {kind!r} optimizer, not 'mlp'")
    config = MLPLOptConfig.from_dict(settings)
    meta_params = load_meta_params(path.with_suffix(".npz"))
    check_meta_params(meta_params, config)
    return meta_params, config, info

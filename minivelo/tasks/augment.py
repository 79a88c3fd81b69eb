r"""Task augmentations for meta-training: wrappers that return a new :class:`Task`.

Each wrapper keeps the task's data and loss and changes what the optimizer sees. Their
settings may be traced arrays, so one compiled program draws a fresh augmentation every
episode (:func:`sample_augmentation`).

**Parameter-scale reparameterisation** (:func:`reparameterize`; the form of
learned_optimization's ``ReparamWeights`` augmentation, used by Celo over
:math:`[10^{-3}, 10^{3}]`). With a positive scale :math:`s_k` per parameter tensor, the
optimizer trains :math:`q` where the model uses :math:`p = s \odot q`:

.. math::
    \tilde L(q) = L(s \odot q), \qquad q_0 = p_0 / s, \qquad
    \nabla_q \tilde L = s \odot \nabla_p L

The same model and the same training curve for plain gradient descent with a per-tensor
rescaled learning rate, but a tensor's values and gradients move by :math:`1/s` and
:math:`s`: an optimizer that reads absolute magnitudes (VeLO's step grows with the
parameter's rms) must learn to cope with tensors of very different scales.

**Readout initialisation** (:func:`scale_readout_init`): the last layer's initial
weights multiplied by a factor :math:`f` (0: a zero-initialised read-out, as in
logistic regression or a zero-init head; 0.01: a small one). A model whose only layer
is its read-out (a linear classifier) then starts at zero, where VeLO's step (about
:math:`\mathrm{rms}(w) + 3\cdot 10^{-5}` times its direction) is at its smallest.

References:
    Metz et al. 2022, "VeLO: Training Versatile Learned Optimizers by Scaling Up",
    arXiv:2211.09760 (task augmentation, Appendix).
    Moudgil et al. 2025, "Learning Versatile Optimizers on a Compute Diet" (Celo),
    arXiv:2501.12670 (parameter reparameterisation over [1e-3, 1e3]).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from minivelo.tasks.base import Task

PyTree = Any

SCALE_RANGE = (1e-3, 1e3)


def reparameterize(task: Task, scales: PyTree) -> Task:
    """``task`` trained in :math:`q = p / s` (``scales``: one positive array per parameter
    tensor, broadcastable to it; may be traced)."""

    def init(key):
        return jax.tree.map(lambda p, s: p / s, task.init(key), scales)

    def loss(q, batch):
        return task.loss(jax.tree.map(lambda x, s: x * s, q, scales), batch)

    accuracy = None
    if task.accuracy is not None:
        accuracy = lambda q, batch: task.accuracy(
            jax.tree.map(lambda x, s: x * s, q, scales), batch
        )
    return dataclasses.replace(
        task,
        name=f"reparam({task.name})",
        init=init,
        loss=loss,
        accuracy=accuracy,
        config={**task.config, "augmented": "reparameterize"},
    )


def sample_log_uniform_scales(
    key: jax.Array, like: PyTree, low: float = SCALE_RANGE[0], high: float = SCALE_RANGE[1]
) -> PyTree:
    """One scalar per tensor of ``like``, log-uniform on ``[low, high]``."""
    if not 0 < low <= high:
        raise ValueError(f"scale range must satisfy 0 < low <= high, got [{low}, {high}]")
    leaves, treedef = jax.tree.flatten(like)
    u = jax.random.uniform(key, (len(leaves),), jnp.float32)
    logs = jnp.log(low) + u * (jnp.log(high) - jnp.log(low))
    return jax.tree.unflatten(treedef, [jnp.exp(logs[i]) for i in range(len(leaves))])


def readout_path(params: PyTree) -> tuple[str, ...] | None:
    """Where the model's last layer lives in its parameter dict, or None if it has none.

    The registry's models name it ``readout`` (CNNs, language models), ``layer_<last>``
    (MLPs and linear models), or put it at the end of a ``decoder`` (autoencoders).
    """
    if not isinstance(params, dict):
        return None
    if "readout" in params:
        return ("readout",)
    layers = [k for k in params if isinstance(k, str) and k.startswith("layer_")]
    if layers and len(layers) == len(params):
        return (max(layers, key=lambda k: int(k.split("_")[1])),)
    if "decoder" in params:
        inner = readout_path(params["decoder"])
        return None if inner is None else ("decoder", *inner)
    return None


def has_readout(task: Task) -> bool:
    return readout_path(jax.eval_shape(task.init, jax.random.PRNGKey(0))) is not None


def scale_readout_init(task: Task, factor) -> Task:
    """``task`` whose last layer starts at ``factor`` times its usual initial values
    (``factor`` may be traced; 0 is a zero-initialised read-out)."""
    path = readout_path(jax.eval_shape(task.init, jax.random.PRNGKey(0)))
    if path is None:
        raise ValueError(f"{task.name} has no recognisable read-out layer to re-initialise")

    def init(key):
        params = task.init(key)
        node = params
        for name in path[:-1]:
            node = node[name]
        node[path[-1]] = jax.tree.map(lambda w: w * factor, node[path[-1]])
        return params

    return dataclasses.replace(
        task, name=f"readout_init({task.name})", init=init, config={**task.config}
    )


@dataclasses.dataclass(frozen=True)
class AugmentSettings:
    """How often each augmentation is drawn (per episode, independently).

    ``reparam_prob``: per-tensor scales log-uniform on ``scale_range``, else all 1.
    ``zero_readout_prob`` / ``small_readout_prob``: the read-out starts at 0 / at
    ``small_readout_factor`` times its usual values (tasks without a read-out: never).
    """

    reparam_prob: float = 0.5
    scale_range: tuple[float, float] = SCALE_RANGE
    zero_readout_prob: float = 0.1
    small_readout_prob: float = 0.1
    small_readout_factor: float = 0.01

    @classmethod
    def from_dict(cls, settings: dict | None) -> AugmentSettings:
        settings = dict(settings or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown augment setting(s) {unknown}; known: {sorted(known)}")
        if "scale_range" in settings:
            settings["scale_range"] = tuple(float(x) for x in settings["scale_range"])
        out = cls(**settings)
        out.validate()
        return out

    def validate(self) -> None:
        for name in ("reparam_prob", "zero_readout_prob", "small_readout_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if self.zero_readout_prob + self.small_readout_prob > 1.0:
            raise ValueError("zero_readout_prob + small_readout_prob must not exceed 1")
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")
        if not self.small_readout_factor > 0:
            raise ValueError("small_readout_factor must be positive")


def sample_augmentation(key: jax.Array, task: Task, settings: AugmentSettings) -> Task:
    """``task`` with this episode's draw of every augmentation (traced: one program).

    Where a draw says "no", the wrapper is applied with its identity setting (scales 1,
    factor 1), so the compiled program is the same for every draw.
    """
    k_use, k_scale, k_init = jax.random.split(key, 3)
    out = task
    if settings.reparam_prob > 0:
        like = jax.eval_shape(task.init, jax.random.PRNGKey(0))
        scales = sample_log_uniform_scales(k_scale, like, *settings.scale_range)
        use = jax.random.uniform(k_use) < settings.reparam_prob
        scales = jax.tree.map(lambda s: jnp.where(use, s, 1.0), scales)
        out = reparameterize(out, scales)
    if settings.zero_readout_prob + settings.small_readout_prob > 0 and has_readout(task):
        u = jax.random.uniform(k_init)
        factor = jnp.where(
            u < settings.zero_readout_prob,
            0.0,
            jnp.where(
                u < settings.zero_readout_prob + settings.small_readout_prob,
                settings.small_readout_factor,
                1.0,
            ),
        )
        # re-initialise in p-space, before the reparameterisation divides by s
        base = scale_readout_init(task, factor)
        out = reparameterize(base, scales) if settings.reparam_prob > 0 else base
    return out

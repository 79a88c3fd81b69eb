r"""Meta-gradient estimators: truncated backprop, antithetic ES (plain and sign), PES.

Each estimator turns a population of truncated unrolls into an estimate of
:math:`\nabla_\theta \mathbb{E}[L(\theta)]`. They are written against one small contract,
an *unroll* for one member::

    unroll(theta, state) -> (meta_loss, new_state)

so the same functions serve the toy problems of the tests and lesson 07 and the real
inner training of :mod:`minivelo.meta.unroll`. Every estimator returns the gradient
averaged over the members, each member's meta-loss, and the members' new states.

**Truncated backprop (TBPTT)**: differentiate the segment, treating its starting state as
a constant: :math:`g = \nabla_\theta L(\theta; s)`. Exact for the segment, biased for the
whole episode (it ignores how :math:`\theta` shaped :math:`s`), and on long segments its
variance explodes with the chaos of the inner training (lesson 06).

**Antithetic ES** (Salimans et al. 2017) estimates the gradient of the Gaussian-smoothed
loss :math:`\mathbb{E}_\epsilon L(\theta+\epsilon)`, :math:`\epsilon\sim\mathcal N(0,\sigma^2 I)`,
from two runs per member that share the starting state and the minibatches:

.. math::
    g = \frac{L(\theta+\epsilon) - L(\theta-\epsilon)}{2\sigma^2}\,\epsilon

No backprop through the unroll, so no exploding gradients; the member then continues from
the :math:`\theta+\epsilon` copy's state. Truncated, it has the same bias as TBPTT.

**PES** (Vicol, Metz, Sohl-Dickstein 2021) keeps the two antithetic copies as separate
persistent runs and accumulates each member's perturbations over its episode,
:math:`\xi_k = \sum_{j \le k} \epsilon_j`:

.. math::
    g_k = \frac{L_k(\theta+\epsilon_k) - L_k(\theta-\epsilon_k)}{2\sigma^2}\,\xi_k

Summed over an episode, :math:`\sum_k g_k` is an unbiased estimate of the smoothed
gradient of the whole episode's loss, however short the segments. The price is variance,
which grows with :math:`\xi`.

**Sign ES** (``es_sign``; the estimator of the published VeLO's meta-training, whose
configs set ``sign_delta_loss_scalar``): antithetic ES over *whole* episodes in which each
pair keeps only the sign of its loss difference,

.. math::
    g = \frac{1}{M} \sum_{i=1}^{M}
        \frac{\operatorname{sign}\big(L_i(\theta+\epsilon_i) - L_i(\theta-\epsilon_i)\big)}
              {2\sigma^2}\,\epsilon_i

Every pair weighs :math:`\pm 1/(2\sigma^2)` whatever its task's loss scale, so a task whose
log losses swing by 20 between the two copies (a loss driven to :math:`10^{-9}`) counts
exactly as much as one whose loss moves by 1%. Where :math:`L_i` is locally linear with
gradient :math:`\nabla_i`, :math:`\mathbb E[\operatorname{sign}(2\epsilon^\top
\nabla_i)\,\epsilon] = \sigma\sqrt{2/\pi}\;\nabla_i / \lVert\nabla_i\rVert`: each pair
estimates its task's *unit* gradient direction, and the mean over tasks follows the
direction most tasks agree on. It is not an estimate of :math:`\nabla\,\mathbb E[L]`;
outer Adam normalises the step anyway. A tie (equal losses, e.g. both copies capped)
weighs 0.

**A subspace of the meta-parameters** (:class:`Subspace`, the config's ``trainable``): ES
perturbs only the leaves named, the others stay as they are. With :math:`d` perturbed
coordinates and :math:`M` pairs, the estimate's cosine with the gradient is about
:math:`\sqrt{2M/(\pi d)}` for sign ES, so a head of a few hundred numbers gets a usable
direction from a dozen pairs where all 14,465 of the small preset get noise. Training one
part at a time is Celo's recipe too (the update rule and the schedule in separate phases).

References:
    Salimans et al. 2017, "Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning", arXiv:1703.03864.
    Metz et al. 2022, "VeLO: Training Versatile Learned Optimizers by Scaling Up",
    arXiv:2211.09760 (and its configs in google/learned_optimization,
    ``research/general_lopt/configs``: full-length ES, ``sign_delta_loss_scalar=1``).
    Vicol, Metz, Sohl-Dickstein 2021, "Unbiased Gradient Estimation in Unrolled
    Computation Graphs with Persistent Evolution Strategies", ICML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

PyTree = Any
Unroll = Callable[[PyTree, PyTree], tuple[jax.Array, PyTree]]


class Estimate(NamedTuple):
    gradient: PyTree  # like theta: mean over members
    meta_losses: jax.Array  # [members]: each member's meta-loss (mean of its copies)
    states: PyTree  # members' states after the segment


# ------------------------------------------------------------------------- helpers


def tree_normal(key: jax.Array, like: PyTree, std: float) -> PyTree:
    """Gaussian noise ``N(0, std^2)`` shaped like ``like`` (drawn as one flat vector:
    one random-number kernel, not one per leaf, compiles several times faster)."""
    flat, unravel = ravel_pytree(like)
    return unravel(std * jax.random.normal(key, flat.shape, jnp.float32))


def tree_scale(tree: PyTree, scale: jax.Array) -> PyTree:
    return jax.tree.map(lambda x: x * scale, tree)


def leaf_name(path) -> str:
    """``"rnn_params/step_size/w"``: a leaf's path in the nested meta-parameter dict."""
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


class Subspace:
    """The leaves of :math:`\theta` whose names start with one of ``prefixes``.

    ``select(theta)`` is the list of those leaves (what an estimator perturbs),
    ``merge(theta, sub)`` puts them back, ``embed(theta, g_sub)`` is a full-size gradient
    that is zero on every other leaf (so outer Adam leaves those untouched: zero moments,
    zero update). ``prefixes=None`` is the whole tree.
    """

    def __init__(self, prefixes: list[str] | None):
        self.prefixes = None if prefixes is None else tuple(prefixes)

    def _matches(self, name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix.rstrip("/") + "/")

    def chosen(self, theta: PyTree) -> list[int]:
        """Indices (in ``jax.tree.leaves`` order) of the selected leaves."""
        names = [leaf_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(theta)[0]]
        if self.prefixes is None:
            return list(range(len(names)))
        unmatched = [p for p in self.prefixes if not any(self._matches(n, p) for n in names)]
        if unmatched:
            raise ValueError(
                f"trainable: no meta-parameter is named {unmatched}; names are like {names[:3]}"
            )
        return [i for i, n in enumerate(names) if any(self._matches(n, p) for p in self.prefixes)]

    def select(self, theta: PyTree) -> list:
        leaves = jax.tree.leaves(theta)
        return [leaves[i] for i in self.chosen(theta)]

    def merge(self, theta: PyTree, sub: list) -> PyTree:
        leaves, treedef = jax.tree.flatten(theta)
        for i, leaf in zip(self.chosen(theta), sub):
            leaves[i] = leaf
        return jax.tree.unflatten(treedef, leaves)

    def embed(self, theta: PyTree, sub_gradient: list) -> PyTree:
        return self.merge(jax.tree.map(jnp.zeros_like, theta), sub_gradient)


def member_mean(tree: PyTree) -> PyTree:
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), tree)


def antithetic_pair(
    unroll: Unroll, theta: PyTree, eps: PyTree, states: tuple[PyTree, PyTree]
) -> tuple[jax.Array, PyTree]:
    """Run :math:`\\theta+\\epsilon` from ``states[0]`` and :math:`\\theta-\\epsilon` from
    ``states[1]`` as one vmapped pair: ``(losses [2], new states [2, ...])``."""
    thetas = jax.tree.map(lambda t, e: jnp.stack([t + e, t - e]), theta, eps)
    pair = jax.tree.map(lambda a, b: jnp.stack([a, b]), *states)
    return jax.vmap(unroll)(thetas, pair)


def first(tree: PyTree) -> PyTree:
    return jax.tree.map(lambda x: x[0], tree)


# ---------------------------------------------------------------------- estimators


def truncated_backprop(unroll: Unroll, theta: PyTree, states: PyTree) -> Estimate:
    """:math:`\\nabla_\\theta` of the members' mean meta-loss, through each segment."""

    def mean_loss(theta):
        losses, new_states = jax.vmap(unroll, in_axes=(None, 0))(theta, states)
        return jnp.mean(losses), (losses, new_states)

    (_, (losses, new_states)), grad = jax.value_and_grad(mean_loss, has_aux=True)(theta)
    return Estimate(grad, losses, new_states)


def antithetic_es(
    unroll: Unroll, theta: PyTree, states: PyTree, keys: jax.Array, sigma: float
) -> Estimate:
    """One antithetic pair per member, both from the member's state (``keys``: one each)."""

    def one(state, key):
        eps = tree_normal(key, theta, sigma)
        losses, new_states = antithetic_pair(unroll, theta, eps, (state, state))
        grad = tree_scale(eps, (losses[0] - losses[1]) / (2 * sigma**2))
        return grad, jnp.mean(losses), first(new_states)

    grads, losses, new_states = jax.vmap(one)(states, keys)
    return Estimate(member_mean(grads), losses, new_states)


def sign_of_difference(positive: jax.Array, negative: jax.Array) -> jax.Array:
    """``sign(L+ - L-)``, 0 for a tie or a non-finite difference."""
    delta = positive - negative
    return jnp.where(jnp.isfinite(delta), jnp.sign(delta), 0.0)


def antithetic_es_sign(
    unroll: Unroll, theta: PyTree, states: PyTree, keys: jax.Array, sigma: float
) -> Estimate:
    """Sign ES: like :func:`antithetic_es`, each pair weighted by ``sign(L+ - L-)``.

    ``unroll`` scores a whole episode (``states`` describe it, e.g. its keys); the
    returned states are the ``theta + eps`` copy's, as in :func:`antithetic_es`.
    """

    def one(state, key):
        eps = tree_normal(key, theta, sigma)
        losses, new_states = antithetic_pair(unroll, theta, eps, (state, state))
        weight = sign_of_difference(losses[0], losses[1]) / (2 * sigma**2)
        return tree_scale(eps, weight), jnp.mean(losses), first(new_states)

    grads, losses, new_states = jax.vmap(one)(states, keys)
    return Estimate(member_mean(grads), losses, new_states)


class PESState(NamedTuple):
    """Each member's two antithetic runs and its accumulated perturbation :math:`\\xi`."""

    positive: PyTree
    negative: PyTree
    accumulated: PyTree  # like theta, with a leading members axis


def pes_init(states: PyTree, theta: PyTree) -> PESState:
    num = jax.tree.leaves(states)[0].shape[0]
    zeros = jax.tree.map(lambda t: jnp.zeros((num, *t.shape), t.dtype), theta)
    return PESState(states, states, zeros)


def persistent_es(
    unroll: Unroll, theta: PyTree, pes_state: PESState, keys: jax.Array, sigma: float
) -> Estimate:
    """PES: ``states`` of the result is the :class:`PESState` after the segment.

    The caller zeroes a member's ``accumulated`` when its episode restarts.
    """

    def one(pos, neg, accumulated, key):
        eps = tree_normal(key, theta, sigma)
        losses, new_states = antithetic_pair(unroll, theta, eps, (pos, neg))
        accumulated = jax.tree.map(jnp.add, accumulated, eps)  # xi_k = xi_{k-1} + eps_k
        grad = tree_scale(accumulated, (losses[0] - losses[1]) / (2 * sigma**2))
        new_pos, new_neg = first(new_states), jax.tree.map(lambda x: x[1], new_states)
        return grad, jnp.mean(losses), PESState(new_pos, new_neg, accumulated)

    grads, losses, new = jax.vmap(one)(*pes_state, keys)
    return Estimate(member_mean(grads), losses, new)


ESTIMATORS = ("tbptt", "es", "pes", "es_sign")

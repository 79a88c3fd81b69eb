r"""``minivelo.velo``: VeLO as an optax transformation.

.. code-block:: python

    tx = minivelo.velo(num_steps=1000, weights="path/to/params")
    state = tx.init(params)
    updates, state = tx.update(grads, state, params, loss=loss)
    params = optax.apply_updates(params, updates)

What the wrapper adds around one VeLO update (:mod:`.fused`, or :mod:`.reference`):

- **Weight decay** (as the published wrapper): :math:`g \leftarrow g + \lambda p` and
  :math:`L \leftarrow L + \lambda \sum p^2`.
- **Long runs** (as the published wrapper): above 150,000 steps, gradients and losses are
  averaged over :math:`k = \lceil N / 150\,000 \rceil` calls and VeLO steps once per k calls
  with horizon :math:`N // k`; the other calls return zero updates.
- **Past num_steps** (published behaviour, kept): nothing stops; the fraction-trained
  features keep growing past 1 (VeLO was never trained there, so expect it to behave as
  at the end of training or worse).
- **Non-finite loss or gradients** (our choice; the published model would spread NaN into
  its state): the call is skipped. Updates are zero, the state is unchanged, and
  ``state.num_skipped`` counts such calls.

References:
  Metz, Harrison, Freeman, Nado, Sohl-Dickstein et al. "VeLO: Training Versatile Learned
  Optimizers by Scaling Up", 2022. https://arxiv.org/abs/2211.09760 (and the published
  code, google/learned_optimization, ``research/general_lopt``).
"""

from __future__ import annotations

import math
import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.lopt.velo import checkpoint, fused, reference
from minivelo.lopt.velo.params import as_float32, infer_config
from minivelo.lopt.velo.state import VeLOState, init_state

# Where trained minivelo weights ship inside the package; velo(weights=None) loads the
# first of these files that exists there (msgpack as checkpoint.save writes it, or a flat
# .npz with the published names, as checkpoint.flatten gives them).
WEIGHTS_DIR = pathlib.Path(__file__).resolve().parents[2] / "weights"
SHIPPED_WEIGHTS = ("minivelo_small.msgpack", "minivelo_small.npz")
# The published wrapper's longest horizon without gradient accumulation.
MAX_HORIZON = 150_000
IMPLEMENTATIONS = {"fused": fused.update, "reference": reference.update}


class VeLOOptimizerState(NamedTuple):
    velo: VeLOState  # the model's own state
    num_skipped: jax.Array  # int32: calls skipped for a non-finite loss or gradient
    grad_sum: Any  # running sum of gradients (accumulation only, else None)
    loss_sum: jax.Array  # running sum of losses (accumulation only)
    num_accumulated: jax.Array  # int32: calls in the running sums
    # The meta-parameters, carried as data: the compiled update reads them from here, so
    # states of one preset with different weights share one compilation (see velo).
    theta: Any = None


def shipped_weights_path() -> pathlib.Path | None:
    """The shipped minivelo weights file, or None while none has been trained yet."""
    for name in SHIPPED_WEIGHTS:
        if (WEIGHTS_DIR / name).exists():
            return WEIGHTS_DIR / name
    return None


def load_weights(weights) -> dict:
    """Meta-parameters from ``weights`` (see :func:`velo`) as a float32 jax tree."""
    if weights is None:
        path = shipped_weights_path()
        if path is None:
            raise ValueError(
                "minivelo ships no trained VeLO weights yet (none found in "
                f"{WEIGHTS_DIR}). Pass weights=...: a published VeLO 'params' file (see "
                "minivelo.lopt.velo.download.fetch_published_weights), a flat .npz like "
                "golden_a/meta_params.npz, or a pytree such as "
                "minivelo.lopt.velo.params.init_meta_params(key, 'small') (untrained)."
            )
        weights = path
    theta = as_float32(checkpoint.load(weights))
    infer_config(theta)
    return theta


def velo(
    num_steps: int,
    *,
    weights=None,
    weight_decay: float = 0.0,
    implementation: str = "fused",
) -> optax.GradientTransformationExtraArgs:
    r"""VeLO (Metz et al. 2022), the learned optimizer, as an optax transformation.

    .. math::
        \Delta p = d \cdot \mathrm{rms}(p) \cdot e^{0.001 a} \cdot 0.001 \cdot
        \text{lr\_mult}, \qquad p \leftarrow p - \Delta p

    where, per tensor, an LSTM reads 30 features (training progress, loss features,
    momentum and second-moment statistics) and sets ``lr_mult`` and the mixing of a bank
    of tiny MLPs; the MLP maps each parameter's 30 channels to direction :math:`d` and
    magnitude :math:`a`. See :mod:`minivelo.lopt.velo` for each piece.

    Args:
      num_steps: the planned length of training (VeLO conditions on the fraction done).
      weights: the meta-parameters: a path to a published-format msgpack checkpoint (the
        ``params`` file), a path to a flat ``.npz`` (names like ``rnn_params/linear_1/w``),
        or an in-memory pytree in the published nesting. Sizes are read off the shapes.
        None loads the weights that ship in ``minivelo/weights/``
        (``minivelo_small.msgpack``, meta-trained by this project; its ``.json`` records
        how). A ValueError says how to pass weights only if that file has been removed.
      weight_decay: :math:`\lambda`; adds :math:`\lambda p` to g and
        :math:`\lambda \sum p^2` to the loss, as the published wrapper does.
      implementation: ``"fused"`` (fast, the default) or ``"reference"`` (plain).

    Behaviour at the edges (see the module docstring): past ``num_steps`` VeLO keeps
    stepping with fraction trained > 1 (the published behaviour); a non-finite loss or
    gradient skips the call (zero updates, state unchanged, ``state.num_skipped += 1``);
    above 150,000 steps gradients are averaged over ``ceil(num_steps / 150_000)`` calls.

    Weights are data: ``tx.init`` puts (a copy of) the meta-parameters into the state
    (``state.theta``) and ``update`` reads them from there, so they are never baked into a
    compiled program as constants. A jitted training step compiles once per preset and
    runs any weight set of that size (``with_weights(state, other)``, or a state from
    another ``velo(...)``'s ``init``); the published size no longer embeds 9 MB of
    constants in each program. The state is larger by the weights (58 kB small, 9.3 MB
    published); ``state.velo`` alone is the per-parameter state.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose
      ``update(grads, state, params, *, loss)`` needs ``params`` and the training ``loss``
      (a keyword). Works under ``jax.jit`` and with ``flax.nnx.Optimizer``
      (``optimizer.update(model, grads, loss=loss)``).

    Example::

      tx = minivelo.velo(1000, weights=theta)
      updates, state = tx.update(grads, state, params, loss=loss)
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    num_steps = int(num_steps)
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float, np.integer, np.floating))
        or not math.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {sorted(IMPLEMENTATIONS)}")
    theta = load_weights(weights)
    one_update = IMPLEMENTATIONS[implementation]
    # Long runs: average k calls per VeLO step and tell VeLO the horizon in VeLO steps.
    accumulate = math.ceil(num_steps / MAX_HORIZON) if num_steps > MAX_HORIZON else 1
    horizon = num_steps // accumulate
    weight_decay = float(weight_decay)

    def init_fn(params):
        _check_params(params, "params")
        params32 = jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)
        grad_sum = jax.tree.map(jnp.zeros_like, params32) if accumulate > 1 else None
        return VeLOOptimizerState(
            velo=init_state(params32, theta),
            num_skipped=jnp.zeros((), jnp.int32),  # distinct buffers, so state can be donated
            grad_sum=grad_sum,
            loss_sum=jnp.zeros((), jnp.float32),
            num_accumulated=jnp.zeros((), jnp.int32),
            # A copy per state: donating one state must not delete the caller's weights.
            theta=jax.tree.map(jnp.array, theta),
        )

    def update_fn(grads, state, params=None, *, loss=None, **extra_args):
        del extra_args  # other transforms' extra arguments
        if params is None:
            raise ValueError(
                "velo needs the parameters: call tx.update(grads, state, params, loss=loss)"
            )
        if loss is None:
            raise ValueError(
                "velo needs the training loss: call tx.update(grads, state, params, loss=loss)"
            )
        _check_params(params, "params")
        if getattr(state, "theta", None) is None:
            raise ValueError(
                "velo's state carries its meta-parameters: make it with tx.init(params) "
                "(a state saved before weights were data lacks them; see with_weights)"
            )
        if jax.tree.structure(grads) != jax.tree.structure(params):
            raise ValueError(
                "grads and params have different tree structures: "
                f"{jax.tree.structure(grads)} vs {jax.tree.structure(params)}"
            )
        _check_params(grads, "grads")
        _check_shapes(grads, params, state)
        loss = jnp.asarray(loss, jnp.float32)
        if loss.shape != ():
            raise ValueError(f"loss must be a scalar, got shape {loss.shape}")
        dtypes = jax.tree.map(lambda p: p.dtype, params)
        params32 = jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)
        grads32 = jax.tree.map(lambda g: jnp.asarray(g, jnp.float32), grads)
        if weight_decay:
            grads32 = jax.tree.map(lambda g, p: g + weight_decay * p, grads32, params32)
            loss = loss + weight_decay * sum(jnp.sum(p * p) for p in jax.tree.leaves(params32))

        # NaN or inf anywhere: skip this call entirely. (sum(0 * g) is NaN exactly when
        # some g is not finite; a float sum vectorises, a boolean all() does not.)
        finite = jnp.isfinite(loss)
        for g in jax.tree.leaves(grads32):
            finite &= jnp.isfinite(jnp.sum(0.0 * g))

        def zeros():
            return jax.tree.map(lambda p, dtype: jnp.zeros(p.shape, dtype), params32, dtypes)

        def velo_step(grads_mean, loss_mean, velo_state):
            steps, new_state, _ = one_update(
                state.theta, velo_state, grads_mean, params32, loss_mean, horizon
            )
            updates = jax.tree.map(lambda s, dtype: (-s).astype(dtype), steps, dtypes)
            return updates, new_state

        def take(state):
            if accumulate == 1:
                updates, new_velo = velo_step(grads32, loss, state.velo)
                return updates, state._replace(velo=new_velo)
            grad_sum = jax.tree.map(jnp.add, state.grad_sum, grads32)
            loss_sum, count = state.loss_sum + loss, state.num_accumulated + 1

            def apply(_):
                mean = jax.tree.map(lambda s: s / accumulate, grad_sum)
                updates, new_velo = velo_step(mean, loss_sum / accumulate, state.velo)
                cleared = jax.tree.map(jnp.zeros_like, grad_sum)
                return updates, state._replace(
                    velo=new_velo,
                    grad_sum=cleared,
                    loss_sum=jnp.zeros_like(loss_sum),
                    num_accumulated=jnp.zeros_like(count),
                )

            def wait(_):
                return zeros(), state._replace(
                    grad_sum=grad_sum, loss_sum=loss_sum, num_accumulated=count
                )

            return jax.lax.cond(count >= accumulate, apply, wait, None)

        def skip(state):
            return zeros(), state._replace(num_skipped=state.num_skipped + 1)

        return jax.lax.cond(finite, take, skip, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def with_weights(state: VeLOOptimizerState, weights) -> VeLOOptimizerState:
    """``state`` with its meta-parameters replaced by ``weights`` (anything :func:`velo` takes).

    The weights are data in the state, so a jitted step compiled for one weight set runs
    another of the same preset without recompiling. The accumulators and the LSTM state
    are kept (reset them with a fresh ``tx.init(params)`` if they should start over).

    Raises:
      ValueError: if the new weights are of another size than the state's (the LSTM state
        and the compiled program depend on the size).
    """
    theta = load_weights(weights)
    if state.theta is not None:
        old, new = infer_config(state.theta), infer_config(theta)
        if old != new:
            raise ValueError(f"the state holds weights of {old}; the new weights are {new}")
    return state._replace(theta=jax.tree.map(jnp.array, theta))


def _check_params(params, what: str = "params") -> None:
    if params is None:
        raise ValueError(f"velo needs the {'parameters' if what == 'params' else what} (got None)")
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ValueError(f"velo got an empty {what} tree")
    for path, p in leaves:
        if not isinstance(p, (jax.Array, np.ndarray, np.generic)):
            raise TypeError(
                f"velo needs arrays; {what}{jax.tree_util.keystr(path)} is a "
                f"{type(p).__name__} ({p!r}): wrap it with jnp.asarray"
            )
        dtype = jnp.result_type(p)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"velo optimizes floating-point parameters only; parameter "
                f"{jax.tree_util.keystr(path)} has dtype {dtype}"
            )
        if jnp.size(p) == 0:
            raise ValueError(f"parameter {jax.tree_util.keystr(path)} is empty (size 0)")


def _check_shapes(grads, params, state) -> None:
    """Every gradient has its parameter's shape, and every parameter the shape it had at
    ``init`` (VeLO's per-tensor state is shaped like it); the message names the leaf."""
    initial = [jnp.shape(m) for m in state.velo.second_moment]
    named = jax.tree_util.tree_leaves_with_path(params)
    if len(initial) != len(named):
        raise ValueError(
            f"velo's state was made for {len(initial)} parameter tensors, got {len(named)}"
        )
    for (path, p), g, shape in zip(named, jax.tree.leaves(grads), initial):
        name = jax.tree_util.keystr(path)
        if jnp.shape(g) != jnp.shape(p):
            raise ValueError(
                f"grads{name} has shape {jnp.shape(g)} but params{name} has {jnp.shape(p)}"
            )
        if jnp.shape(p) != shape:
            raise ValueError(
                f"params{name} has shape {jnp.shape(p)}, but the state was made by "
                f"init for shape {shape}"
            )

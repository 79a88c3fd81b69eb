r"""VeLO's configuration and its meta-parameters :math:`\theta` (the learned weights).

Only two sizes vary between configurations: the LSTM width :math:`H` and the number of
MLP weight banks :math:`J`. Everything else is fixed by the published model:

- per-parameter MLP: 30 inputs -> 4 -> ReLU -> 4 -> ReLU -> 3 outputs;
- momentum decays (0.9, 0.99, 0.999), second-moment decay 0.999, factored decays
  (0.9, 0.99, 0.999); ``exp_mult = step_mult = 0.001``.

The meta-parameter tree keeps the published nesting, so a published checkpoint loads
without renaming (note ``'rnn/linear'`` is one key that contains a '/')::

    ff_mod_stack/~/w0__{i}      (J, group_size_i, 4)  first MLP layer, 14 input groups
    ff_mod_stack/~/b0, w1, b1   (J, 4), (J, 4, 4), (J, 4)
    ff_mod_stack/~/w2, b2       (J, 4, 3), (J, 3)
    lstm_init_state/hidden|cell (1, H)
    rnn_params/linear/{w,b}     (30, H), (H,)      present in the weights, never used
    rnn_params/linear_1/{w,b}   (30, H), (H,)      cross-tensor mixing, pooled branch
    rnn_params/linear_2/{w,b}   (30, H), (H,)      cross-tensor mixing, direct branch
    rnn_params/rnn/linear/{w,b} (2H, 4H), (4H,)    the LSTM
    rnn_params/rnn_to_controls  (H, J), (J,)       bank-mixing coefficients
    rnn_params/step_size        (H, 1), (1,)       lr_mult
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any

# ---------------------------------------------------------------- fixed architecture
NUM_TENSOR_FEATURES = 30  # per-tensor LSTM input width
MLP_HIDDEN = 4  # the per-parameter MLP is 30 -> 4 -> 4 -> 3
MLP_OUTPUTS = 3  # direction, magnitude, (unused)
MOMENTUM_DECAYS = (0.9, 0.99, 0.999)
SECOND_MOMENT_DECAY = 0.999
FACTORED_DECAYS = (0.9, 0.99, 0.999)
EXP_MULT = 0.001  # step = direction * exp(EXP_MULT * magnitude) * STEP_MULT * ...
STEP_MULT = 0.001
# Sizes of the 14 input groups of the per-parameter MLP (30 channels in all); see
# features.parameter_features for what each group is.
INPUT_GROUP_SIZES = (1, 1, 1, 3, 1, 3, 1, 3, 1, 3, 3, 3, 3, 3)
NUM_PARAMETER_FEATURES = sum(INPUT_GROUP_SIZES)  # 30


@dataclasses.dataclass(frozen=True)
class VeLOConfig:
    """The sizes that vary: LSTM width ``lstm_hidden_size`` (H), MLP banks ``num_banks`` (J)."""

    lstm_hidden_size: int = 512
    num_banks: int = 256

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of every meta-parameter, by '/'-free key path tuple -> shape."""
        return {path: shape for path, shape in _expected_shapes(self)}

    @property
    def num_meta_params(self) -> int:
        return int(sum(np.prod(s) for s in self.shapes.values()))


PRESETS: dict[str, VeLOConfig] = {
    # The published VeLO (2,320,385 meta-parameters).
    "published": VeLOConfig(lstm_hidden_size=512, num_banks=256),
    # Small enough to meta-train on a CPU.
    "small": VeLOConfig(lstm_hidden_size=32, num_banks=16),
    # The size of the golden_tiny test vectors (5,057 meta-parameters).
    "tiny": VeLOConfig(lstm_hidden_size=16, num_banks=8),
}


def _expected_shapes(config: VeLOConfig):
    """Yield (key path, shape) for every meta-parameter of ``config``, in sorted order."""
    H, J, K = config.lstm_hidden_size, config.num_banks, MLP_HIDDEN
    mlp = {"b0": (J, K), "b1": (J, K), "b2": (J, MLP_OUTPUTS), "w1": (J, K, K)}
    mlp["w2"] = (J, K, MLP_OUTPUTS)
    for i, size in enumerate(INPUT_GROUP_SIZES):
        mlp[f"w0__{i}"] = (J, size, K)
    for name in sorted(mlp):
        yield ("ff_mod_stack", "~", name), mlp[name]
    yield ("lstm_init_state", "cell"), (1, H)
    yield ("lstm_init_state", "hidden"), (1, H)
    rnn = {
        "linear": (NUM_TENSOR_FEATURES, H),
        "linear_1": (NUM_TENSOR_FEATURES, H),
        "linear_2": (NUM_TENSOR_FEATURES, H),
        "rnn/linear": (2 * H, 4 * H),
        "rnn_to_controls": (H, J),
        "step_size": (H, 1),
    }
    for name in sorted(rnn):
        yield ("rnn_params", name, "b"), (rnn[name][1],)
        yield ("rnn_params", name, "w"), rnn[name]


# ---------------------------------------------------------------- initialisation
def init_meta_params(key: jax.Array, config: VeLOConfig | str = "small") -> PyTree:
    r"""Fresh meta-parameters :math:`\theta`, initialised as the published model is.

    Linears and the LSTM: truncated normal (2 sigma) with :math:`\sigma = 1/\sqrt{\text{fan in}}`,
    biases 0. MLP banks: :math:`\sigma = 1/\sqrt{30}` for every ``w0__i`` and 1/2 for ``w1``
    and ``w2``, biases 0. ``lstm_init_state`` zeros.

    All random tensors come from ONE flat draw of :math:`\sum_i n_i` standard truncated
    normals, cut into the tensors in sorted key order and scaled by each :math:`\sigma_i`
    (a truncated normal scaled by :math:`\sigma` is the truncated normal of width
    :math:`\sigma`). One draw is one compiled program, where a draw per shape compiled
    one program per distinct shape (about 15 s on a busy 2-core machine, now well under 1 s).
    """
    config = PRESETS[config] if isinstance(config, str) else config
    layout = [(path, shape, _init_std(path, shape)) for path, shape in _expected_shapes(config)]
    total = sum(int(np.prod(shape)) for _, shape, std in layout if std)
    flat = np.asarray(jax.random.truncated_normal(key, -2.0, 2.0, (total,), jnp.float32))
    theta: dict = {}
    offset = 0
    for path, shape, std in layout:
        if std:
            size = int(np.prod(shape))
            value = np.float32(std) * flat[offset : offset + size].reshape(shape)
            offset += size
        else:
            value = np.zeros(shape, np.float32)  # biases and the initial LSTM state
        _set(theta, path, jnp.asarray(value))
    return theta


def _init_std(path: tuple[str, ...], shape: tuple[int, ...]) -> float:
    """The initial standard deviation of one meta-parameter (0 for biases and states)."""
    name = path[-1]
    if name.startswith("w0__"):
        return float(1.0 / np.sqrt(NUM_PARAMETER_FEATURES))
    if path[0] == "ff_mod_stack" and name in ("w1", "w2"):
        return 0.5
    if path[0] == "rnn_params" and name == "w":
        return float(1.0 / np.sqrt(shape[0]))  # fan in
    return 0.0


def _set(tree: dict, path: tuple[str, ...], value) -> None:
    for name in path[:-1]:
        tree = tree.setdefault(name, {})
    tree[path[-1]] = value


# ---------------------------------------------------------------- shape checks
def infer_config(theta: PyTree) -> VeLOConfig:
    """Read H and J off a meta-parameter tree, then check every tensor's shape against them.

    Raises:
      ValueError: naming the first tensor that is missing, unexpected or misshapen, with
        its shape and the shape the inferred configuration needs.
    """
    try:
        H = int(np.shape(theta["lstm_init_state"]["hidden"])[-1])
        J = int(np.shape(theta["rnn_params"]["rnn_to_controls"]["b"])[0])
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(
            "VeLO weights must be a tree with 'lstm_init_state/hidden' and "
            f"'rnn_params/rnn_to_controls/b' (the published layout); missing {err}"
        ) from None
    config = VeLOConfig(lstm_hidden_size=H, num_banks=J)
    check_meta_params(theta, config)
    return config


def check_meta_params(theta: PyTree, config: VeLOConfig) -> None:
    """Raise ValueError naming any tensor of ``theta`` that does not fit ``config``."""
    expected = config.shapes
    found = {_path_names(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(theta)}
    where = f"(LSTM {config.lstm_hidden_size}, {config.num_banks} banks)"
    for path, shape in expected.items():
        name = "/".join(path)
        if path not in found:
            raise ValueError(f"VeLO weights lack tensor {name!r} of shape {shape} {where}")
        got = tuple(np.shape(found[path]))
        if got != shape:
            raise ValueError(
                f"VeLO weights tensor {name!r} has shape {got}, expected {shape} {where}"
            )
        if not jnp.issubdtype(jnp.result_type(found[path]), jnp.floating):
            raise TypeError(f"VeLO weights tensor {name!r} has non-float dtype")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ValueError(f"VeLO weights hold unexpected tensor {'/'.join(extra[0])!r} {where}")


def _path_names(path) -> tuple[str, ...]:
    return tuple(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def as_float32(theta: PyTree) -> PyTree:
    """The tree with every leaf a float32 jax array (checkpoints may hold numpy arrays)."""
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), theta)

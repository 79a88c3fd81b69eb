"""VeLO meta-parameters on disk: published msgpack ``params`` files, flat ``.npz``, ours.

- **Published** (``flax.serialization.to_bytes`` of ``{params: theta, gen_id, step}``, as
  google/learned_optimization writes them): :func:`load_published`. The tree nests as
  ``ff_mod_stack/~/...``, ``lstm_init_state/...``, ``rnn_params/...``, where
  ``'rnn/linear'`` is ONE key.
- **Flat npz** with '/'-joined names, like ``golden_*/meta_params.npz``: :func:`load_npz`.
  The known module name ``rnn/linear`` is rejoined when the names are split.
- **Ours**: :func:`save` writes the published format (so anything that reads published
  weights reads ours), with ``gen_id`` recording the configuration; :func:`load` reads
  any of the three, picking by content.

Every loader checks what it read: the tensors must have the shapes of one VeLO
configuration (:func:`~minivelo.lopt.velo.params.infer_config`) and hold only finite
numbers (:func:`check_finite`); a NaN or inf in the weights would otherwise turn every
parameter it touches into NaN after one step. The error names the tensor.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import msgpack
import numpy as np
from flax import serialization

from minivelo.lopt.velo.params import infer_config

PyTree = Any

# Module names of the published model that contain a '/' themselves.
_SLASHED_MODULES = ("rnn/linear",)


def load_published(path_or_bytes) -> dict:
    """Read a published-format msgpack checkpoint; returns theta (numpy leaves), checked."""
    data = _read_bytes(path_or_bytes)
    record = serialization.msgpack_restore(data)
    if not isinstance(record, dict) or "params" not in record:
        raise ValueError("not a VeLO checkpoint: expected a msgpack record with 'params'")
    return _checked(_to_numpy_tree(record["params"]))


def load_npz(path) -> dict:
    """Read a flat ``.npz`` with '/'-joined names (``rnn_params/rnn/linear/w`` etc.)."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{os.fspath(path)} is not a zip archive, so not an .npz (a truncated or "
            "corrupt file, or another format with a 'PK' start)"
        )
    try:
        with np.load(path) as flat:
            theta = unflatten({name: np.asarray(flat[name]) for name in flat.files})
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(
            f"{os.fspath(path)} starts like a zip archive (.npz) but is not a readable one: {err}"
        ) from err
    return _checked(theta)


def check_finite(theta: PyTree) -> None:
    """Raise a ValueError naming the first tensor of ``theta`` with a NaN or inf."""
    for name, value in flatten(theta).items():
        if not np.issubdtype(value.dtype, np.number):
            raise ValueError(f"VeLO meta-parameter {name!r} is not numeric (dtype {value.dtype})")
        finite = np.isfinite(value)
        if not finite.all():
            bad = int(value.size - np.count_nonzero(finite))
            first = np.unravel_index(int(np.argmin(finite)), value.shape)
            raise ValueError(
                f"VeLO meta-parameter {name!r} holds {bad} non-finite value(s) of "
                f"{value.size} (first at index {tuple(int(i) for i in first)}: "
                f"{value[first]}): corrupt or diverged weights are refused"
            )


def flatten(theta: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested tree -> ``{'a/b/c': array}`` (the ``meta_params.npz`` naming)."""
    flat = {}
    for key, value in theta.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        else:
            flat[name] = np.asarray(value)
    return flat


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    """``{'a/b/c': array}`` -> nested tree, keeping ``rnn/linear`` as one key."""
    theta: dict = {}
    for name, value in flat.items():
        for module in _SLASHED_MODULES:  # protect the '/' inside module names
            name = name.replace(module, module.replace("/", "\0"))
        parts = [part.replace("\0", "/") for part in name.split("/")]
        node = theta
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return theta


def save(path, theta: PyTree, *, gen_id: str = "minivelo", step: int = 0) -> None:
    """Write theta in the published msgpack format (readable by :func:`load_published`)."""
    config = infer_config(theta)
    record = {
        "params": _to_numpy_tree(theta),
        "gen_id": f"{gen_id} lstm={config.lstm_hidden_size} banks={config.num_banks}",
        "step": int(step),
    }
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(serialization.msgpack_serialize(record))
    os.replace(tmp, path)  # never leave a half-written checkpoint


def load(weights) -> dict:
    """theta from a path (published msgpack or flat ``.npz``), raw bytes or a pytree."""
    if isinstance(weights, bytes):
        return load_published(weights)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if not os.path.exists(path):
            raise FileNotFoundError(f"VeLO weights file not found: {path}")
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic.startswith(b"PK"):  # a zip archive: numpy's .npz
            return load_npz(path)
        try:
            return load_published(path)
        except (msgpack.exceptions.ExtraData, msgpack.exceptions.UnpackException, ValueError) as e:
            raise ValueError(f"{path} is neither a published VeLO msgpack nor an .npz: {e}") from e
    if isinstance(weights, dict):
        if "params" in weights and "rnn_params" not in weights:
            weights = weights["params"]  # a whole checkpoint record
        return _checked(_to_numpy_tree(weights))
    raise TypeError(
        f"weights must be a path, bytes or a pytree of meta-parameters, not {type(weights)}"
    )


def _checked(theta: dict) -> dict:
    infer_config(theta)  # raises naming any misshapen tensor
    check_finite(theta)  # raises naming any tensor with NaN or inf
    return theta


def _read_bytes(path_or_bytes) -> bytes:
    if isinstance(path_or_bytes, bytes):
        return path_or_bytes
    with open(path_or_bytes, "rb") as f:
        return f.read()


def _to_numpy_tree(tree):
    if isinstance(tree, dict):
        return {str(k): _to_numpy_tree(v) for k, v in tree.items()}
    return np.asarray(tree)

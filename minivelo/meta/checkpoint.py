"""Checkpoints: one ``.npz`` per save, written atomically, checked on load.

A checkpoint holds a tree of arrays (meta-parameters, outer optimizer state, the whole
population of inner runs) flattened by key path, plus a JSON header (format version, the
run's configuration, the outer step). Saving writes ``<name>.tmp`` and then
``os.replace``-s it over ``<name>``: a crash mid-write leaves the previous checkpoint
intact, never a half-written one.

Loading checks the file against a *template* (the tree a fresh run with the same
configuration would build) and raises :class:`CheckpointError` saying what is wrong: an
unreadable or truncated file, a different configuration, a missing or misshapen array.
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from typing import Any

import jax
import numpy as np

PyTree = Any
FORMAT = "minivelo-meta-checkpoint-1"
HEADER = "__header__"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: corrupt, or from a different configuration."""


def flatten(tree: PyTree) -> dict[str, np.ndarray]:
    return {
        jax.tree_util.keystr(path): np.asarray(jax.device_get(leaf))
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


def save(path, tree: PyTree, header: dict) -> None:
    """Write ``tree`` and ``header`` to ``path`` atomically (temp file, then ``os.replace``)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = flatten(tree)
    if HEADER in arrays:
        raise ValueError(f"{HEADER!r} is reserved")
    text = json.dumps({"format": FORMAT, **header}, sort_keys=True)
    arrays[HEADER] = np.frombuffer(text.encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_header(path) -> dict:
    return load_arrays(path)[0]


def load_arrays(path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(header, arrays)`` of a checkpoint file; :class:`CheckpointError` if unreadable."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        header = json.loads(bytes(arrays.pop(HEADER)).decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {err}") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} file (format {header.get('format')!r})")
    return header, arrays


def load(
    path, template: PyTree, expect: dict | None = None, partial: bool = False
) -> tuple[PyTree, dict]:
    """Restore a tree shaped like ``template`` from ``path``: ``(tree, header)``.

    ``expect``: header entries that must match (e.g. the configuration); a difference
    raises :class:`CheckpointError` naming the first differing entry. ``partial``: the
    file may hold more arrays than ``template`` asks for (e.g. reading only theta).
    """
    header, arrays = load_arrays(path)
    for key, value in (expect or {}).items():
        if header.get(key) != value:
            raise CheckpointError(
                f"checkpoint {path} was written with a different {key}: "
                f"{_diff(header.get(key), value)}"
            )
    leaves = []
    for keypath, leaf in jax.tree_util.tree_leaves_with_path(template):
        name = jax.tree_util.keystr(keypath)
        if name not in arrays:
            raise CheckpointError(f"checkpoint {path} lacks array {name}")
        value = arrays.pop(name)
        # A jax.Array's own dtype: multi-host, a template leaf spans other hosts' devices
        # and cannot be fetched.
        dtype = leaf.dtype if isinstance(leaf, jax.Array) else np.asarray(leaf).dtype
        want_shape, want_dtype = np.shape(leaf), dtype
        if value.shape != want_shape or value.dtype != want_dtype:
            raise CheckpointError(
                f"checkpoint {path}: {name} is {value.dtype}{list(value.shape)}, "
                f"expected {want_dtype}{list(want_shape)}"
            )
        leaves.append(value)
    if arrays and not partial:
        raise CheckpointError(f"checkpoint {path} holds unexpected array {sorted(arrays)[0]}")
    treedef = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(treedef, leaves), header


def _diff(found, expected) -> str:
    if isinstance(found, dict) and isinstance(expected, dict):
        for key in sorted(set(found) | set(expected)):
            if found.get(key) != expected.get(key):
                return f"{key!r} is {found.get(key)!r} there, {expected.get(key)!r} here"
    return f"{found!r} there, {expected!r} here"

"""Which VeLO weights a report uses: an optimizer spec for them, without any registry.

:func:`velo_spec` turns "the shipped weights", a weights file or an in-memory pytree of
meta-parameters into an :class:`~minivelo.bench.optimizers.OptimizerSpec` that the
benchmark trains directly, and a description naming the weights by content hash. Nothing
is written into the global optimizer registry, so evaluating two weights files in one
process cannot make one shadow the other.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib

from minivelo.bench import optimizers


def sha256_prefix(path, length: int = 12) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()[:length]


def velo_spec(weights=None) -> tuple[optimizers.OptimizerSpec, str]:
    """``(optimizer spec, description)`` for VeLO with ``weights``; raises before training.

    ``None``: the shipped weights (the registry's ``"velo"``). A path or a pytree of
    meta-parameters: a spec of its own, ``functools.partial(minivelo.velo, weights=theta)``,
    labelled ``velo[<file stem>-<sha256 prefix>]``. A missing file raises
    FileNotFoundError, a file that is not VeLO weights ValueError.
    """
    from minivelo.lopt.velo import optimizer as velo_optimizer

    if weights is None:
        velo_optimizer.load_weights(None)  # a clear error if none ship, or they are broken
        path = velo_optimizer.shipped_weights_path()
        return optimizers.parse_spec("velo"), f"shipped {path.name} (sha256 {sha256_prefix(path)})"
    if isinstance(weights, (str, os.PathLike)):
        path = pathlib.Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VeLO weights file not found: {path}")
        theta = velo_optimizer.load_weights(path)
        digest = sha256_prefix(path)
        name, description = f"velo[{path.stem}-{digest}]", f"{path} (sha256 {digest})"
    else:
        theta = velo_optimizer.load_weights(weights)
        name, description = f"velo[pytree-{id(weights):x}]", "in-memory meta-parameters"
    factory = functools.partial(velo_optimizer.velo, weights=theta)
    entry = optimizers.OptimizerEntry(name.replace(":", "_"), factory, None)
    return optimizers.OptimizerSpec(entry, None), description

r"""Golden test vectors of the published VeLO: recorded inputs and outputs of its code.

A bundle was recorded by running the published ``HyperV2`` (google/learned_optimization,
``learned_optimization/research/general_lopt/hyper_v2.py``) for a few updates on a small
target: the meta-parameters, each update's parameters, gradients and loss fed in, and what
came out (the step, the LSTM inputs, controls and step-size multiplier, the full state).
Replaying the inputs through minivelo and comparing the outputs shows that minivelo's VeLO
computes what the published code computes.

- ``golden_tiny`` (LSTM width 16, 8 weight banks, step-size bias raised so steps are large
  enough to compare sharply; 260 kB) ships inside the package: :func:`load_golden` finds it
  anywhere minivelo is installed, Colab included.
- ``golden_a`` (the published size, 2,320,385 random meta-parameters; 10 MB) lives in the
  repository's ``tests/data/golden_a``; :func:`load_golden` finds it from inside a checkout
  and raises :class:`FileNotFoundError` saying so elsewhere (:func:`find_golden` returns
  ``None`` instead).

A step agrees when, per tensor,
:math:`\max|\text{ours} - \text{ref}| \le 10^{-4} \max|\text{ref}| + 2\,\mathrm{ulp}(\max|p|)`
(:func:`step_tolerance`): ``update_f64`` is a difference of float32 parameters, so it is
quantised to their float32 spacing.

References: Metz et al. 2022, "VeLO: Training Versatile Learned Optimizers by Scaling Up",
https://arxiv.org/abs/2211.09760; the code, https://github.com/google/learned_optimization.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np

from minivelo.lopt.velo import checkpoint

#: Bundles shipped inside the package (``minivelo/data/<name>/``).
PACKAGED = ("golden_tiny",)
#: Bundles that live in a checkout, under ``tests/data/<name>/``.
IN_CHECKOUT = ("golden_a",)
NAMES = PACKAGED + IN_CHECKOUT
#: Meta-parameter files a bundle may hold, in the order they are preferred.
THETA_FILES = ("meta_params.npz", "params.msgpack")


def _checkout_root(start: Path | None = None) -> Path | None:
    """The minivelo checkout containing ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "tests" / "data").is_dir():
            return folder
    return None


def find_golden(name: str, *, start: Path | None = None) -> Path | None:
    """The folder of bundle ``name``, or ``None`` when it is not reachable from here."""
    if name not in NAMES:
        raise ValueError(f"unknown golden bundle {name!r}; bundles: {NAMES}")
    if name in PACKAGED:
        folder = Path(str(resources.files("minivelo") / "data" / name))
        return folder if (folder / "trajectory.npz").is_file() else None
    root = _checkout_root(start)
    if root is None:
        return None
    folder = root / "tests" / "data" / name
    return folder if (folder / "trajectory.npz").is_file() else None


class GoldenBundle:
    """One bundle: ``meta`` (its meta.json), ``theta``, and the recorded ``trajectory``."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        missing = [f for f in ("meta.json", "trajectory.npz") if not (folder / f).is_file()]
        theta_file = next((folder / f for f in THETA_FILES if (folder / f).is_file()), None)
        if missing or theta_file is None:
            wanted = missing + ([] if theta_file else [" or ".join(THETA_FILES)])
            raise FileNotFoundError(f"{folder} is not a golden bundle: missing {wanted}")
        self.path, self.name = folder, folder.name
        self.meta = json.loads((folder / "meta.json").read_text())
        with np.load(folder / "trajectory.npz") as record:
            self.trajectory = {key: record[key] for key in record.files}
        self.theta_file = theta_file
        self.theta = checkpoint.load(theta_file)
        self.leaf_order: list[str] = list(self.meta["target"]["leaf_order"])
        self.num_steps = int(self.meta["num_steps"])
        self.num_updates = int(self.meta["n_updates"])

    def __repr__(self) -> str:
        return (
            f"GoldenBundle({self.name!r}: {self.num_updates} updates x "
            f"{len(self.leaf_order)} tensors, horizon {self.num_steps})"
        )

    def tree(self, step: int, kind: str) -> dict[str, np.ndarray]:
        """``params_before``, ``grads``, ``params_after`` or ``update_f64`` of update ``step``
        (``update_f64`` = params before - after, in float64: the step to subtract)."""
        if not 0 <= step < self.num_updates:
            raise IndexError(f"{self.name} has updates 0..{self.num_updates - 1}, not {step}")
        try:
            return {name: self.trajectory[f"step{step}/{kind}/{name}"] for name in self.leaf_order}
        except KeyError:
            raise KeyError(
                f"{self.name} records no {kind!r}; kinds: params_before, grads, params_after, "
                "update_f64"
            ) from None

    def loss(self, step: int) -> np.ndarray:
        return self.trajectory[f"step{step}/loss"]

    def trace(self, step: int, name: str) -> np.ndarray:
        return self.trajectory[f"step{step}/trace/{name}"]

    def state_after(self, step: int) -> dict[str, np.ndarray]:
        prefix = f"step{step}/state_after/"
        return {k[len(prefix) :]: v for k, v in self.trajectory.items() if k.startswith(prefix)}

    def checkpoint_sha256_matches(self) -> bool | None:
        """Whether ``params.msgpack`` has the sha256 recorded when the published serializer
        wrote it (``None`` when the bundle records none or holds no msgpack)."""
        sample = self.meta.get("checkpoint_format_sample")
        path = self.path / "params.msgpack"
        if not sample or not path.is_file():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest() == sample["sha256"]


def load_golden(name: str, *, start: Path | None = None) -> GoldenBundle:
    """Bundle ``name`` (see the module docstring for where each one lives)."""
    folder = find_golden(name, start=start)
    if folder is None:
        where = (
            "inside the installed package (minivelo/data); the installation is missing it"
            if name in PACKAGED
            else "in a minivelo checkout's tests/data; not in an installed package (e.g. Colab)"
        )
        raise FileNotFoundError(f"golden bundle {name!r} not found: it lives {where}")
    return GoldenBundle(folder)


def step_tolerance(published: np.ndarray, params: np.ndarray) -> float:
    """``1e-4 max|published| + 2 ulp(max|params|)`` (float32 ulp): the per-tensor bound."""
    ulp = np.spacing(np.float32(np.max(np.abs(params))))
    return float(1e-4 * np.max(np.abs(published)) + 2 * ulp)


def step_errors(bundle: GoldenBundle, step: int, steps_to_subtract: dict) -> dict[str, tuple]:
    """Per tensor ``(max abs error, tolerance)`` of ``steps_to_subtract`` against update
    ``step`` of the bundle (the published step, params before minus after)."""
    published, params = bundle.tree(step, "update_f64"), bundle.tree(step, "params_before")
    out = {}
    for name in bundle.leaf_order:
        mine = np.asarray(steps_to_subtract[name], np.float64)
        if mine.shape != published[name].shape:
            raise ValueError(
                f"tensor {name}: shape {mine.shape}, published {published[name].shape}"
            )
        error = float(np.max(np.abs(mine - published[name])))
        out[name] = (error, step_tolerance(published[name], params[name]))
    return out

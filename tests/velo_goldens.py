"""Golden test vectors of the published VeLO: loading, replay and comparison helpers.

``golden_tiny`` lives in ``tests/data``; ``golden_a`` is read from ``../shared/velo`` beside
the clone when it is there (CI has it) and skipped otherwise.
"""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minivelo.lopt.velo import checkpoint
from minivelo.lopt.velo.state import VeLOState

REPO = pathlib.Path(__file__).resolve().parents[1]
BUNDLES = {
    "golden_tiny": REPO / "tests" / "data" / "golden_tiny",
    "golden_a": REPO.parent / "shared" / "velo" / "golden_a",
}


class Golden:
    """One bundle: meta.json, the meta-parameters and the recorded trajectory."""

    def __init__(self, name: str):
        path = BUNDLES[name]
        if not (path / "trajectory.npz").exists():
            pytest.skip(f"{name} not found at {path}")
        self.name, self.path = name, path
        self.meta = json.loads((path / "meta.json").read_text())
        self.trajectory = dict(np.load(path / "trajectory.npz"))
        self.theta = jax.tree.map(jnp.asarray, checkpoint.load(path / "meta_params.npz"))
        self.leaf_order = self.meta["target"]["leaf_order"]
        self.num_steps = int(self.meta["num_steps"])
        self.num_updates = int(self.meta["n_updates"])

    def tree(self, step: int, kind: str) -> dict:
        """params_before / grads / params_after / update_f64 of update ``step``."""
        return {k: self.trajectory[f"step{step}/{kind}/{k}"] for k in self.leaf_order}

    def loss(self, step: int):
        return self.trajectory[f"step{step}/loss"]

    def trace(self, step: int, name: str) -> np.ndarray:
        return self.trajectory[f"step{step}/trace/{name}"]

    def state_after(self, step: int) -> dict:
        prefix = f"step{step}/state_after/"
        return {k[len(prefix) :]: v for k, v in self.trajectory.items() if k.startswith(prefix)}


def published_state(state: VeLOState, leaf_order) -> dict:
    """Our state in the published flat naming (decay axis last, as the reference stores it)."""
    flat = {
        "iteration": state.iteration,
        "lstm_hidden_state/hidden": state.lstm_hidden,
        "lstm_hidden_state/cell": state.lstm_cell,
        "loss_buffer/means": state.loss_buffer.means,
        "loss_buffer/running_min": state.loss_buffer.running_min,
        "loss_buffer/iteration": state.loss_buffer.iteration,
    }
    for name, m, v, fac in zip(
        leaf_order, state.momentum, state.second_moment, state.factored, strict=True
    ):
        flat[f"mom_rolling/m/{name}"] = jnp.moveaxis(m, 0, -1)
        flat[f"rms_rolling/rms/{name}"] = v[..., None]
        if fac.col is None:
            flat[f"fac_rolling/v_diag/{name}"] = jnp.moveaxis(fac.row, 0, -1)
        else:
            flat[f"fac_rolling/v_row/{name}"] = jnp.moveaxis(fac.row, 0, -1)
            flat[f"fac_rolling/v_col/{name}"] = jnp.moveaxis(fac.col, 0, -1)
    return {k: np.asarray(v) for k, v in flat.items()}


def assert_steps_close(mine: dict, golden: Golden, step: int) -> None:
    """SPEC: per tensor, |mine - ref| <= 1e-4 * max|ref| + 2 * ulp(max|p|)."""
    reference = golden.tree(step, "update_f64")
    params = golden.tree(step, "params_before")
    for name in golden.leaf_order:
        ref = reference[name]
        ulp = np.spacing(np.float32(np.max(np.abs(params[name]))))
        tolerance = 1e-4 * np.max(np.abs(ref)) + 2 * ulp
        error = np.max(np.abs(np.asarray(mine[name], np.float64) - ref))
        assert error <= tolerance, (
            f"{golden.name} update {step} tensor {name}: {error} > {tolerance}"
        )


def assert_state_close(state: VeLOState, golden: Golden, step: int) -> None:
    expected = golden.state_after(step)
    for key, value in published_state(state, golden.leaf_order).items():
        ref = expected[key]
        assert value.shape == ref.shape, f"state {key}: shape {value.shape} vs {ref.shape}"
        if key.startswith("lstm_hidden_state"):
            np.testing.assert_allclose(value, ref, rtol=1e-4, atol=1e-5, err_msg=key)
        else:
            np.testing.assert_allclose(value, ref, rtol=1e-5, atol=1e-7, err_msg=key)

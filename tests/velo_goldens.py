"""Golden test vectors of the published VeLO: loading, replay and comparison helpers.

Both bundles are always here: ``golden_tiny`` ships in the package (``minivelo/data``),
``golden_a`` lives in ``tests/data/golden_a`` (its inputs, the published-format
``params.msgpack`` and the recorded trajectory), loaded through
:mod:`minivelo.lopt.velo.golden`. A missing bundle is an error, never a skip. The shared
folder beside a full clone (``../shared/velo``) is only a cross-check: where it holds a
bundle, its files must equal the repository's.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.lopt.velo import golden as golden_data
from minivelo.lopt.velo.state import VeLOState

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "velo"  # optional: the bundles as first recorded
#: Where each bundle lives (what tests that read a bundle's files by name use).
BUNDLES = {name: golden_data.find_golden(name, start=REPO) for name in golden_data.NAMES}
_missing = [name for name, path in BUNDLES.items() if path is None]
if _missing:
    raise FileNotFoundError(
        f"golden bundles {_missing} missing from this checkout (minivelo/data/golden_tiny, "
        "tests/data/golden_a): they are committed; restore them with git"
    )


class Golden(golden_data.GoldenBundle):
    """A bundle with ``theta`` as jax arrays, found from the repository (never skipped)."""

    def __init__(self, name: str):
        super().__init__(golden_data.load_golden(name, start=REPO).path)
        self.theta = jax.tree.map(jnp.asarray, self.theta)


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
    """Per tensor, |mine - ref| <= 1e-4 * max|ref| + 2 * ulp(max|p|) (``golden.step_errors``)."""
    for name, (error, tolerance) in golden_data.step_errors(golden, step, mine).items():
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

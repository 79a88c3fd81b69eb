"""Multi-process meta-training: 2 processes x 1 device == 1 x 2 devices == 1 x 1 device.

A tiny config is meta-trained through the command line (``python -m minivelo meta-train``)
three ways, in subprocesses:

- **2 processes x 1 CPU device each**, ``--distributed --coordinator 127.0.0.1:PORT
  --num-processes 2 --process-id i`` (the launch of a multi-host run, on one machine);
  first to outer step 2, then resumed (``--resume``) from its checkpoint to step 3;
- **1 process x 2 devices** (``XLA_FLAGS=--xla_force_host_platform_device_count=2``);
- **1 process x 1 device**, to step 3 uninterrupted.

The metrics (meta-loss, meta-gradient norm, restarts per outer step) and the final
meta-parameters must agree, and only process 0 may say that it wrote the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np

from minivelo.meta.train import MetaConfig, load_theta, read_metrics

# Two members (one per device), one task; no validation, so only meta-training is compared.
CONFIG = MetaConfig(
    seed=5,
    optimizer={"kind": "mlp", "hidden_sizes": [8]},
    family={"name": "mnist1d_mlp", "choices": {"hidden_sizes": [[8]]}, "fixed": {"batch_size": 16}},
    num_tasks=1,
    members_per_task=2,
    num_steps=20,
    unroll_length=5,
    estimator="es",
    outer_steps=3,
    checkpoint_every=2,
    eval_every=0,
    num_val_tasks=1,
)
TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(path, **changes) -> str:
    path.write_text(json.dumps(dataclasses.replace(CONFIG, **changes).to_dict()))
    return str(path)


def _launch(config: str, out, *extra, devices: int = 1) -> subprocess.Popen:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
    }
    command = [sys.executable, "-m", "minivelo", "meta-train", "--config", config]
    command += ["--out", str(out), "--no-progress", *extra]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _two_processes(config: str, out, *extra) -> list[subprocess.Popen]:
    coordinator = f"127.0.0.1:{_free_port()}"
    flags = ["--distributed", "--coordinator", coordinator, "--num-processes", "2"]
    return [_launch(config, out, *flags, "--process-id", str(i), *extra) for i in range(2)]


def _finish(processes: list[subprocess.Popen]) -> list[str]:
    """Wait for every process; return their stdouts (fail with the stderr of a failure)."""
    outputs = []
    for p in processes:
        stdout, stderr = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    return outputs


def _metrics(out) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in ("elapsed_s", "cpu_s")}
        for r in read_metrics(out / "metrics.jsonl")
    ]


def _theta(out) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(load_theta(out / "checkpoint.npz")[0])]


def test_two_processes_equal_two_devices_and_one_device_and_resume(tmp_path):
    full = _write_config(tmp_path / "full.json")
    first_part = _write_config(tmp_path / "part.json", outer_steps=2)
    two, one_by_two, one = tmp_path / "two", tmp_path / "one_by_two", tmp_path / "one"

    # All three start at once (the 2-process run stops at step 2, its checkpoint).
    launched = _two_processes(first_part, two)
    launched.append(_launch(full, one_by_two, devices=2))
    launched.append(_launch(full, one))
    stdouts = _finish(launched)
    assert "written to" in stdouts[0] and "written to" not in stdouts[1]
    assert [r["step"] for r in _metrics(two)] == [1, 2]

    # Resume the 2-process run from its step-2 checkpoint to step 3 (outer_steps may grow).
    stdouts = _finish(_two_processes(full, two, "--resume"))
    assert "written to" in stdouts[0] and "written to" not in stdouts[1]

    reference = _metrics(one)
    assert [r["step"] for r in reference] == [1, 2, 3]
    # 2 processes and 2 devices run one program on one layout (a member per device, the
    # gradient mean all-reduced over the two), so they agree to rounding (1e-5).
    # 1 device vmaps both members in one batch, whose sums round differently (~1e-7
    # relative). The ES meta-gradient is a difference quotient, (L+ - L-) / (2 sigma) with
    # L+ - L- about 1e-3 of L, so that rounding shows in grad_norm magnified ~1e3 (seen:
    # 9e-4 relative); meta-losses stay within 1e-4 and theta, after three Adam steps of
    # size ~1e-3, within 1e-5. A real error (a member's key or minibatch mixed up, a
    # member dropped or counted twice, a resume that restarts the population) moves the
    # meta-loss and the gradient by 1e-2 or more.
    tolerances = {
        one_by_two: dict(meta_loss=1e-5, grad_norm=1e-5, theta=1e-5, theta_atol=1e-7),
        one: dict(meta_loss=1e-4, grad_norm=5e-3, theta=1e-3, theta_atol=1e-5),
    }
    for other, tol in tolerances.items():
        got, expected = _metrics(two), _metrics(other)
        assert [(r["step"], r["restarts"]) for r in got] == [
            (r["step"], r["restarts"]) for r in expected
        ]
        for key in ("meta_loss", "grad_norm"):
            np.testing.assert_allclose(
                [r[key] for r in got], [r[key] for r in expected], rtol=tol[key], err_msg=key
            )
        for a, b in zip(_theta(two), _theta(other), strict=True):
            np.testing.assert_allclose(a, b, rtol=tol["theta"], atol=tol["theta_atol"])

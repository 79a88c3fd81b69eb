"""Meta-training run folders under refused, mistaken and interrupted commands (issue 14).

A refused command changes nothing in the folder; ``--resume`` without a checkpoint never
buries an earlier run; a torn last line of ``metrics.jsonl`` is tolerated; bad configs are
refused before any folder exists; a run killed with SIGKILL mid-write resumes to exactly
the numbers of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_meta_train import TINY, leaves, without_time

from minivelo.meta import checkpoint
from minivelo.meta.train import MetaConfig, MetaTrainer, read_metrics


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    return MetaTrainer(TINY, tmp_path_factory.mktemp("run"), progress=False)


@pytest.fixture(scope="module")
def finished_run(trainer):
    """A whole run's folder and final state; tests copy the folder before touching it."""
    state = trainer.run()
    return trainer.out_dir, state, read_metrics(trainer.metrics_path)


def _copy(run_dir: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def _contents(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _run_in(trainer: MetaTrainer, folder: pathlib.Path, **kwargs):
    """``trainer.run(**kwargs)`` in ``folder``, reusing the trainer's compiled steps."""
    saved = trainer.out_dir
    trainer.out_dir = folder
    try:
        return trainer.run(**kwargs)
    finally:
        trainer.out_dir = saved


# ---------------------------------------------------------------------------------------
# 4. A refused --resume changes nothing
# ---------------------------------------------------------------------------------------


def test_a_refused_resume_changes_nothing(finished_run, tmp_path):
    run_dir = _copy(finished_run[0], tmp_path)
    before = _contents(run_dir)
    other = MetaTrainer(dataclasses.replace(TINY, sigma=0.02), run_dir, progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="different identity"):
        other.run(resume=True)
    assert _contents(run_dir) == before  # config.json above all: still the run's own


def test_a_run_without_resume_refuses_a_folder_with_a_checkpoint(trainer, finished_run, tmp_path):
    run_dir = _copy(finished_run[0], tmp_path)
    before = _contents(run_dir)
    with pytest.raises(checkpoint.CheckpointError, match="already holds a checkpoint"):
        _run_in(trainer, run_dir)
    assert _contents(run_dir) == before


# ---------------------------------------------------------------------------------------
# 5. --resume where checkpoint.npz is missing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resume", [True, False])
def test_missing_checkpoint_with_history_is_refused_and_kept(
    trainer, finished_run, tmp_path, resume
):
    run_dir = _copy(finished_run[0], tmp_path)
    (run_dir / "checkpoint.npz").unlink()
    before = _contents(run_dir)
    message = r"no checkpoint.npz but holds metrics.jsonl, best.npz, snapshots.*another folder"
    with pytest.raises(checkpoint.CheckpointError, match=message):
        _run_in(trainer, run_dir, resume=resume)
    assert _contents(run_dir) == before  # metrics not truncated, best.npz not overwritten


def test_resume_in_an_empty_folder_starts_afresh(trainer, finished_run, tmp_path):
    _, straight, _ = finished_run
    state = _run_in(trainer, tmp_path / "new", resume=True)
    for a, b in zip(leaves(state.theta), leaves(straight.theta), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# 6. A torn last line of metrics.jsonl
# ---------------------------------------------------------------------------------------


def test_a_torn_last_metrics_line_is_tolerated_on_resume(trainer, finished_run, tmp_path):
    run_dir, _, straight_metrics = finished_run
    run_dir = _copy(run_dir, tmp_path)
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"step": 6, "meta_lo')  # a write cut short (no newline)
    with pytest.warns(UserWarning, match="line 6 is torn"):
        _run_in(trainer, run_dir, resume=True)
    # the torn bytes are gone (the file was cut back to the checkpoint's step)
    assert without_time(read_metrics(run_dir / "metrics.jsonl")) == without_time(straight_metrics)


def test_a_damaged_line_before_the_last_is_refused_and_kept(trainer, finished_run, tmp_path):
    run_dir = _copy(finished_run[0], tmp_path)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:10]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    before = _contents(run_dir)
    with pytest.raises(checkpoint.CheckpointError, match="line 2 is not a metrics record"):
        _run_in(trainer, run_dir, resume=True)
    assert _contents(run_dir) == before


# ---------------------------------------------------------------------------------------
# 7. Config gaps, refused before any folder is created
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": "abc"}, "seed must be an integer in \\[0, 2\\*\\*32\\)"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": 2**70}, "seed must be an integer"),
        ({"seed": -1}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"eval_every": True}, "eval_every must be an integer >= 0"),
        ({"family": "no_such_family"}, "family: unknown task family 'no_such_family'"),
        ({"family": {"name": "no_such_family"}}, "family: unknown task family"),
        ({"family": ["mnist1d_mlp", "nope"]}, "family: unknown task family 'nope'"),
        ({"optimizer": {"kind": "sgd"}}, "optimizer: unknown learned optimizer kind 'sgd'"),
        ({"optimizer": {"kind": "mlp", "hidden": 3}}, "optimizer: unknown MLP optimizer setting"),
    ],
)
def test_config_gaps_are_value_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        MetaConfig.from_dict({**TINY.to_dict(), **changes})


def test_bad_config_through_the_cli_creates_no_folder(tmp_path, capsys):
    from minivelo import cli

    config_path = tmp_path / "c.json"
    for changes in ({"family": "no_such_family"}, {"optimizer": {"kind": "sgd"}}, {"seed": "x"}):
        config_path.write_text(json.dumps({**TINY.to_dict(), **changes}))
        assert (
            cli.main(["meta-train", "--config", str(config_path), "--out", str(tmp_path / "out")])
            == 2
        )
        assert "bad config" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_missing_init_from_is_refused_before_the_folder_exists(tmp_path):
    config = dataclasses.replace(TINY, init_from=str(tmp_path / "nothing.npz"))
    with pytest.raises(FileNotFoundError, match="init_from"):
        MetaTrainer(config, tmp_path / "out", progress=False).run()
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------
# A real SIGKILL in the middle of writing a metrics line, then --resume
# ---------------------------------------------------------------------------------------

KILLED_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from minivelo.meta.train import MetaConfig, MetaTrainer
    trainer = MetaTrainer(MetaConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2],
                          progress=False)
    append = trainer._log
    def append_then_die(record):
        if record["step"] == 4:  # half of step 4's line, then SIGKILL (checkpoint: step 2)
            line = json.dumps(record)
            with open(trainer.metrics_path, "a") as f:
                f.write(line[: len(line) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        append(record)
    trainer._log = append_then_die
    trainer.run()
    """
)


def test_sigkill_mid_write_then_resume_equals_an_uninterrupted_run(trainer, finished_run, tmp_path):
    _, straight, straight_metrics = finished_run
    run_dir = tmp_path / "killed"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, json.dumps(TINY.to_dict()), str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert checkpoint.read_header(run_dir / "checkpoint.npz")["step"] == 2
    assert not (run_dir / "metrics.jsonl").read_text().endswith("\n")  # the torn tail
    with pytest.warns(UserWarning, match="torn"):
        resumed = _run_in(trainer, run_dir, resume=True)
    for a, b in zip(
        leaves((straight.theta, straight.outer_state, straight.pool)),
        leaves((resumed.theta, resumed.outer_state, resumed.pool)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert (resumed.best_step, resumed.best_score) == (straight.best_step, straight.best_score)
    assert without_time(read_metrics(run_dir / "metrics.jsonl")) == without_time(straight_metrics)
    for name in ("best.npz", "snapshots/step_000002.npz", "snapshots/step_000004.npz"):
        _, ours = checkpoint.load_arrays(run_dir / name)
        _, theirs = checkpoint.load_arrays(finished_run[0] / name)
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])

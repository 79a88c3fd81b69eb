"""velo-eval: VeLO vs Adam (1e-3 and tuned) on unseen tasks, one command, and its pieces
(suite, weights, evaluation, report writers, figures)."""

from __future__ import annotations

import csv
import json
import math

import jax
import numpy as np
import pytest

from minivelo import cli, plotting
from minivelo.bench import optimizers, suite, tuning, velo_eval, velo_eval_report
from minivelo.lopt.velo import checkpoint, params

TINY_SUITE = [
    ("tiny_logistic", "logistic", dict(dim=4, num_examples=200, batch_size=32)),
    ("tiny_mlp", "digits_mlp", dict(dataset="digits", hidden_sizes=(8,), batch_size=32)),
]
STEPS = 30


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "untrained_tiny.msgpack"
    checkpoint.save(path, params.init_meta_params(jax.random.PRNGKey(0), "tiny"))
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, weights):
    """The command on two tiny tasks (figures redirected to a temporary folder): the output
    folder and the rows ``evaluate`` returned."""
    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path_factory.mktemp("velo_eval")
    returned = []
    evaluate = velo_eval.evaluate

    def keep_rows(*args, **kwargs):
        returned.extend(evaluate(*args, **kwargs))
        return returned

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(suite, "UNSEEN_SUITE", TINY_SUITE)
        mp.setattr(velo_eval, "evaluate", keep_rows)
        mp.setattr(plotting, "figures_dir", lambda: out / "figures")
        argv = ["velo-eval", "--weights", str(weights), "--steps", str(STEPS), "--seeds", "0"]
        argv += ["--grid", "1e-3,1e-2,1e-1", "--out", str(out), "--no-progress"]
        assert cli.main(argv) == 0
    return out, returned


def test_command_writes_table_csv_and_json(evaluated):
    evaluated, _ = evaluated
    for ext in ("md", "csv", "json"):
        assert (evaluated / f"velo_eval.{ext}").stat().st_size > 100
    for name in ("velo_eval_speedups.png", "velo_eval_curves.png"):
        assert (evaluated / "figures" / name).stat().st_size > 1000
    markdown = (evaluated / "velo_eval.md").read_text()
    assert "| tiny_logistic |" in markdown and "| tiny_mlp |" in markdown
    assert "VeLO beats tuned Adam on" in markdown and "(goal 2/3)" in markdown
    with open(evaluated / "velo_eval.csv") as f:
        assert [r["label"] for r in csv.DictReader(f)] == ["tiny_logistic", "tiny_mlp"]


def test_summary_counts_agree_with_the_rows(evaluated):
    evaluated, _ = evaluated
    document = json.loads((evaluated / "velo_eval.json").read_text())
    rows, summary = document["rows"], document["summary"]
    assert document["settings"]["num_steps"] == STEPS and document["settings"]["seeds"] == [0]
    number = lambda x: float(x)  # "inf" for a diverged run
    beats_tuned = sum(number(r["velo_final_loss"]) < number(r["tuned_final_loss"]) for r in rows)
    beats_adam = sum(number(r["velo_final_loss"]) < number(r["adam_final_loss"]) for r in rows)
    half = sum(
        r["velo_steps_to_tuned"] is not None and 2 * r["velo_steps_to_tuned"] <= r["tuned_steps"]
        for r in rows
    )
    ratio = np.median([r["velo_ms_per_step"] / r["adam_ms_per_step"] for r in rows])
    assert summary["num_tasks"] == 2
    assert summary["beats_tuned"] == beats_tuned
    assert summary["beats_adam"] == beats_adam
    assert summary["half_steps"] == half
    assert summary["goal_beats_tuned_met"] == (beats_tuned >= 2 / 3 * 2)
    assert summary["median_time_ratio"] == pytest.approx(ratio)
    for r in rows:
        assert r["adam_learning_rate"] == pytest.approx(1e-3)
        assert number(r["tuned_final_loss"]) <= number(r["adam_final_loss"])  # 1e-3 on grid
        assert 1 <= r["tuned_steps"] <= STEPS
        assert r["velo_ms_per_step"] > 0 and r["adam_ms_per_step"] > 0
    line = document["summary_line"]
    assert (
        f"on {beats_tuned}/2 unseen tasks" in line and f"beats Adam(1e-3) on {beats_adam}/2" in line
    )


def test_evaluate_rows_and_speedups(evaluated):
    _, rows = evaluated
    assert [r.label for r in rows] == ["tiny_logistic", "tiny_mlp"]
    for row in rows:
        _check_speedups(row)
    assert velo_eval.summarize(rows)["num_tasks"] == 2
    assert "| tiny_logistic |" in velo_eval_report.markdown_table(rows)


def _check_speedups(row):
    assert row.tuned.is_baseline and row.num_steps == STEPS
    # The speedup, recomputed from the curves by its definition (tuning's docstring).
    tuned_final = tuning.smoothed(row.tuned.curve)[-1]
    t_a = row.tuned_steps
    assert t_a == tuning.steps_to_reach(row.tuned.curve, tuned_final)
    for r in (row.velo, row.adam):
        t_x = tuning.steps_to_reach(r.curve, tuned_final)
        if not math.isfinite(r.final_loss):
            expected = 0.0
        elif t_x is not None:
            expected = t_a / t_x
        else:
            own_final = tuning.smoothed(r.curve)[-1]
            expected = tuning.steps_to_reach(row.tuned.curve, own_final) / STEPS
        assert row.speedup(r) == pytest.approx(expected)
        assert r.speedup == pytest.approx(expected)  # the benchmark row's: one definition


def test_unseen_suite_is_about_nine_distinct_tasks():
    labels = suite.suite_labels()
    assert 8 <= len(labels) <= 10 and len(set(labels)) == len(labels)
    families = {name for _, name, _ in suite.UNSEEN_SUITE}
    assert {"digits_cnn", "logistic"} <= families
    assert [t.name for t in suite.unseen_tasks(["digits_cnn"])][0].startswith("digits_cnn[")


def test_tasks_can_be_labels_tasks_or_pairs(monkeypatch):
    monkeypatch.setattr(suite, "UNSEEN_SUITE", TINY_SUITE)
    (task,) = suite.unseen_tasks(["tiny_logistic"])
    pairs = suite.as_labelled(["tiny_mlp", task, ("mine", task)])
    assert [label for label, _ in pairs] == ["tiny_mlp", task.name, "mine"]
    with pytest.raises(TypeError, match="suite label"):
        suite.as_labelled([42])


def test_weights_are_resolved_without_the_global_registry(weights):
    before = optimizers.list_optimizers()
    spec, description = velo_eval.velo_spec(weights)
    again, _ = velo_eval.velo_spec(weights)
    assert optimizers.list_optimizers() == before  # nothing registered
    assert spec.entry.name == again.entry.name and "sha256" in description


# ------------------------------------------------------------------------ bad input


def test_unknown_task_label_is_named(capsys):
    with pytest.raises(KeyError, match="no_such_task"):
        suite.unseen_tasks(["no_such_task"])
    assert cli.main(["velo-eval", "--tasks", "digits_cnn,no_such_task", "--no-figures"]) == 2
    assert "no_such_task" in capsys.readouterr().err


def test_missing_weights_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere.msgpack"
    with pytest.raises(FileNotFoundError, match="nowhere.msgpack"):
        velo_eval.evaluate(["logistic"], 10, (0,), missing)
    argv = ["velo-eval", "--weights", str(missing), "--tasks", "logistic", "--no-figures"]
    assert cli.main(argv) == 2
    assert "nowhere.msgpack" in capsys.readouterr().err


def test_steps_below_one_are_refused(capsys, weights):
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        velo_eval.evaluate(["logistic"], 0, (0,), weights)
    assert cli.main(["velo-eval", "--steps", "0", "--no-figures"]) == 2
    assert "--steps: expected a positive integer" in capsys.readouterr().err

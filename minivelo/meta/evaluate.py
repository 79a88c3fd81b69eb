"""Evaluate learned optimizers on whole training runs, against default and tuned Adam.

The runs use :func:`minivelo.bench.training_run` for every optimizer, so the learned
optimizer and Adam see the same initial weights and the same minibatches (common random
numbers). Scores follow the benchmark's protocol (:mod:`minivelo.bench.tuning`): the *final
loss* of a run is its mean training loss over the last 5% of steps, averaged over seeds;
tuned Adam is the best learning rate of ``bench.DEFAULT_GRID`` (1e-4 to 1, half a decade
apart), chosen on the very seeds it is scored on, the protocol most favourable to it.

``python -m minivelo meta-eval --weights W [--family F] [--num-tasks 8]`` prints, for tasks
of a family that meta-training never saw, the learned optimizer against Adam at its default
learning rate (1e-3) and Adam with the learning rate tuned per task.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import numpy as np

from minivelo import bench, optim
from minivelo.lopt import base as lopt_base
from minivelo.lopt.base import LearnedOptimizer
from minivelo.meta import population
from minivelo.meta.runs import lopt_runner, seeds_keys, validation_score  # noqa: F401 (re-exported)
from minivelo.meta.train import load_theta
from minivelo.tasks.base import Task

PyTree = Any
ADAM_DEFAULT_LR = 1e-3
ADAM_GRID = tuple(float(lr) for lr in bench.DEFAULT_GRID)  # 1e-4, 3.2e-4, ..., 1
final_loss = bench.final_loss  # mean of the last 5% of steps; a non-finite run -> inf


def compare_table(
    task_list: list[Task],
    lopt: LearnedOptimizer,
    theta: PyTree,
    num_steps: int,
    seeds=(0, 1),
    grid=ADAM_GRID,
    log=print,
) -> list[dict]:
    """One row per task: final losses of the learned optimizer, default Adam, tuned Adam."""
    default = np.flatnonzero(np.isclose(grid, ADAM_DEFAULT_LR))
    if default.size != 1:
        raise ValueError(f"the Adam grid must contain the default learning rate {ADAM_DEFAULT_LR}")
    rows = []
    for task in task_list:
        start = time.perf_counter()
        learned = final_loss(lopt_runner(task, lopt, num_steps)(theta, seeds_keys(seeds))).mean()
        tuned = bench.tune_learning_rate(task, optim.adam, num_steps, grid, list(seeds))
        row = dict(
            task=task.name,
            learned=float(learned),
            adam_default=float(tuned.final_losses[default[0]]),
            adam_tuned=float(tuned.final_losses[tuned.best_index]),
            tuned_lr=tuned.best_learning_rate,
            seconds=round(time.perf_counter() - start, 1),
        )
        rows.append(row)
        log(format_row(row))
    return rows


def format_header() -> str:
    return f"{'task':<46} {'learned':>9} {'adam 1e-3':>10} {'adam tuned':>11} {'(lr)':>8}"


def format_row(row: dict) -> str:
    mark = lambda win: "*" if win else " "
    return (
        f"{row['task']:<46} {row['learned']:>9.4f} "
        f"{row['adam_default']:>9.4f}{mark(row['learned'] < row['adam_default'])} "
        f"{row['adam_tuned']:>10.4f}{mark(row['learned'] < row['adam_tuned'])} "
        f"{row['tuned_lr']:>8.1e}"
    )


def summary(rows: list[dict]) -> str:
    n = len(rows)
    beat_default = sum(r["learned"] < r["adam_default"] for r in rows)
    beat_tuned = sum(r["learned"] < r["adam_tuned"] for r in rows)
    learned = np.array([r["learned"] for r in rows])
    tuned = np.array([r["adam_tuned"] for r in rows])
    with np.errstate(divide="ignore"):  # a diverged run has final loss inf
        ratio = float(np.exp(np.mean(np.log(learned) - np.log(tuned))))
    return (
        f"learned beats Adam(1e-3) on {beat_default}/{n} tasks, tuned Adam on {beat_tuned}/{n}; "
        f"geometric-mean final loss learned / tuned Adam = {ratio:.3f}"
    )


def run_meta_eval(
    weights,
    *,
    family=None,
    num_tasks: int = 8,
    num_steps: int | None = None,
    seeds=(0, 1),
    task_seed: int = 12345,
    out=None,
    log=print,
) -> list[dict]:
    """``python -m minivelo meta-eval``: the learned optimizer of ``weights`` (a weights
    file or a run folder) against Adam at 1e-3 and tuned Adam on ``num_tasks`` tasks of
    ``family`` (a name, a JSON object as text or a dict; default: the training family)
    never seen in meta-training. Prints the table; with ``out`` also writes
    ``out/meta_eval.json``. Returns the rows."""
    theta, config = load_theta(weights)
    if isinstance(family, str) and family.lstrip().startswith("{"):
        family = json.loads(family)
    family_spec = family or config.family
    num_steps = num_steps or config.num_steps
    lopt = lopt_base.build(config.optimizer, num_steps)
    family_obj = population.family_from_spec(family_spec)
    # stream 2 of a seed never used for training (stream 0) or validation (stream 1)
    test_tasks = population.sample_tasks(family_obj, task_seed, num_tasks, stream=2)
    seeds = list(seeds)
    log(f"family {json.dumps(family_spec)}, {num_steps} steps, seeds {seeds} per task")
    log("final loss = mean training loss over the last 5% of steps; * = learned is lower")
    log(format_header())
    rows = compare_table(test_tasks, lopt, theta, num_steps, seeds=seeds, log=log)
    log(summary(rows))
    if out is not None:
        folder = pathlib.Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta_eval.json").write_text(json.dumps(rows, indent=2) + "\n")
        log(f"wrote {folder / 'meta_eval.json'}")
    return rows

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

import argparse
import json
import pathlib
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minivelo import bench, optim
from minivelo.meta import learned_optimizers, population, unroll
from minivelo.tasks.base import Task

PyTree = Any
ADAM_DEFAULT_LR = 1e-3
ADAM_GRID = tuple(float(lr) for lr in bench.DEFAULT_GRID)  # 1e-4, 3.2e-4, ..., 1
final_loss = bench.final_loss  # mean of the last 5% of steps; a non-finite run -> inf


def lopt_runner(task: Task, lopt: learned_optimizers.LearnedOptimizer, num_steps: int):
    """A jitted ``(theta, keys [S]) -> losses [S, T]``: theta is an argument (no recompiles)."""

    def run(theta, keys):
        opt = learned_optimizers.as_optax(lopt, theta)
        return jax.vmap(lambda k: bench.training_run(task, opt, num_steps, k).losses)(keys)

    return jax.jit(run)


def seeds_keys(seeds) -> jax.Array:
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(list(seeds)))


def compare_table(
    task_list: list[Task],
    lopt: learned_optimizers.LearnedOptimizer,
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


def validation_score(losses: np.ndarray) -> float:
    """Mean over runs of ``log(final loss) - log(first loss)`` (lower is better).

    Floored at ``log(1e-12)``, which a final loss of exactly 0 (a perfect fit) scores; a
    run that diverged (NaN or infinite final loss) scores 10.
    """
    losses = np.asarray(losses, np.float64)
    final = final_loss(losses)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.log(np.where(final == 0, 1.0, final)) - np.log(losses[..., 0])
    score = np.where(final == 0, unroll.LOG_RATIO_FLOOR, score)
    score = np.where(np.isfinite(score), np.maximum(score, unroll.LOG_RATIO_FLOOR), 10.0)
    return float(np.mean(score))


# ------------------------------------------------------------------------------ CLI


def load_theta(path: str):
    """Meta-parameters and their run configuration from a weights file or a run directory."""
    from minivelo.meta import train

    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "best.npz" if (path / "best.npz").exists() else path / "checkpoint.npz"
    if (
        path.suffix == ".npz"
        and path.with_suffix(".json").exists()
        and not path.name.startswith(("best", "checkpoint"))
    ):
        from minivelo.lopt import mlp_lopt

        theta, config, info = mlp_lopt.load_weights(path)
        run_config = train.MetaConfig.from_dict(info["meta_config"])
        return theta, run_config
    return train.load_theta(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minivelo meta-eval",
        description="A meta-trained optimizer vs default and tuned Adam on unseen tasks.",
    )
    parser.add_argument(
        "--weights", required=True, help="weights .npz (with .json), or a run directory"
    )
    parser.add_argument("--family", help="task family (JSON or name); default: the training family")
    parser.add_argument("--num-tasks", type=int, default=8)
    parser.add_argument("--num-steps", type=int, help="horizon; default: the training horizon")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per task")
    parser.add_argument("--task-seed", type=int, default=12345, help="seed of the unseen tasks")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    theta, config = load_theta(args.weights)
    family_spec = (
        json.loads(args.family)
        if args.family and args.family.startswith("{")
        else (args.family or config.family)
    )
    num_steps = args.num_steps or config.num_steps
    lopt = learned_optimizers.build(config.optimizer, num_steps)
    family = population.family_from_spec(family_spec)
    # stream 2 of a seed never used for training (stream 0) or validation (stream 1)
    test_tasks = population.sample_tasks(family, args.task_seed, args.num_tasks, stream=2)
    print(f"family {json.dumps(family_spec)}, {num_steps} steps, {args.seeds} seeds per task")
    print("final loss = mean training loss over the last 5% of steps; * = learned is lower")
    print(format_header())
    rows = compare_table(test_tasks, lopt, theta, num_steps, seeds=range(args.seeds))
    print(summary(rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

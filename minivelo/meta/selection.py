r"""Validation suites scored against tuned Adam: the selection rule of meta-training runs.

A suite is a fixed list of tasks, each with its own horizon, chosen before the run it
validates (``records/velo_small_v7/SELECTION.md`` declares the ``v7`` suite and its rule).
The score of meta-parameters :math:`\theta` on a suite of :math:`K` tasks is

.. math::
    S(\theta) = \frac{1}{K} \sum_{k=1}^{K}
        \mathrm{clip}\Big(\log \frac{F_k(\text{VeLO}_\theta)}{F_k(\text{Adam}^*)},\ -5,\ 5\Big)

where :math:`F_k` is the final loss of task :math:`k` (the mean training loss over the last
5% of its steps, averaged over the seeds, :func:`minivelo.bench.final_loss`) and
:math:`\text{Adam}^*` is Adam with the learning rate tuned on the same seeds over the
benchmark grid (1e-4 to 1, half a decade apart). A diverged VeLO run scores 5. Lower is
better; :math:`S < 0` means VeLO ends below tuned Adam on (geometric) average. Each task
counts by how many times lower or higher than tuned Adam VeLO ends, so a task whose loss
falls to 1e-9 weighs no more than one whose loss stays near 1.

Tuned Adam's final losses do not depend on :math:`\theta`: they are computed once and
cached (``adam_reference.json`` in the run directory).

``python -m minivelo select --suite v7 WEIGHTS [WEIGHTS ...]`` scores weights files (a
run's ``snapshots/step_*.npz``, ``best.npz``, ``checkpoint.npz`` or a VeLO
``.msgpack``) and prints one row per task and the score of each.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import numpy as np

from minivelo import bench, optim
from minivelo.lopt import base as learned_optimizers
from minivelo.meta import runs as evaluate
from minivelo.tasks import augment, build
from minivelo.tasks.base import Task

PyTree = Any
LOG_RATIO_CLIP = 5.0
SEEDS = (100, 101)


@dataclasses.dataclass(frozen=True)
class ValidationTask:
    label: str
    family: str  # registry name
    settings: dict
    num_steps: int
    readout_factor: float = 1.0  # 0: the read-out starts at zero

    def build(self) -> Task:
        task = build(self.family, **self.settings)
        if self.readout_factor != 1.0:
            task = augment.scale_readout_init(task, self.readout_factor)
        return task


# Declared before the v7 run (records/velo_small_v7/SELECTION.md). None of these is a
# dataset-and-architecture pair of velo-eval's test suite; each is a fixed instance the
# training tasks (sampled from the same families with other seeds) never equal.
SUITES: dict[str, tuple[ValidationTask, ...]] = {
    "v7": (
        ValidationTask(
            "mnist1d_cnn_8-16_bs64",
            "mnist1d_cnn",
            dict(channels=(8, 16), kernel=5, activation="relu", batch_size=64),
            1000,
        ),
        ValidationTask(
            "mnist1d_autoencoder_64-8_bs128",
            "mnist1d_autoencoder",
            dict(
                dataset="mnist1d",
                hidden_sizes=(64,),
                bottleneck=8,
                activation="relu",
                batch_size=128,
            ),
            3000,
        ),
        ValidationTask(
            "mnist1d_linear_zero_init_full",
            "mnist1d_mlp",
            dict(dataset="mnist1d", hidden_sizes=(), batch_size=None),
            2000,
            readout_factor=0.0,
        ),
        ValidationTask(
            "markov_lstm_V16_h32",
            "markov_lm",
            dict(
                model="lstm",
                vocab_size=16,
                concentration=0.3,
                hidden_size=32,
                seq_len=16,
                batch_size=16,
                data_seed=7001,
            ),
            1000,
        ),
        ValidationTask(
            "markov_transformer_V32_h32",
            "markov_lm",
            dict(
                model="transformer",
                vocab_size=32,
                concentration=0.2,
                hidden_size=32,
                seq_len=16,
                batch_size=16,
                data_seed=7002,
            ),
            500,
        ),
        ValidationTask(
            "teacher_mlp_d16_64x64_full",
            "teacher_mlp",
            dict(
                dim=16,
                hidden_sizes=(64, 64),
                num_classes=4,
                activation="relu",
                batch_size=None,
                data_seed=7003,
            ),
            4000,
        ),
    ),
}
# Declared before the v9 run (records/velo_small_v9/SELECTION.md): v7's six and two
# 5000-step MLP classifiers with hidden layers, the kind of run on which the shipped
# weights and v8 grow the parameters geometrically until the loss diverges. Neither is a
# velo-eval test task, a lesson-10 task or a v9 training instance (other widths).
SUITES["v9"] = SUITES["v7"] + (
    ValidationTask(
        "digits_mlp_48_bs64_5000",
        "digits_mlp",
        dict(hidden_sizes=(48,), activation="relu", batch_size=64),
        5000,
    ),
    ValidationTask(
        "mnist1d_mlp_96-48_bs128_5000",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(96, 48), activation="relu", batch_size=128),
        5000,
    ),
)


def log_ratio_score(learned_final: float, adam_final: float) -> float:
    """``clip(log(learned / adam), -5, 5)``; a non-finite learned loss scores 5."""
    if not np.isfinite(learned_final):
        return LOG_RATIO_CLIP
    learned_final = max(float(learned_final), 1e-30)
    adam_final = max(float(adam_final), 1e-30)
    return float(np.clip(np.log(learned_final / adam_final), -LOG_RATIO_CLIP, LOG_RATIO_CLIP))


class ValidationSuite:
    """A suite's tasks, their cached tuned-Adam references and compiled VeLO runners."""

    def __init__(self, name: str, optimizer: dict, cache_path=None, log=None):
        if name not in SUITES:
            raise ValueError(f"unknown validation suite {name!r}; choose one of {sorted(SUITES)}")
        self.name, self.entries = name, SUITES[name]
        self.optimizer = dict(optimizer)
        self.cache_path = None if cache_path is None else pathlib.Path(cache_path)
        self.log = log or (lambda *_: None)
        self.tasks = [entry.build() for entry in self.entries]
        self._runners: dict[int, Any] = {}
        self._adam: dict[str, dict] | None = None

    def adam_reference(self) -> dict[str, dict]:
        """``{label: {"final": F, "learning_rate": lr}}`` of tuned Adam, cached."""
        if self._adam is not None:
            return self._adam
        cached = {}
        if self.cache_path is not None and self.cache_path.exists():
            record = json.loads(self.cache_path.read_text())
            if record.get("suite") == self.name and record.get("seeds") == list(SEEDS):
                cached = record["tasks"]
        for entry, task in zip(self.entries, self.tasks):
            if entry.label in cached and cached[entry.label]["num_steps"] == entry.num_steps:
                continue
            tuned = bench.tune_learning_rate(task, optim.adam, entry.num_steps, seeds=list(SEEDS))
            cached[entry.label] = dict(
                final=float(tuned.final_losses[tuned.best_index]),
                learning_rate=tuned.best_learning_rate,
                at_edge=bool(tuned.at_edge),
                num_steps=entry.num_steps,
            )
            self.log(f"tuned Adam on {entry.label}: {cached[entry.label]}")
        self._adam = cached
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            body = {"suite": self.name, "seeds": list(SEEDS), "tasks": cached}
            self.cache_path.write_text(json.dumps(body, indent=2) + "\n")
        return cached

    def learned_finals(self, theta: PyTree) -> list[float]:
        keys = evaluate.seeds_keys(SEEDS)
        finals = []
        for i, (entry, task) in enumerate(zip(self.entries, self.tasks)):
            if i not in self._runners:
                lopt = learned_optimizers.build(self.optimizer, entry.num_steps)
                self._runners[i] = evaluate.lopt_runner(task, lopt, entry.num_steps)
            losses = np.asarray(self._runners[i](theta, keys), np.float64)  # [S, T]
            finals.append(float(bench.final_loss(losses).mean()))
        return finals

    def rows(self, theta: PyTree) -> list[dict]:
        adam = self.adam_reference()
        rows = []
        for entry, learned in zip(self.entries, self.learned_finals(theta)):
            ref = adam[entry.label]
            rows.append(
                dict(
                    task=entry.label,
                    num_steps=entry.num_steps,
                    learned=learned,
                    adam_tuned=ref["final"],
                    tuned_lr=ref["learning_rate"],
                    log_ratio=log_ratio_score(learned, ref["final"]),
                )
            )
        return rows

    def score(self, theta: PyTree) -> float:
        """:math:`S(\\theta)` of the module docstring (lower is better)."""
        return float(np.mean([row["log_ratio"] for row in self.rows(theta)]))


# ------------------------------------------------------------------------------ CLI

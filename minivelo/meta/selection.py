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

Suite ``v16`` (``records/velo_small_v16/SELECTION.md``) also floors both final losses at
:math:`f_k = 10^{-4} L_{k,0}`, with :math:`L_{k,0}` the task's first loss, before the log:

.. math::
    \mathrm{clip}\Big(\log \frac{\max(F_k(\text{VeLO}_\theta), f_k)}
        {\max(F_k(\text{Adam}^*), f_k)},\ -5,\ 5\Big),

so two runs that both solved a task (1e-9 against 1e-6, say) tie, where the clipped ratio
alone would count the gap as :math:`\log 10^{3} \approx 6.9`, clipped to 5.

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


# Declared before scoring (records/velo_small_v16/SELECTION.md): eight task instances no
# run has trained or been scored on, none a velo-eval test task, a lesson task or a v10
# training instance, with horizons of 500 to 5000 steps. Its score floors each final loss at
# 1e-4 of the task's first loss (SOLVED_FRACTION), so that two runs that both solved a task
# (1e-9 against 1e-6, say) tie instead of deciding the suite.
SUITES["v16"] = (
    ValidationTask(
        "mnist1d_cnn_8_k7_bs128_2000",
        "mnist1d_cnn",
        dict(channels=(8,), kernel=7, activation="relu", batch_size=128),
        2000,
    ),
    ValidationTask(
        "mnist1d_autoencoder_48-6_bs32_1500",
        "mnist1d_autoencoder",
        dict(dataset="mnist1d", hidden_sizes=(48,), bottleneck=6, activation="relu", batch_size=32),
        1500,
    ),
    ValidationTask(
        "digits_mlp_96_tanh_bs32_2500",
        "digits_mlp",
        dict(hidden_sizes=(96,), activation="tanh", batch_size=32),
        2500,
    ),
    ValidationTask(
        "teacher_mlp_d12_48_bs64_5000",
        "teacher_mlp",
        dict(
            dim=12,
            hidden_sizes=(48,),
            num_classes=4,
            activation="relu",
            batch_size=64,
            data_seed=7101,
        ),
        5000,
    ),
    ValidationTask(
        "markov_lstm_V12_h24_1500",
        "markov_lm",
        dict(
            model="lstm",
            vocab_size=12,
            concentration=0.3,
            hidden_size=24,
            seq_len=12,
            batch_size=16,
            data_seed=7102,
        ),
        1500,
    ),
    ValidationTask(
        "markov_transformer_V24_h24_1000",
        "markov_lm",
        dict(
            model="transformer",
            vocab_size=24,
            concentration=0.2,
            hidden_size=24,
            seq_len=12,
            batch_size=16,
            data_seed=7103,
        ),
        1000,
    ),
    ValidationTask(
        "mnist1d_mlp_48x3_bs64_5000",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(48, 48, 48), activation="relu", batch_size=64),
        5000,
    ),
    ValidationTask(
        "digits_linear_small_init_bs64_500",
        "digits_mlp",
        dict(hidden_sizes=(), batch_size=64),
        500,
        readout_factor=0.1,
    ),
)
# Per suite: final losses below this fraction of the task's first loss count as solved
# (floored there) in the score; suites not named here have no floor.
SOLVED_FRACTION = {"v16": 1e-4}


def log_ratio_score(learned_final: float, adam_final: float, floor: float = 0.0) -> float:
    """``clip(log(max(learned, floor) / max(adam, floor)), -5, 5)``; a non-finite learned
    loss scores 5. With ``floor`` > 0 two losses that are both below it tie (score 0)."""
    if not np.isfinite(learned_final):
        return LOG_RATIO_CLIP
    learned_final = max(float(learned_final), float(floor), 1e-30)
    adam_final = max(float(adam_final), float(floor), 1e-30)
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

    def learned_finals(self, theta: PyTree) -> list[tuple[float, float]]:
        """Per task, ``(final loss, first loss)`` of the learned optimizer, seed means."""
        keys = evaluate.seeds_keys(SEEDS)
        finals = []
        for i, (entry, task) in enumerate(zip(self.entries, self.tasks)):
            if i not in self._runners:
                lopt = learned_optimizers.build(self.optimizer, entry.num_steps)
                self._runners[i] = evaluate.lopt_runner(task, lopt, entry.num_steps)
            losses = np.asarray(self._runners[i](theta, keys), np.float64)  # [S, T]
            # the first loss is the initial parameters' (the same for every optimizer)
            finals.append((float(bench.final_loss(losses).mean()), float(losses[:, 0].mean())))
        return finals

    def rows(self, theta: PyTree) -> list[dict]:
        adam = self.adam_reference()
        fraction = SOLVED_FRACTION.get(self.name, 0.0)
        rows = []
        for entry, (learned, first) in zip(self.entries, self.learned_finals(theta)):
            ref = adam[entry.label]
            floor = fraction * first if np.isfinite(first) else 0.0
            rows.append(
                dict(
                    task=entry.label,
                    num_steps=entry.num_steps,
                    learned=learned,
                    adam_tuned=ref["final"],
                    tuned_lr=ref["learning_rate"],
                    first_loss=first,
                    log_ratio=log_ratio_score(learned, ref["final"], floor),
                )
            )
        return rows

    def score(self, theta: PyTree) -> float:
        """:math:`S(\\theta)` of the module docstring (lower is better)."""
        return float(np.mean([row["log_ratio"] for row in self.rows(theta)]))


# ------------------------------------------------------------------------------ CLI

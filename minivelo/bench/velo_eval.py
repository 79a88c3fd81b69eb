r"""The shipped minivelo VeLO on tasks it never saw in meta-training, against Adam.

:func:`evaluate` trains VeLO (the shipped weights, a weights file or a pytree), Adam at its
default learning rate 1e-3 and Adam with its learning rate tuned per task on tasks of the
unseen suite (:mod:`minivelo.bench.suite`), through :func:`minivelo.bench.run_benchmark`
(so every optimizer sees the same initial weights and the same minibatches), and returns
one :class:`EvalRow` per task; :func:`summarize` counts the rows against the goals. The
writers are in :mod:`minivelo.bench.velo_eval_report`, the figures in
:mod:`minivelo.bench.velo_eval_figures`, the command in :mod:`minivelo.cli`
(``python -m minivelo velo-eval``).

Protocol (:mod:`minivelo.bench.tuning` has the shared definitions):

- **Final loss**: the mean training loss over the last 5% of the :math:`T` steps, averaged
  over the seeds. A run with a NaN or inf loss has final loss inf ("diverged").
- **Tuned Adam**: the learning rate of the grid (default 1e-4 to 1, half a decade apart)
  with the lowest final loss, chosen on the very seeds it is scored on: the protocol most
  favourable to Adam. A rate at the grid's edge is marked ``*``.
- **Speedup** over tuned Adam: :func:`minivelo.bench.tuning.speedup`, the project's one
  definition. Tuned Adam needs :math:`t_A \le T` steps to reach its own final loss
  :math:`L_A`; if :math:`X` reaches :math:`L_A` at step :math:`t_X` the speedup is
  :math:`t_A / t_X`, otherwise :math:`n / T` with :math:`n` the steps tuned Adam needs to
  reach :math:`X`'s final loss; 0 ("diverged") if :math:`X` diverged.
- **Goals** (the project's issue): VeLO's final loss below tuned Adam's on at least 2/3 of
  the tasks, and VeLO reaching tuned Adam's final loss in at most half tuned Adam's steps
  (:math:`2 t_X \le t_A`, i.e. speedup :math:`\ge 2`) on at least 1/2 of them.
- **Wall-clock per step**: the run time (compilation excluded) of one jitted program that
  trains all seeds at once (vmapped), divided by :math:`T`. VeLO's is its benchmark run;
  Adam's is a separate run of Adam at 1e-3 built the same way (``train_seeds``) right after,
  as the benchmark's Adam runs share one program with the whole grid. One measurement
  each per task; the summary gives the median over tasks of the ratio VeLO / Adam.

In a notebook::

    from minivelo.bench import suite, velo_eval, velo_eval_report
    rows = velo_eval.evaluate(suite.suite_labels(), num_steps=500, seeds=(0, 1))
    velo_eval.summarize(rows)  # counts and ratios
    print(velo_eval_report.markdown_table(rows))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np

from minivelo.bench import optimizers, report, suite, training, tuning
from minivelo.bench.velo_weights import velo_spec

ADAM_SPEC = "adam"  # Adam at its default learning rate, 1e-3 (a point of the default grid)
GOAL_BEATS_TUNED = 2 / 3
GOAL_HALF_STEPS = 1 / 2


# ------------------------------------------------------------------------ evaluation


@dataclasses.dataclass
class EvalRow:
    """One task: VeLO, Adam at 1e-3 and tuned Adam (benchmark rows), and the step times."""

    label: str
    velo: report.Row
    adam: report.Row  # Adam at its default learning rate
    tuned: report.Row  # Adam with the learning rate tuned on this task
    velo_ms_per_step: float  # all seeds in one vmapped program, compilation excluded
    adam_ms_per_step: float
    adam_timing_compile_s: float
    wall_s: float = float("nan")  # the whole task: tuning grid, VeLO, Adam timing, compiles

    @property
    def num_steps(self) -> int:
        return self.velo.num_steps

    @property
    def tuned_steps(self) -> int:
        """Steps tuned Adam needs to reach its own final loss (at most ``num_steps``)."""
        return self.tuned.steps_baseline_needs

    def speedup_of(self, row: report.Row) -> tuning.Speedup:
        """``row``'s speedup over tuned Adam (:func:`minivelo.bench.tuning.speedup`)."""
        return tuning.speedup(row.curve, self.tuned.curve)

    def steps_to_tuned(self, row: report.Row) -> int | None:
        """Steps ``row``'s optimizer needs to reach tuned Adam's final loss; None: never."""
        return self.speedup_of(row).steps_to_reference

    def speedup(self, row: report.Row) -> float:
        """``row``'s speedup over tuned Adam; 0 if ``row`` diverged."""
        return self.speedup_of(row).speedup

    def speedup_text(self, row: report.Row) -> str:
        return self.speedup_of(row).text()

    @property
    def beats_tuned(self) -> bool:
        return self.velo.final_loss < self.tuned.final_loss

    @property
    def half_steps(self) -> bool:
        """VeLO reaches tuned Adam's final loss in at most half the steps tuned Adam needs."""
        reached = self.steps_to_tuned(self.velo)
        return reached is not None and 2 * reached <= self.tuned_steps

    @property
    def beats_adam(self) -> bool:
        return self.velo.final_loss < self.adam.final_loss

    @property
    def time_ratio(self) -> float:
        if self.adam_ms_per_step <= 0:
            return float("nan")
        return self.velo_ms_per_step / self.adam_ms_per_step

    def to_dict(self) -> dict:
        return dict(
            label=self.label,
            task=self.velo.task,
            num_steps=self.num_steps,
            velo_final_loss=self.velo.final_loss,
            adam_final_loss=self.adam.final_loss,
            adam_learning_rate=self.adam.learning_rate,
            tuned_final_loss=self.tuned.final_loss,
            tuned_learning_rate=self.tuned.learning_rate,
            tuned_at_grid_edge=self.tuned.at_grid_edge,
            tuned_steps=self.tuned_steps,
            velo_steps_to_tuned=self.steps_to_tuned(self.velo),
            adam_steps_to_tuned=self.steps_to_tuned(self.adam),
            tuned_steps_to_velo=self.velo.steps_baseline_needs,
            velo_speedup=self.speedup(self.velo),
            adam_speedup=self.speedup(self.adam),
            beats_tuned=self.beats_tuned,
            half_steps=self.half_steps,
            beats_adam=self.beats_adam,
            velo_ms_per_step=self.velo_ms_per_step,
            adam_ms_per_step=self.adam_ms_per_step,
            velo_compile_s=self.velo.compile_s,
            adam_compile_s=self.adam_timing_compile_s,
            tuned_grid_run_s=self.tuned.run_s,
            wall_s=self.wall_s,
        )


def evaluate(
    tasks,
    num_steps: int = 500,
    seeds: Sequence[int] = (0, 1),
    weights=None,
    *,
    learning_rates: Sequence[float] = tuning.DEFAULT_GRID,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[EvalRow]:
    """VeLO (``weights``: None for the shipped ones, a path or a pytree), Adam at 1e-3 and
    tuned Adam on each task; one :class:`EvalRow` per task.

    ``tasks``: labels of :data:`minivelo.bench.suite.UNSEEN_SUITE`, Task objects (e.g. from
    :func:`minivelo.bench.suite.unseen_tasks`; labelled by their names) or ``(label, Task)``
    pairs.
    """
    num_steps = training.check_num_steps(num_steps)
    seeds = [int(s) for s in seeds]
    training.seed_keys(seeds)  # a clear error on bad seeds before any training
    pairs = suite.as_labelled(tasks)
    spec, _ = velo_spec(weights)
    adam = optimizers.parse_spec(ADAM_SPEC)
    rows = []
    for i, (label, task) in enumerate(pairs):
        start = time.perf_counter()
        tuned, velo, adam_row = report.run_benchmark(
            [task], [spec, ADAM_SPEC], num_steps, seeds, "adam", learning_rates, progress
        )
        timing = training.train_seeds(task, adam.make(num_steps), num_steps, seeds)
        row = EvalRow(
            label,
            velo,
            adam_row,
            tuned,
            1e3 * velo.run_s / num_steps,
            1e3 * timing.run_s / num_steps,
            timing.compile_s,
            time.perf_counter() - start,
        )
        rows.append(row)
        if log is not None:
            log(
                f"[{i + 1}/{len(pairs)}] {label}: VeLO {velo.final_loss:.4g}, Adam(1e-3) "
                f"{adam_row.final_loss:.4g}, tuned Adam {tuned.final_loss:.4g} "
                f"(lr {tuned.learning_rate:.2g}); {row.wall_s:.0f} s"
            )
    return rows


def summarize(rows: Sequence[EvalRow]) -> dict:
    """Counts against the goals, and the median wall-clock ratio per step."""
    n = len(rows)
    beats_tuned = sum(r.beats_tuned for r in rows)
    half_steps = sum(r.half_steps for r in rows)
    return dict(
        num_tasks=n,
        beats_tuned=beats_tuned,
        half_steps=half_steps,
        beats_adam=sum(r.beats_adam for r in rows),
        goal_beats_tuned_met=n > 0 and beats_tuned >= GOAL_BEATS_TUNED * n,
        goal_half_steps_met=n > 0 and half_steps >= GOAL_HALF_STEPS * n,
        median_velo_ms_per_step=_median([r.velo_ms_per_step for r in rows]),
        median_adam_ms_per_step=_median([r.adam_ms_per_step for r in rows]),
        median_time_ratio=_median([r.time_ratio for r in rows]),
    )


def _median(values) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def summary_line(summary: dict) -> str:
    s, n = summary, summary["num_tasks"]
    return (
        f"VeLO beats tuned Adam on {s['beats_tuned']}/{n} unseen tasks (goal 2/3); "
        f"reaches tuned Adam's final loss in at most half its steps on {s['half_steps']}/{n} "
        f"(goal 1/2); beats Adam(1e-3) on {s['beats_adam']}/{n}; "
        f"median wall-clock per step VeLO/Adam = {s['median_time_ratio']:.2f}"
    )

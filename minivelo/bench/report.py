"""A mini-VeLOdrome: optimizers on named tasks against a learning-rate-tuned baseline.

:func:`run_benchmark` trains every optimizer on every task (seeds vmapped, a tuned
optimizer's whole grid vmapped), tunes the baseline, and returns one :class:`Row` per
(task, optimizer). :func:`write_table` writes them as Markdown and CSV;
:func:`plot_speedups` draws the analogue of VeLO's Figure 1 (the distribution over tasks
of the speedup over tuned Adam); :func:`plot_curves` the loss curves.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from minivelo.bench import optimizers, training, tuning
from minivelo.tasks import get_task
from minivelo.tasks.base import Task


@dataclasses.dataclass
class Row:
    task: str
    optimizer: str
    learning_rate: float | None  # the rate used (the tuned one for tuned rows); None: none
    final_loss: float
    baseline_final_loss: float  # the tuned baseline's final loss on this task
    steps_baseline_needs: int | None  # steps the tuned baseline needs to match final_loss
    speedup: float  # over the tuned baseline: tuning.speedup (0 if this row diverged)
    reached: bool  # this row reached the baseline's final loss
    num_steps: int
    compile_s: float
    run_s: float  # wall time of this row's runs (for a tuned row: the whole grid)
    is_baseline: bool = False
    at_grid_edge: bool = False  # tuned rows: the best rate is the grid's first or last
    curve: np.ndarray = dataclasses.field(repr=False, default=None)  # [T], mean over seeds
    seed_final_losses: np.ndarray | None = dataclasses.field(repr=False, default=None)  # [S]
    # Baseline rows only: the whole tuning grid (rates [L], final losses [L], curves [L, T]).
    grid_learning_rates: np.ndarray | None = dataclasses.field(repr=False, default=None)
    grid_final_losses: np.ndarray | None = dataclasses.field(repr=False, default=None)
    grid_curves: np.ndarray | None = dataclasses.field(repr=False, default=None)

    steps_to_baseline: int | None = None  # steps this row needs to reach baseline_final_loss

    def speedup_text(self) -> str:
        if not math.isfinite(self.final_loss):
            return "diverged"
        return f"{self.speedup:.2f}x" if self.speedup >= 0.1 else f"{self.speedup:.2g}x"


def _grid_index(spec, base, grid) -> int | None:
    """Where a fixed-rate spec of the baseline's optimizer sits on the tuning grid, if it does."""
    if spec.tuned or spec.entry.name != base.entry.name or spec.learning_rate is None:
        return None
    hits = np.flatnonzero(np.isclose(grid, spec.learning_rate, rtol=1e-6))
    return int(hits[0]) if hits.size else None


def _resolve_task(task) -> Task:
    return get_task(task) if isinstance(task, str) else task


def run_benchmark(
    tasks: Sequence[str | Task],
    optimizer_specs: Sequence[str | optimizers.OptimizerSpec],
    num_steps: int,
    seeds: Sequence[int] = (0,),
    baseline: str = "adam",
    learning_rates: Sequence[float] = tuning.DEFAULT_GRID,
    progress: bool = True,
) -> list[Row]:
    """Benchmark ``optimizer_specs`` (see :func:`minivelo.bench.optimizers.parse_spec`)
    against ``baseline`` tuned on ``learning_rates`` on each task.

    Returns one row for the tuned baseline and one per spec, for every task. A spec the
    baseline's sweep already ran (e.g. ``"adam"`` at 1e-3, a grid point; or ``"adam:tuned"``)
    reuses those runs instead of training again; its ``run_s`` is its share of the sweep.
    """
    num_steps = training.check_num_steps(num_steps)
    specs = [optimizers.parse_spec(s) for s in optimizer_specs]
    base = optimizers.parse_spec(baseline)
    if not base.entry.tunable:
        raise ValueError(f"the baseline must have a learning rate to tune; {baseline!r} has none")
    task_objects = [_resolve_task(t) for t in tasks]  # fail on a bad name before any training
    if not task_objects:
        raise ValueError("no tasks given")

    from tqdm.auto import tqdm

    bar = tqdm(total=len(task_objects) * (1 + len(specs)), disable=not progress, unit="run")
    rows: list[Row] = []
    for task in task_objects:
        family = task.config.get("family", task.name)
        bar.set_description(f"{family}: tuning {base.entry.name}")
        tuned = tuning.tune_learning_rate(
            task, lambda lr: base.make(num_steps, lr), num_steps, learning_rates, seeds
        )
        bar.update()
        base_curve, base_final = tuned.best_curve, float(tuned.final_losses[tuned.best_index])
        own = tuning.speedup(base_curve, base_curve)
        rows.append(
            Row(
                task.name,
                f"{base.entry.name} (tuned)",
                tuned.best_learning_rate,
                base_final,
                base_final,
                own.reference_steps,
                1.0,
                True,
                num_steps,
                tuned.compile_s,
                tuned.run_s,
                steps_to_baseline=own.reference_steps,
                is_baseline=True,
                at_grid_edge=tuned.at_edge,
                curve=base_curve,
                seed_final_losses=tuning.final_loss(tuned.losses[tuned.best_index]),
                grid_learning_rates=tuned.learning_rates,
                grid_final_losses=tuned.final_losses,
                grid_curves=tuned.losses.mean(1),
            )
        )
        for spec in specs:
            bar.set_description(f"{family}: {spec.label}")
            on_grid = _grid_index(spec, base, tuned.learning_rates)
            at_edge = False
            if spec.tuned:
                result = tuned
                if spec.entry.name != base.entry.name:
                    result = tuning.tune_learning_rate(
                        task,
                        lambda lr, s=spec: s.make(num_steps, lr),
                        num_steps,
                        learning_rates,
                        seeds,
                    )
                lr, curve = result.best_learning_rate, result.best_curve
                final = float(result.final_losses[result.best_index])
                per_seed = tuning.final_loss(result.losses[result.best_index])
                compile_s, run_s = result.compile_s, result.run_s
                at_edge = result.at_edge
            elif on_grid is not None:
                # The baseline's sweep already ran this exact setting: reuse it.
                lr, curve = spec.learning_rate, tuned.losses[on_grid].mean(0)
                final = float(tuned.final_losses[on_grid])
                per_seed = tuning.final_loss(tuned.losses[on_grid])
                compile_s, run_s = 0.0, tuned.run_s / len(tuned.learning_rates)
            else:
                runs = training.train_seeds(task, spec.make(num_steps), num_steps, seeds)
                lr, curve = spec.learning_rate, runs.losses.mean(0)
                per_seed = tuning.final_loss(runs.losses)
                final = float(per_seed.mean())
                compile_s, run_s = runs.compile_s, runs.run_s
            sp = tuning.speedup(curve, base_curve)
            rows.append(
                Row(
                    task.name,
                    spec.label,
                    lr,
                    final,
                    base_final,
                    sp.reference_steps_to_match,
                    sp.speedup,
                    sp.reached,
                    num_steps,
                    compile_s,
                    run_s,
                    steps_to_baseline=sp.steps_to_reference,
                    at_grid_edge=at_edge,
                    curve=curve,
                    seed_final_losses=per_seed,
                )
            )
            bar.update()
    bar.close()
    return rows


# ---------------------------------------------------------------------------- tables

COLUMNS = (
    "task",
    "optimizer",
    "learning_rate",
    "final_loss",
    "baseline_final_loss",
    "steps_baseline_needs",
    "speedup",
    "reached",
    "steps_to_baseline",
    "num_steps",
    "compile_s",
    "run_s",
    "at_grid_edge",
)


def write_table(rows: Sequence[Row], out_dir: str | os.PathLike, stem: str = "results"):
    """Write ``{stem}.csv`` (every column) and ``{stem}.md`` (a readable table).

    Returns the two paths.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in COLUMNS])
    lines = [
        "| task | optimizer | lr | final loss | tuned-baseline steps to match | speedup | run s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lr = "-" if r.learning_rate is None else f"{r.learning_rate:.3g}"
        lr += "*" if r.at_grid_edge else ""
        needed = (
            f"{r.steps_baseline_needs}" if r.steps_baseline_needs is not None else f">{r.num_steps}"
        )
        lines.append(
            f"| {r.task} | {r.optimizer} | {lr} | {r.final_loss:.4g} | {needed} | "
            f"{r.speedup_text()} | {r.run_s:.2f} |"
        )
    lines += [
        "",
        f"Final loss: mean training loss over the last {tuning.FINAL_FRACTION:.0%} of steps. "
        "Speedup over the tuned baseline (minivelo.bench.speedup): the baseline's steps to its "
        "own final loss / this optimizer's steps to that loss if it gets there, else the "
        "baseline's steps to this optimizer's final loss / steps taken. Run time excludes "
        "compilation; a tuned row's time covers its whole learning-rate grid.",
    ]
    if any(r.at_grid_edge for r in rows):
        lines += ["", "Rates marked * are the grid's first or last: the grid may be too narrow."]
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def write_report(rows: Sequence[Row], out_dir: str | os.PathLike) -> list[pathlib.Path]:
    """The benchmark's whole report in ``out_dir``: ``results.md``, ``results.csv``,
    ``speedups.png`` and ``curves.png``; returns the paths (the Markdown table first)."""
    import matplotlib.pyplot as plt

    out = pathlib.Path(out_dir)
    csv_path, md_path = write_table(rows, out)
    paths = [md_path, csv_path]
    for name, draw in (("speedups.png", plot_speedups), ("curves.png", plot_curves)):
        plt.close(draw(rows, out / name))
        paths.append(out / name)
    return paths


# --------------------------------------------------------------------------- figures


def plot_speedups(rows: Sequence[Row], path: str | os.PathLike | None = None):
    """VeLO's Figure 1 in miniature (:func:`minivelo.plots.tuning.speedups`, the figure
    lesson 05 shows), saved to ``path`` when given."""
    from minivelo.plots import tuning as tuning_plots

    fig = tuning_plots.speedups(rows, reference="tuned baseline")
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_curves(rows: Sequence[Row], path: str | os.PathLike | None = None):
    """One panel per task: the (seed-mean) training-loss curve of every row."""
    import matplotlib.pyplot as plt

    task_names = list(dict.fromkeys(r.task for r in rows))
    cols = min(3, len(task_names))
    nrows = math.ceil(len(task_names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    labels = list(dict.fromkeys(r.optimizer for r in rows))
    for ax, name in zip(axes.flat, task_names):
        for r in rows:
            if r.task == name and r.curve is not None:
                c = labels.index(r.optimizer)
                ax.plot(tuning.smoothed(r.curve), color=f"C{c}", label=r.optimizer, lw=1.2)
        ax.set_title(name, fontsize=8)
        ax.set_yscale("log")
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(task_names) :]:
        ax.axis("off")
    axes.flat[0].set_ylabel("training loss (smoothed)")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

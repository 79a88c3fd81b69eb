r"""The shipped minivelo VeLO on tasks it never saw in meta-training, against Adam.

One command makes the table and the figures::

    python -m minivelo velo-eval [--weights PATH] [--steps 500] [--seeds 0,1]
        [--tasks LABEL,LABEL] [--grid 1e-4:1:2] [--out runs/velo_eval] [--no-figures]

It trains VeLO (the shipped weights, or ``--weights``), Adam at its default learning rate
1e-3 and Adam with its learning rate tuned per task on every task of :data:`UNSEEN_SUITE`,
through :func:`minivelo.bench.run_benchmark` (so every optimizer sees the same initial
weights and the same minibatches), and writes ``velo_eval.md``, ``.csv`` and ``.json`` to
``--out`` and ``figures/velo_eval_speedups.png`` and ``figures/velo_eval_curves.png``.

Protocol (:mod:`minivelo.bench.tuning` has the shared definitions):

- **Final loss**: the mean training loss over the last 5% of the :math:`T` steps, averaged
  over the seeds. A run with a NaN or inf loss has final loss inf ("diverged").
- **Tuned Adam**: the learning rate of the grid (default 1e-4 to 1, half a decade apart)
  with the lowest final loss, chosen on the very seeds it is scored on: the protocol most
  favourable to Adam. A rate at the grid's edge is marked ``*``.
- **Steps to reach** a loss :math:`L`: the first step at which a loss curve (mean over seeds),
  smoothed by the same trailing 5% window, is :math:`\le L`. Tuned Adam needs
  :math:`t_A \le T` steps to reach its own final loss :math:`L_A`.
- **Speedup** of an optimizer :math:`X` over tuned Adam, two-sided so it can exceed 1 even
  though both run for :math:`T` steps (VeLO's Figure 1 counts the same ratio of steps):
  if :math:`X` reaches :math:`L_A` at step :math:`t_X`, the speedup is
  :math:`t_A / t_X` ("X gets there :math:`t_A/t_X` times faster"); otherwise it is
  :math:`n / T`, with :math:`n` the steps tuned Adam needs to reach :math:`X`'s final loss
  (tuned Adam gets to X's result :math:`T/n` times faster). Both branches meet at
  :math:`t_A / T` and neither is a bound; a diverged run shows "diverged" (speedup 0).
  The benchmark's one-sided speedup (:attr:`minivelo.bench.Row.speedup`) is kept in the
  CSV and JSON as ``velo_bench_speedup``.
- **Goals** (the project's issue): VeLO's final loss below tuned Adam's on at least 2/3 of
  the tasks, and VeLO reaching tuned Adam's final loss in at most half tuned Adam's steps
  (:math:`2 t_X \le t_A`, i.e. speedup :math:`\ge 2`) on at least 1/2 of them.
- **Wall-clock per step**: the run time (compilation excluded) of one jitted program that
  trains all seeds at once (vmapped), divided by :math:`T`. VeLO's is its benchmark run;
  Adam's is a separate run of Adam at 1e-3 built the same way (``train_seeds``) right after,
  as the benchmark's Adam runs share one program with the whole grid. One measurement
  each per task; the summary gives the median over tasks of the ratio VeLO / Adam.

In a notebook::

    from minivelo.bench import velo_eval
    rows = velo_eval.evaluate(velo_eval.suite_labels(), num_steps=500, seeds=(0, 1))
    velo_eval.summarize(rows)  # counts and ratios
    print(velo_eval.markdown_table(rows))
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import hashlib
import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from minivelo.bench import optimizers, report, training, tuning
from minivelo.tasks import build
from minivelo.tasks.base import Task

# (label, registry name, settings). The shipped weights were meta-trained on MNIST-1D and
# digits MLPs of width 32 or 64, depth 1 to 6, relu, batch 32, 128 or full, init scale 1,
# 500 steps (minivelo/weights/minivelo_small.json). None of these tasks is in that family:
UNSEEN_SUITE: list[tuple[str, str, dict]] = [
    # wider than any training MLP
    (
        "mnist1d_mlp_128x128",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(128, 128), batch_size=128),
    ),
    (
        "mnist1d_mlp_256",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(256,), batch_size=128),
    ),
    (
        "digits_mlp_128x128_tanh",  # wider, and an activation never trained on
        "digits_mlp",
        dict(dataset="digits", hidden_sizes=(128, 128), activation="tanh", batch_size=128),
    ),
    # deeper than any training MLP
    (
        "mnist1d_mlp_depth8_full",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(32,) * 8, batch_size=None),
    ),
    # families never trained on
    ("digits_cnn", "digits_cnn", dict(channels=(8, 16), batch_size=64)),
    (
        "digits_autoencoder",
        "digits_autoencoder",
        dict(dataset="digits", hidden_sizes=(32,), bottleneck=8, batch_size=128),
    ),
    # starts at w = 0, where VeLO's step (proportional to rms(w) + 3e-5) is tiny
    ("logistic", "logistic", dict(dim=32, num_examples=2000, margin=4.0, batch_size=64)),
    ("text_lstm", "text_lstm", dict(hidden_size=32, embed_size=16, seq_len=16, batch_size=16)),
    (
        "text_transformer",
        "text_transformer",
        dict(d_model=32, num_layers=1, num_heads=2, seq_len=16, batch_size=16),
    ),
]

ADAM_SPEC = "adam"  # Adam at its default learning rate, 1e-3 (a point of the default grid)
GOAL_BEATS_TUNED = 2 / 3
GOAL_HALF_STEPS = 1 / 2


# ----------------------------------------------------------------------------- tasks


def suite_labels() -> list[str]:
    return [label for label, _, _ in UNSEEN_SUITE]


def unseen_tasks(labels: Sequence[str] | None = None) -> list[Task]:
    """The tasks of :data:`UNSEEN_SUITE` (all, or those named by ``labels``), built."""
    return [task for _, task in _suite(labels)]


def _suite(labels: Sequence[str] | None = None) -> list[tuple[str, Task]]:
    entries = {label: (name, settings) for label, name, settings in UNSEEN_SUITE}
    labels = list(entries) if labels is None else list(labels)
    unknown = [label for label in labels if label not in entries]
    if unknown:
        raise KeyError(
            f"unknown task label(s) {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(entries)}"
        )
    if not labels:
        raise ValueError("no tasks given")
    return [(label, build(entries[label][0], **entries[label][1])) for label in labels]


# --------------------------------------------------------------------------- weights


def velo_spec(weights=None) -> tuple[str, str]:
    """``(optimizer spec, description)`` for VeLO with ``weights``; raises before training.

    ``None``: the shipped weights (spec ``"velo"``). A path or a pytree of meta-parameters:
    registered under a name of its own, ``functools.partial(minivelo.velo, weights=theta)``.
    A missing file raises FileNotFoundError, a file that is not VeLO weights ValueError.
    """
    from minivelo.lopt.velo import optimizer as velo_optimizer

    if weights is None:
        velo_optimizer.load_weights(None)  # a clear error if none ship, or they are broken
        path = velo_optimizer.shipped_weights_path()
        return "velo", f"shipped {path.name} (sha256 {_sha256(path)})"
    if isinstance(weights, (str, os.PathLike)):
        path = pathlib.Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VeLO weights file not found: {path}")
        theta = velo_optimizer.load_weights(path)
        digest = _sha256(path)
        name, description = f"velo[{path.stem}-{digest}]", f"{path} (sha256 {digest})"
    else:
        theta = velo_optimizer.load_weights(weights)
        name, description = f"velo[pytree-{id(weights):x}]", "in-memory meta-parameters"
    name = name.replace(":", "_")  # spec syntax reserves ':'
    import minivelo

    optimizers.register_optimizer(name, functools.partial(minivelo.velo, weights=theta))
    return name, description


def _sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()[:12]


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

    def steps_to_tuned(self, row: report.Row) -> int | None:
        """Steps ``row``'s optimizer needs to reach tuned Adam's final loss; None: never."""
        return tuning.steps_to_reach(row.curve, self.tuned.final_loss)

    def speedup(self, row: report.Row) -> float:
        """The two-sided speedup over tuned Adam (module docstring); 0 if ``row`` diverged."""
        if not math.isfinite(row.final_loss):
            return 0.0
        reached = self.steps_to_tuned(row)
        if reached is not None:
            return self.tuned_steps / reached
        needed = tuning.steps_to_reach(self.tuned.curve, row.final_loss)
        return (self.num_steps if needed is None else needed) / self.num_steps

    def speedup_text(self, row: report.Row) -> str:
        if not math.isfinite(row.final_loss):
            return "diverged"
        speedup = self.speedup(row)
        return f"{speedup:.2f}x" if speedup >= 0.1 else f"{speedup:.2g}x"

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
            velo_bench_speedup=self.velo.speedup,
            velo_bench_reached=self.velo.reached,
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


def _as_labelled(tasks) -> list[tuple[str, Task]]:
    """Suite labels, Tasks (labelled by name) or ``(label, Task)`` pairs -> pairs."""
    items = [tasks] if isinstance(tasks, (str, Task)) else list(tasks)
    if not items:
        raise ValueError("no tasks given")
    labels = [t for t in items if isinstance(t, str)]
    built = dict(_suite(labels)) if labels else {}
    pairs = []
    for item in items:
        if isinstance(item, str):
            pairs.append((item, built[item]))
        elif isinstance(item, Task):
            pairs.append((item.name, item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Task):
            pairs.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"expected a suite label, a Task or (label, Task), got {item!r}")
    return pairs


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

    ``tasks``: labels of :data:`UNSEEN_SUITE`, Task objects (e.g. from
    :func:`unseen_tasks`; labelled by their names) or ``(label, Task)`` pairs.
    """
    num_steps = training.check_num_steps(num_steps)
    seeds = [int(s) for s in seeds]
    training.seed_keys(seeds)  # a clear error on bad seeds before any training
    pairs = _as_labelled(tasks)
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


# ---------------------------------------------------------------------------- tables


def markdown_table(rows: Sequence[EvalRow]) -> str:
    lines = [
        "| task | VeLO | Adam 1e-3 | tuned Adam | tuned lr | VeLO speedup | "
        "Adam 1e-3 speedup | VeLO ms/step | Adam ms/step |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lr = f"{r.tuned.learning_rate:.2g}" + ("*" if r.tuned.at_grid_edge else "")
        velo = f"**{r.velo.final_loss:.4g}**" if r.beats_tuned else f"{r.velo.final_loss:.4g}"
        lines.append(
            f"| {r.label} | {velo} | {r.adam.final_loss:.4g} | {r.tuned.final_loss:.4g} | "
            f"{lr} | {r.speedup_text(r.velo)} | {r.speedup_text(r.adam)} | "
            f"{r.velo_ms_per_step:.2f} | {r.adam_ms_per_step:.2f} |"
        )
    return "\n".join(lines)


def _notes(rows: Sequence[EvalRow], seeds, description: str, wall_s: float | None) -> str:
    steps = rows[0].num_steps if rows else 0
    text = (
        f"{steps} steps, seeds {', '.join(map(str, seeds))}; VeLO weights: {description}. "
        "Final loss: mean training loss over the last 5% of steps, mean over seeds (bold: "
        "below tuned Adam's). Tuned Adam: best rate of the grid on these same seeds. "
        "Speedup: tuned Adam's steps to its final loss / the optimizer's steps to that loss "
        "if it gets there, else tuned Adam's steps to the optimizer's final loss / steps "
        "taken. ms/step: one jitted run of all seeds (vmapped), compilation excluded."
    )
    if any(r.tuned.at_grid_edge for r in rows):
        text += " Rates marked * are the grid's first or last: the grid may be too narrow."
    if wall_s is not None:
        text += f" Whole evaluation, compilation included: {wall_s:.0f} s."
    return text


def write_results(
    rows: Sequence[EvalRow],
    out_dir: str | os.PathLike,
    *,
    seeds: Sequence[int] = (),
    description: str = "",
    wall_s: float | None = None,
    stem: str = "velo_eval",
) -> dict[str, pathlib.Path]:
    """Write ``{stem}.md``, ``.csv`` and ``.json`` into ``out_dir``; return their paths."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{stem}.{ext}" for ext in ("md", "csv", "json")}
    summary = summarize(rows)
    records = [r.to_dict() for r in rows]
    notes = _notes(rows, seeds, description, wall_s)
    paths["md"].write_text(f"{markdown_table(rows)}\n\n{summary_line(summary)}\n\n{notes}\n")
    with open(paths["csv"], "w", newline="") as f:
        columns = list(records[0]) if records else []
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
    document = dict(
        settings=dict(
            num_steps=rows[0].num_steps if rows else None,
            seeds=list(seeds),
            learning_rates=[float(x) for x in rows[0].tuned.grid_learning_rates] if rows else [],
            weights=description,
            wall_s=wall_s,
        ),
        summary=summary,
        summary_line=summary_line(summary),
        rows=records,
    )
    paths["json"].write_text(json.dumps(_jsonable(document), indent=2) + "\n")
    return paths


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else str(float(value))  # "inf", "nan"
    return value


# --------------------------------------------------------------------------- figures


def plot_speedups(rows: Sequence[EvalRow]):
    """Speedup over tuned Adam per task (sorted by VeLO's), log scale, lines at 1x and 2x."""
    import matplotlib.pyplot as plt

    floor = 1e-2  # where a diverged run is drawn
    order = sorted(rows, key=lambda r: -r.speedup(r.velo))
    x = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(order) + 2), 4.2))
    for name, pick, color in (("VeLO", "velo", "C0"), ("Adam 1e-3", "adam", "C1")):
        speed = np.array([max(r.speedup(getattr(r, pick)), floor) for r in order])
        ax.plot(x, speed, "o-", color=color, label=name, lw=1, ms=6)
        down = np.array([not math.isfinite(getattr(r, pick).final_loss) for r in order])
        if down.any():
            ax.plot(x[down], speed[down], "x", color="k", ms=8)
    ax.axhline(1.0, color="k", lw=1, ls="--", label="tuned Adam (1x)")
    ax.axhline(2.0, color="C2", lw=1, ls=":", label="2x (goal)")
    ax.set_yscale("log")
    ax.set_xticks(x, [r.label for r in order], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("speedup over tuned Adam (steps)")
    ax.set_title(f"Unseen tasks, {order[0].num_steps if order else 0} steps", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(rows: Sequence[EvalRow]):
    """One panel per task: smoothed loss curves of VeLO, Adam 1e-3 and tuned Adam."""
    import matplotlib.pyplot as plt

    cols = min(3, max(1, len(rows)))
    nrows = max(1, math.ceil(len(rows) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        for row, name, color in (
            (r.velo, "VeLO", "C0"),
            (r.adam, "Adam 1e-3", "C1"),
            (r.tuned, f"tuned Adam ({r.tuned.learning_rate:.2g})", "C3"),
        ):
            curve = tuning.smoothed(row.curve)
            ax.plot(np.arange(1, len(curve) + 1), curve, color=color, lw=1.2, label=name)
        ax.set_title(r.label, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    axes.flat[0].set_ylabel("training loss (smoothed)")
    fig.tight_layout()
    return fig


def save_figures(rows: Sequence[EvalRow]) -> list[pathlib.Path]:
    """``figures/velo_eval_speedups.png`` and ``figures/velo_eval_curves.png``."""
    import matplotlib.pyplot as plt

    from minivelo.plotting import save_figure

    paths = []
    for name, draw in (("velo_eval_speedups", plot_speedups), ("velo_eval_curves", plot_curves)):
        fig = draw(rows)
        paths.append(save_figure(fig, name))
        plt.close(fig)
    return paths


# ------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    from minivelo.bench.cli import _grid, _seeds

    parser = argparse.ArgumentParser(
        prog="python -m minivelo velo-eval",
        description="The minivelo VeLO vs Adam (1e-3 and tuned per task) on unseen tasks.",
    )
    parser.add_argument("--weights", help="VeLO weights file (default: the shipped weights)")
    parser.add_argument("--steps", type=int, default=500, help="training steps (VeLO's horizon)")
    parser.add_argument("--seeds", type=_seeds, default=[0, 1], help="comma-separated seeds")
    parser.add_argument(
        "--tasks",
        help=f"comma-separated task labels (default: all): {', '.join(suite_labels())}",
    )
    parser.add_argument(
        "--grid",
        type=_grid,
        default=list(tuning.DEFAULT_GRID),
        help="Adam learning-rate grid: LOW:HIGH:PER_DECADE or a list (default 1e-4:1:2)",
    )
    parser.add_argument("--out", default="runs/velo_eval", help="output directory")
    parser.add_argument("--no-figures", action="store_true", help="skip figures/velo_eval_*")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    start = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    labels = None
    if args.tasks is not None:
        labels = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        pairs = _suite(labels)
        _, description = velo_spec(args.weights)
    except (KeyError, ValueError, FileNotFoundError) as error:
        parser.error(str(error).strip("'\""))
    print(f"{len(pairs)} unseen tasks, {args.steps} steps, seeds {args.seeds}; {description}")
    rows = evaluate(
        pairs,
        args.steps,
        args.seeds,
        args.weights,
        learning_rates=args.grid,
        progress=not args.no_progress,
        log=print,
    )
    wall_s = time.perf_counter() - start
    paths = write_results(rows, args.out, seeds=args.seeds, description=description, wall_s=wall_s)
    print()
    print(markdown_table(rows))
    print()
    print(summary_line(summarize(rows)))
    written = [str(p) for p in paths.values()]
    if not args.no_figures:
        written += [str(p) for p in save_figures(rows)]
    print(f"\n{time.perf_counter() - start:.0f} s in all; wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

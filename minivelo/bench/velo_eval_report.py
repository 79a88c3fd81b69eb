"""The writers of ``velo-eval``: a Markdown table, a CSV file and a JSON document.

They read the :class:`~minivelo.bench.velo_eval.EvalRow` objects that
:func:`minivelo.bench.velo_eval.evaluate` returns (by their attributes, so this module
imports nothing of the evaluation) and write ``velo_eval.md``, ``.csv`` and ``.json``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from minivelo.bench.velo_eval import summarize, summary_line


def markdown_table(rows: Sequence) -> str:
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


def _notes(rows: Sequence, seeds, description: str, wall_s: float | None) -> str:
    steps = rows[0].num_steps if rows else 0
    text = (
        f"{steps} steps, seeds {', '.join(map(str, seeds))}; VeLO weights: {description}. "
        "Final loss: mean training loss over the last 5% of steps, mean over seeds (bold: "
        "below tuned Adam's). Tuned Adam: best rate of the grid on these same seeds. "
        "Speedup (minivelo.bench.speedup): tuned Adam's steps to its final loss / the "
        "optimizer's steps to that loss if it gets there, else tuned Adam's steps to the "
        "optimizer's final loss / steps taken. ms/step: one jitted run of all seeds "
        "(vmapped), compilation excluded."
    )
    if any(r.tuned.at_grid_edge for r in rows):
        text += " Rates marked * are the grid's first or last: the grid may be too narrow."
    if wall_s is not None:
        text += f" Whole evaluation, compilation included: {wall_s:.0f} s."
    return text


def write_results(
    rows: Sequence,
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

"""``python -m minivelo bench``: optimizers against learning-rate-tuned Adam on named tasks.

Example::

    python -m minivelo bench --tasks digits_mlp,quadratic --optimizers adam,sgd:tuned \\
        --steps 500 --seeds 0,1 --out runs/bench

writes ``results.md``, ``results.csv``, ``speedups.png`` (VeLO's Figure 1 in miniature)
and ``curves.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import pathlib

from minivelo.bench import optimizers, report, tuning
from minivelo.tasks import list_tasks


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in _csv(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"seeds must be integers: {text!r}") from error


def _grid(text: str) -> list[float]:
    """``LOW:HIGH:PER_DECADE`` (a log grid) or a comma-separated list of rates."""
    try:
        if ":" in text:
            low, high, per_decade = text.split(":")
            return list(tuning.log_grid(float(low), float(high), int(per_decade)))
        return [float(x) for x in _csv(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad learning-rate grid {text!r}: {error}") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minivelo bench",
        description="Benchmark optimizers against a learning-rate-tuned baseline.",
    )
    parser.add_argument(
        "--tasks",
        type=_csv,
        default=list_tasks(),
        help=f"comma-separated task names (default: all): {', '.join(list_tasks())}",
    )
    parser.add_argument(
        "--optimizers",
        type=_csv,
        default=["adam"],
        help="comma-separated specs: NAME, NAME:lr=X or NAME:tuned "
        f"(names: {', '.join(optimizers.list_optimizers())}); default: adam",
    )
    parser.add_argument("--baseline", default="adam", help="optimizer tuned per task")
    parser.add_argument("--steps", type=int, default=500, help="training steps per run")
    parser.add_argument("--seeds", type=_seeds, default=[0], help="comma-separated seeds")
    parser.add_argument(
        "--grid",
        type=_grid,
        default=list(tuning.DEFAULT_GRID),
        help="learning-rate grid: LOW:HIGH:PER_DECADE or a list (default 1e-4:1:2)",
    )
    parser.add_argument("--out", default="runs/bench", help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    unknown = [t for t in args.tasks if t not in list_tasks()]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from: {', '.join(list_tasks())}")
    try:
        for spec in [*args.optimizers, args.baseline]:
            optimizers.parse_spec(spec)
    except (KeyError, ValueError) as error:
        parser.error(str(error).strip("'\""))
    rows = report.run_benchmark(
        args.tasks,
        args.optimizers,
        args.steps,
        seeds=args.seeds,
        baseline=args.baseline,
        learning_rates=args.grid,
        progress=not args.no_progress,
    )
    out = pathlib.Path(args.out)
    csv_path, md_path = report.write_table(rows, out)
    report.plot_speedups(rows, out / "speedups.png")
    report.plot_curves(rows, out / "curves.png")
    print(md_path.read_text())
    print(f"wrote {md_path}, {csv_path}, {out / 'speedups.png'}, {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The command line, all of it: ``python -m minivelo <command> [options]``.

One parser per command, one flag vocabulary for all of them:

- ``--steps N``: training steps (the horizon VeLO and the MLP optimizer are told);
- ``--seeds 0,1,2``: a comma-separated list of integer seeds (never a count);
- ``--out DIR``: the output folder;
- ``--optimizers a,b:tuned``, ``--tasks a,b``: comma-separated lists. An optimizer is a spec
  (:func:`minivelo.bench.parse_spec`): ``NAME``, ``NAME:lr=X`` or ``NAME:tuned``, where NAME
  is any of :data:`OPTIMIZER_NAMES` (every optimizer of :mod:`minivelo.optim`, AdaHessian,
  ``velo`` = the shipped VeLO, ``mlp_lopt`` = the shipped per-parameter MLP optimizer).

The parsers import nothing heavy: ``--help``, at the top or for a command, never imports
JAX. Each command's handler imports the module that implements it and calls its plain
functions. Bad values are usage errors: the message on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

PROG = "python -m minivelo"

# Kept equal to minivelo.bench.optimizers.BUILTIN_NAMES by a test; spelled out here so that
# --help can name them without importing the optimizers (and with them JAX).
OPTIMIZER_NAMES = (
    "sgd",
    "momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "nadam",
    "adamax",
    "lion",
    "adahessian",
    "velo",
    "mlp_lopt",
)
SPEC_HELP = (
    "comma-separated specs NAME, NAME:lr=X or NAME:tuned; NAME is one of "
    f"{', '.join(OPTIMIZER_NAMES)} (velo: the shipped VeLO; mlp_lopt: the shipped "
    "per-parameter MLP optimizer; neither has a learning rate)"
)
DEFAULT_GRID_TEXT = "1e-4:1:2"


class UsageError(Exception):
    """A value that no one can mean: reported by the command's parser, exit status 2."""


def _message(error: Exception) -> str:
    """The text of ``error`` (a KeyError's ``str`` is its message quoted: unquote it)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


# ------------------------------------------------------------------- value parsers


def _items(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def names(text: str) -> list[str]:
    """``a,b,c`` -> ``["a", "b", "c"]`` (no empty items)."""
    return _items(text)


def seed_list(text: str) -> list[int]:
    """``0,1,2`` -> ``[0, 1, 2]``: seeds are a list of integers, never a count."""
    try:
        seeds = [int(t) for t in _items(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds are a comma-separated list of integers, e.g. 0,1,2; got {text!r}"
        ) from None
    if any(not 0 <= s < 2**32 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be in [0, 2**32), got {text!r}")
    return seeds


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def sizes(text: str) -> list[int]:
    """``1e6,1e7`` -> ``[1000000, 10000000]``: parameter counts, each at least 1."""
    try:
        values = [float(t) for t in _items(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes are comma-separated parameter counts, e.g. 1e6,1e7; got {text!r}"
        ) from None
    if any(not (math.isfinite(v) and v >= 1) for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be numbers >= 1, got {text!r}")
    return [int(v) for v in values]


def grid(text: str) -> tuple:
    """``LOW:HIGH:PER_DECADE`` (a log grid) or ``r1,r2,...`` (the rates themselves).

    Returns ``("log", low, high, per_decade)`` or ``("list", r1, r2, ...)``; the handler turns
    it into rates with :func:`minivelo.bench.tuning.log_grid` (which needs numpy)."""
    try:
        if ":" in text:
            low, high, per_decade = text.split(":")
            low, high, per_decade = float(low), float(high), int(per_decade)
            if not (0 < low < high and math.isfinite(high)) or per_decade < 1:
                raise ValueError("need 0 < LOW < HIGH and PER_DECADE >= 1")
            return ("log", low, high, per_decade)
        rates = [float(t) for t in _items(text)]
        if any(not (r > 0 and math.isfinite(r)) for r in rates):
            raise ValueError("rates must be positive numbers")
        return ("list", *rates)
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise argparse.ArgumentTypeError(
            f"bad learning-rate grid {text!r} (LOW:HIGH:PER_DECADE or r1,r2,...): {error}"
        ) from None


def existing_path(text: str) -> pathlib.Path:
    path = pathlib.Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"not found: {text}")
    return path


def _rates(parsed: tuple) -> list[float]:
    if parsed[0] == "log":
        from minivelo.bench.tuning import log_grid

        return [float(r) for r in log_grid(*parsed[1:])]
    return list(parsed[1:])


# ------------------------------------------------------------------- checks (handlers)


def _check_tasks(task_names) -> None:
    from minivelo.tasks import list_tasks

    unknown = [t for t in task_names if t not in list_tasks()]
    if unknown:
        raise UsageError(
            f"unknown task(s) {', '.join(map(repr, unknown))}; choose from: "
            f"{', '.join(list_tasks())}"
        )


def _check_specs(specs, *, tunable: bool = False) -> None:
    from minivelo.bench import optimizers

    for text in specs:
        try:
            spec = optimizers.parse_spec(text)
        except (KeyError, ValueError) as error:
            raise UsageError(_message(error)) from None
        if tunable and not spec.entry.tunable:
            raise UsageError(f"{text!r} has no learning rate to tune or sweep")


def _meta_config(path):
    from minivelo.meta.train import MetaConfig

    try:
        return MetaConfig.from_json(path)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise UsageError(f"bad config {path}: {_message(error)}") from None


# ------------------------------------------------------------------------ handlers


def _compare(args) -> int:
    _check_tasks([args.task])
    _check_specs(args.optimizers)
    from minivelo import compare

    compare.run(
        args.task,
        args.optimizers,
        args.steps,
        args.seeds,
        out=args.out,
        learning_rates=_rates(args.grid),
        progress=not args.no_progress,
    )
    return 0


def _bench(args) -> int:
    from minivelo.tasks import list_tasks

    task_names = args.tasks or list_tasks()
    _check_tasks(task_names)
    _check_specs([*args.optimizers, args.baseline])
    _check_specs([args.baseline], tunable=True)
    from minivelo.bench import report

    rows = report.run_benchmark(
        task_names,
        args.optimizers,
        args.steps,
        seeds=args.seeds,
        baseline=args.baseline,
        learning_rates=_rates(args.grid),
        progress=not args.no_progress,
    )
    paths = report.write_report(rows, args.out)
    print(paths[0].read_text())
    print(f"wrote {', '.join(map(str, paths))}")
    return 0


def _sweep_bench(args) -> int:
    _check_tasks(args.tasks)
    _check_specs(args.optimizers, tunable=True)
    from minivelo.bench import sweep_benchmark

    sweep_benchmark.run(args.tasks, args.optimizers, args.lrs, args.seeds, args.steps, args.repeats)
    return 0


def _velo_bench(args) -> int:
    from minivelo.lopt.velo import benchmark

    options = {"implementation": args.implementation}  # the rest: the benchmark's defaults
    if args.sizes is not None:
        options["sizes"] = args.sizes
    if args.repeats is not None:
        options["repeats"] = args.repeats
    if args.presets is not None:
        unknown = [p for p in args.presets if p not in ("small", "published")]
        if unknown:
            raise UsageError(f"unknown preset(s) {unknown}; choose from small, published")
        options["presets"] = tuple(args.presets)
    return benchmark.run_velo_bench(**options, profile=args.profile)


def _velo_eval(args) -> int:
    import time

    start = time.perf_counter()
    from minivelo.bench import suite, velo_eval, velo_eval_figures, velo_eval_report
    from minivelo.bench.velo_weights import velo_spec

    try:
        pairs = suite.labelled_tasks(args.tasks)
        _, description = velo_spec(args.weights)
    except (KeyError, ValueError, OSError) as error:
        raise UsageError(_message(error)) from None
    print(f"{len(pairs)} unseen tasks, {args.steps} steps, seeds {args.seeds}; {description}")
    rows = velo_eval.evaluate(
        pairs,
        args.steps,
        args.seeds,
        args.weights,
        learning_rates=_rates(args.grid),
        progress=not args.no_progress,
        log=print,
    )
    wall_s = time.perf_counter() - start
    paths = velo_eval_report.write_results(
        rows, args.out, seeds=args.seeds, description=description, wall_s=wall_s
    )
    print()
    print(velo_eval_report.markdown_table(rows))
    print()
    print(velo_eval.summary_line(velo_eval.summarize(rows)))
    written = [str(p) for p in paths.values()]
    if not args.no_figures:
        written += [str(p) for p in velo_eval_figures.save_figures(rows)]
    print(f"\n{time.perf_counter() - start:.0f} s in all; wrote {', '.join(written)}")
    return 0


def _meta_train(args) -> int:
    from minivelo.meta.cli import meta_train

    return meta_train(
        args.config,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        distributed=args.distributed,
        coordinator=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.process_id,
    )


def _meta_eval(args) -> int:
    import json

    from minivelo.meta import evaluate

    family = args.family
    if family is not None and family.lstrip().startswith("{"):
        try:
            family = json.loads(family)
        except json.JSONDecodeError as error:
            raise UsageError(f"--family is not valid JSON: {error}") from None
    try:
        evaluate.load_theta(args.weights)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read --weights {args.weights}: {_message(error)}") from None
    if family is not None:
        from minivelo.meta import population

        try:
            population.family_from_spec(family)
        except (KeyError, ValueError, TypeError) as error:
            raise UsageError(f"bad --family {args.family}: {_message(error)}") from None
    evaluate.run_meta_eval(
        args.weights,
        family=family,
        num_tasks=args.num_tasks,
        num_steps=args.steps,
        seeds=args.seeds,
        task_seed=args.task_seed,
        out=args.out,
    )
    return 0


def _meta_bench(args) -> int:
    from minivelo.meta import benchmark

    config = args.config if args.config is not None else benchmark.DEFAULT_CONFIG
    _meta_config(config)
    return benchmark.run_meta_bench(config, args.num_tasks, args.repeats)


def _export(args) -> int:
    from minivelo.meta import export

    for path in (args.config, args.validation_config):
        if path is not None:
            _meta_config(path)
    command = " ".join([PROG, *args.argv]) if args.candidates else None
    try:
        path = export.export_command(
            name=args.name,
            run=args.run,
            max_minutes=args.max_minutes,
            out=args.out,
            config=args.config,
            snapshot=args.snapshot,
            candidates=args.candidates,
            validation_config=args.validation_config,
            command=command,
        )
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    print(f"wrote {path}")
    return 0


def _select(args) -> int:
    import json

    import jax
    import jax.numpy as jnp
    import numpy as np

    from minivelo.meta import selection, train

    def load(path: pathlib.Path):
        if path.suffix == ".msgpack":  # published-format VeLO weights
            from minivelo.lopt.velo import checkpoint as velo_checkpoint

            tree = velo_checkpoint.load_published(path)
            return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)
        return train.load_theta(path)[0]

    try:
        thetas = {str(path): load(pathlib.Path(path)) for path in args.weights}
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read weights: {_message(error)}") from None
    optimizer = {"kind": "velo", "preset": args.preset}
    try:
        suite = selection.ValidationSuite(args.suite, optimizer, args.cache, log=print)
    except ValueError as error:
        raise UsageError(str(error)) from None
    results = {}
    for path, theta in thetas.items():
        rows = suite.rows(theta)
        score = float(np.mean([r["log_ratio"] for r in rows]))
        wins = sum(r["learned"] < r["adam_tuned"] for r in rows)
        results[path] = dict(score=score, wins=wins, rows=rows)
        print(f"\n{path}: score {score:+.4f}, below tuned Adam on {wins}/{len(rows)}")
        for r in rows:
            print(
                f"  {r['task']:<34} {r['num_steps']:>5} learned {r['learned']:.4g} "
                f"tuned Adam {r['adam_tuned']:.4g} (lr {r['tuned_lr']:.1e}) "
                f"log ratio {r['log_ratio']:+.3f}"
            )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _download(args) -> int:
    from minivelo.lopt.velo import download

    try:
        path = download.fetch_published_weights(args.out, sha256=args.sha256)
    except download.DownloadError as error:
        print(f"minivelo download: {error}", file=sys.stderr)
        return 1
    print(f"{path}\nuse it with minivelo.velo(num_steps, weights={str(path)!r})")
    return 0


def _figures(args) -> int:
    from minivelo import figures

    return figures.regenerate(main, args.only, skip_notebooks=args.skip_notebooks)


# ------------------------------------------------------------------------- parsers


def _add_common(p, *, steps=None, seeds=None, out=None, out_help="output folder"):
    if steps is not None:
        p.add_argument(
            "--steps", type=positive_int, default=steps, help=f"training steps (default {steps})"
        )
    if seeds is not None:
        p.add_argument(
            "--seeds",
            type=seed_list,
            default=list(seeds),
            help=f"comma-separated seeds (default {','.join(map(str, seeds))})",
        )
    if out is not False:
        p.add_argument("--out", default=out, help=f"{out_help} (default {out})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="minivelo: optimizers from SGD to VeLO. Every command takes --help.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name, handler, help_text, description=None):
        sub = commands.add_parser(name, help=help_text, description=description or help_text)
        sub.set_defaults(handler=handler, parser=sub)
        return sub

    p = command(
        "compare",
        _compare,
        "the main job: classical optimizers, tuned Adam, the MLP optimizer and VeLO on one task",
        "Train one task (default digits_mlp) with the classical optimizers at their default "
        "learning rates, Adam with its learning rate tuned (the table says what tuning cost, "
        "in runs), the shipped per-parameter MLP optimizer and the shipped VeLO; print the "
        "table and write figures/compare_loss_curves.png (about a minute on 2 cores).",
    )
    p.add_argument("--task", default="digits_mlp", help="task name (default digits_mlp)")
    p.add_argument(
        "--optimizers",
        type=names,
        default="sgd,momentum,adagrad,rmsprop,adam,lion,adam:tuned,mlp_lopt,velo",
        help=SPEC_HELP
        + " (default sgd,momentum,adagrad,rmsprop,adam,lion,adam:tuned,mlp_lopt,velo)",
    )
    _add_common(
        p, steps=500, seeds=(0, 1, 2), out=None, out_help="write compare.md and the figure here"
    )
    p.add_argument("--grid", type=grid, default=grid(DEFAULT_GRID_TEXT), help="Adam's grid")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = command("bench", _bench, "optimizers against learning-rate-tuned Adam on named tasks")
    p.add_argument("--tasks", type=names, help="comma-separated task names (default: all)")
    p.add_argument("--optimizers", type=names, default=["adam"], help=SPEC_HELP)
    p.add_argument("--baseline", default="adam", help="the optimizer tuned per task")
    _add_common(p, steps=500, seeds=(0,), out="runs/bench")
    p.add_argument(
        "--grid",
        type=grid,
        default=grid(DEFAULT_GRID_TEXT),
        help=f"learning-rate grid: LOW:HIGH:PER_DECADE or r1,r2,... (default {DEFAULT_GRID_TEXT})",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = command("sweep-bench", _sweep_bench, "a vmapped learning-rate sweep vs the runs in turn")
    p.add_argument("--tasks", type=names, default=["digits_mlp", "logistic"], help="task names")
    p.add_argument("--optimizers", type=names, default=["adam"], help="names with a learning rate")
    p.add_argument("--lrs", type=positive_int, default=8, help="learning rates in the sweep")
    _add_common(p, steps=300, seeds=(0, 1), out=False)
    p.add_argument("--repeats", type=positive_int, default=5, help="timed repeats per side")

    p = command("velo-bench", _velo_bench, "VeLO's step time vs Adam's, and XLA temp bytes")
    p.add_argument(
        "--sizes",
        type=sizes,
        help="parameter counts, e.g. 1e6,1e7 (default 1e6,1e7 on a CPU, 1e7,1e8 on an accelerator)",
    )
    p.add_argument("--repeats", type=positive_int, help="timed steps per optimizer")
    p.add_argument("--implementation", default="fused", choices=["fused", "reference"])
    p.add_argument(
        "--presets", type=names, help="VeLO sizes to time: small,published (default both)"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also list the costliest operations of one step (largest size, first preset)",
    )

    p = command("velo-eval", _velo_eval, "VeLO vs default and tuned Adam on nine unseen tasks")
    p.add_argument(
        "--weights", type=existing_path, help="VeLO weights file (default: the shipped ones)"
    )
    _add_common(p, steps=500, seeds=(0, 1), out="runs/velo_eval")
    p.add_argument("--tasks", type=names, help="comma-separated suite labels (default: all)")
    p.add_argument("--grid", type=grid, default=grid(DEFAULT_GRID_TEXT), help="Adam's grid")
    p.add_argument("--no-figures", action="store_true", help="skip figures/velo_eval_*.png")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = command("meta-train", _meta_train, "meta-train a learned optimizer from a JSON config")
    p.add_argument("--config", required=True, help="JSON config (see minivelo/meta/configs)")
    p.add_argument("--out", required=True, help="output folder of the run")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--distributed", action="store_true", help="multi-host: jax.distributed.initialize() first"
    )
    p.add_argument("--coordinator", help="with --distributed: HOST:PORT of process 0")
    p.add_argument("--num-processes", type=positive_int, help="with --distributed: hosts")
    p.add_argument("--process-id", type=int, help="with --distributed: this host's index")

    p = command("meta-eval", _meta_eval, "a meta-trained optimizer vs default and tuned Adam")
    p.add_argument(
        "--weights",
        type=existing_path,
        required=True,
        help="weights .npz (with its .json), or a run folder",
    )
    p.add_argument("--family", help="task family (a name or JSON); default: the training one")
    p.add_argument("--num-tasks", type=positive_int, default=8, help="unseen tasks (default 8)")
    p.add_argument(
        "--steps", type=positive_int, help="training steps (default: the training horizon)"
    )
    _add_common(p, seeds=(0, 1), out=None, out_help="write meta_eval.json here")
    p.add_argument("--task-seed", type=int, default=12345, help="seed of the unseen tasks")

    p = command("meta-bench", _meta_bench, "meta-training throughput vs plain Adam training")
    p.add_argument("--config", help="JSON config (default: meta/configs/mlp_mnist1d_es.json)")
    p.add_argument("--num-tasks", type=positive_int, help="override the config's num_tasks")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed calls per side")

    p = command("export", _export, "export a meta-training run's chosen snapshot as weights")
    p.add_argument("--run", help="a meta-training output folder")
    p.add_argument("--name", required=True, help="weights name, e.g. mlp_lopt_mnist1d")
    p.add_argument(
        "--max-minutes", type=positive_float, help="only snapshots within this meta-training time"
    )
    p.add_argument("--out", help="output folder (default minivelo/weights)")
    p.add_argument("--config", help="the config file the run used (for the recorded command)")
    p.add_argument("--snapshot", help="export this snapshot instead of the best one")
    p.add_argument(
        "--candidates",
        type=names,
        help="comma-separated checkpoint/snapshot files (of any runs) to choose among",
    )
    p.add_argument(
        "--validation-config", help="with --candidates: the config whose validation tasks judge"
    )

    p = command(
        "select",
        _select,
        "score VeLO weights on a validation suite against tuned Adam (the selection rule)",
    )
    p.add_argument("weights", nargs="+", help=".npz snapshots/checkpoints or .msgpack files")
    p.add_argument("--suite", default="v7", help="validation suite (minivelo.meta.selection)")
    p.add_argument("--preset", default="small", help="VeLO preset of the weights")
    p.add_argument("--cache", help="tuned-Adam cache (adam_reference.json)")
    p.add_argument("--json", help="write every row and score here")

    p = command(
        "download",
        _download,
        "download the published VeLO weights (~9 MB, over HTTPS) into a local cache",
    )
    p.add_argument("--out", help="cache folder (default $MINIVELO_CACHE, else ~/.cache/minivelo)")
    p.add_argument("--sha256", help="expected SHA-256 of the file (checked when given)")

    p = command("figures", _figures, "regenerate every figure in figures/")
    p.add_argument("--only", type=names, help="comma-separated notebook name prefixes, e.g. 01,02")
    p.add_argument("--skip-notebooks", action="store_true", help="only rerun the command jobs")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        args.argv = argv
        try:
            return int(args.handler(args) or 0)
        except UsageError as error:
            args.parser.error(str(error))
    except SystemExit as exit_:  # argparse's usage errors (2) and --help (0)
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0

"""Export a meta-training run's chosen meta-parameters as shipped weights.

``python -m minivelo export --run runs/mlp_mnist1d_es --name mlp_lopt_mnist1d
[--max-minutes 30]`` picks, among the run's validation snapshots (``snapshots/step_*.npz``)
taken within the budget of wall-clock meta-training time (compilation included), the one
with the best validation score (or the one ``--snapshot`` names), and writes the weights
through the learned optimizer's contract (:meth:`minivelo.lopt.base.LearnedOptimizer.save`;
no switch on the kind) to ``minivelo/weights/``: ``<name>.npz`` for the per-parameter
MLP (its layers, a few kB), ``<name>.msgpack`` for VeLO (the published checkpoint format,
so ``minivelo.velo`` and the published loaders read it), and ``<name>.json``: the
optimizer's architecture, the meta-training config, the family, the outer step, the
compute spent until then, the seeds, the command that reproduces the run, and a thinned
copy of its learning curves.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np

from minivelo.lopt import base as lopt_base
from minivelo.lopt import mlp_lopt
from minivelo.meta import checkpoint
from minivelo.meta.train import MetaConfig, load_theta, read_metrics


def choose_snapshot(run_dir, max_seconds: float | None = None) -> tuple[pathlib.Path, dict]:
    """The best-on-validation snapshot taken within ``max_seconds`` of meta-training."""
    best = None
    for path in sorted(pathlib.Path(run_dir, "snapshots").glob("step_*.npz")):
        header = checkpoint.read_header(path)
        if max_seconds is not None and header["elapsed_s"] > max_seconds:
            continue
        if best is None or header["val_score"] < best[1]["val_score"]:
            best = (path, header)
    if best is None:
        raise FileNotFoundError(f"no validation snapshot in {run_dir} within the budget")
    return best


def select_by_validation(candidates, validation_config, log=print) -> tuple[pathlib.Path, dict]:
    """The candidate (checkpoint or snapshot file) with the best score on the validation
    tasks of ``validation_config`` (a meta-training config file), and every score.

    Runs with different families validate on different tasks; scoring every candidate on
    one set of validation tasks makes them comparable (and keeps the test tasks unseen).
    """
    from minivelo.meta.train import MetaConfig, MetaTrainer

    trainer = MetaTrainer(MetaConfig.from_json(validation_config), None, progress=False)
    scores = {}
    for path in map(pathlib.Path, candidates):
        theta, config = load_theta(path)
        if config.optimizer != trainer.config.optimizer:
            raise ValueError(f"{path} holds a {config.optimizer} optimizer, not the config's")
        scores[path.as_posix()] = round(trainer.validate(theta), 5)
        log(f"{path}: validation score {scores[path.as_posix()]:.4f}")
    best = min(scores, key=scores.get)
    return pathlib.Path(best), scores


def run_dir_of(path) -> pathlib.Path:
    """The run directory holding a checkpoint (``run/x.npz`` or ``run/snapshots/x.npz``)."""
    path = pathlib.Path(path)
    return path.parent.parent if path.parent.name == "snapshots" else path.parent


# Folders that run records moved out of: an old checkpoint's header may still name them.
MOVED = {"minivelo/weights/in_progress/": "records/"}


def sha256_of(path) -> str:
    """The sha256 of a file's bytes (hex): how provenance names a parent."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _relocated(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        for old, new in MOVED.items():
            if path.as_posix().startswith(old):
                return pathlib.Path(new + path.as_posix()[len(old) :])
    return path


def warm_start_lineage(init_from: str | None) -> list[dict]:
    """The runs a warm start descends from, nearest first: each one's checkpoint (path
    and sha256), config (file and contents), outer steps and compute (a warm-started
    optimizer's cost includes its parents').

    A parent that is exported weights (``NAME.msgpack`` / ``NAME.npz`` beside a
    ``NAME.json`` with ``compute``, e.g. the shipped weights) contributes what its JSON
    records, its own lineage included, so no parent checkpoint need exist.
    """
    lineage = []
    while init_from is not None:
        path = _relocated(pathlib.Path(init_from))
        if path.is_dir():
            path = path / "checkpoint.npz"
        if not path.exists():
            raise FileNotFoundError(
                f"the run was warm-started from {path}, which is gone: its compute cannot "
                "be recorded (restore that checkpoint, then export again)"
            )
        weights_info = path.with_suffix(".json")
        if weights_info.exists() and not path.name.startswith(("best", "checkpoint")):
            info = json.loads(weights_info.read_text())
            if "compute" not in info:
                raise ValueError(f"{weights_info} records no compute: cannot count its cost")
            lineage.append(
                {
                    "from": path.as_posix(),
                    "sha256": sha256_of(path),
                    "config": None,  # exported weights: their command says how they were made
                    "command": info.get("command"),
                    "outer_steps": info["outer_steps"],
                    "wall_s": info["compute"]["wall_s"],
                    "cpu_s": info["compute"].get("cpu_s"),
                    "meta_config": info["meta_config"],
                }
            )
            lineage.extend(info.get("warm_start", []))
            break
        header = checkpoint.read_header(path)
        lineage.append(
            {
                "from": path.as_posix(),
                "sha256": sha256_of(path),
                "config": (run_dir_of(path) / "config.json").as_posix(),
                "outer_steps": header["step"],
                "wall_s": round(header["elapsed_s"], 1),
                "cpu_s": None if header.get("cpu_s") is None else round(header["cpu_s"], 1),
                "meta_config": header["config"],
            }
        )
        init_from = header["config"].get("init_from")
    return lineage


def parents_command(lineage: list[dict]) -> str:
    """The commands that made the parents, oldest first, each followed by `` && ``; an
    exported-weights parent's recorded command covers its own ancestors."""
    steps = []
    for parent in lineage:
        if parent.get("command"):
            steps.append(parent["command"])
            break
        run = run_dir_of(parent["from"]).as_posix()
        steps.append(f"python -m minivelo meta-train --config {parent['config']} --out {run}")
    return "".join(step + " && " for step in reversed(steps))


def learning_curves(metrics: list[dict], upto: int, points: int = 200) -> dict:
    steps = np.array([r["step"] for r in metrics if r["step"] <= upto])
    meta = np.array([r["meta_loss"] for r in metrics if r["step"] <= upto])
    window = max(1, len(meta) // 50)
    smooth = np.convolve(meta, np.ones(window) / window, mode="valid")
    keep = np.unique(np.linspace(0, len(smooth) - 1, min(points, len(smooth))).astype(int))
    val = [(r["step"], r["val_score"]) for r in metrics if "val_score" in r]
    return {
        "step": steps[window - 1 :][keep].tolist(),
        "meta_loss": np.round(smooth[keep], 5).tolist(),
        "val_step": [s for s, _ in val],
        "val_score": [round(v, 5) for _, v in val],
    }


def export(
    run_dir,
    name: str,
    max_seconds: float | None = None,
    out_dir=None,
    config_path=None,
    snapshot=None,
    selection: dict | None = None,
) -> pathlib.Path:
    """Write the chosen snapshot's weights; ``config_path`` names the config in the command."""
    run_dir = pathlib.Path(run_dir)
    config_path = config_path or (run_dir / "config.json").as_posix()
    if snapshot is None:
        path, header = choose_snapshot(run_dir, max_seconds)
    else:
        path, header = pathlib.Path(snapshot), checkpoint.read_header(snapshot)
    theta, config = load_theta(path)
    lopt = lopt_base.build(config.optimizer, config.num_steps)
    family = config.family if isinstance(config.family, (dict, list)) else {"name": config.family}
    parents = warm_start_lineage(config.init_from)
    cpu_parts = [header.get("cpu_s")] + [parent["cpu_s"] for parent in parents]
    metadata = {
        "family": family,
        "outer_steps": header["step"],
        "val_score": header.get("val_score", header.get("best_score")),
        "compute": {
            "wall_s": round(header["elapsed_s"], 1),
            "cpu_s": None if header.get("cpu_s") is None else round(header["cpu_s"], 1),
            "note": "meta-training time until this snapshot, compilation included"
            + ("; total_* adds the warm start's parent runs" if parents else ""),
            "total_wall_s": round(header["elapsed_s"] + sum(p["wall_s"] for p in parents), 1),
            "total_cpu_s": None if None in cpu_parts else round(sum(cpu_parts), 1),
            "total_outer_steps": header["step"] + sum(p["outer_steps"] for p in parents),
        },
        "warm_start": parents,
        "seeds": {
            "seed": config.seed,
            "training tasks": f"sample_tasks(family, {config.seed}, {config.num_tasks}, stream=0)",
            "validation tasks": (
                f"sample_tasks(family, {config.seed}, {config.num_val_tasks}, stream=1)"
            ),
        },
        "command": (
            parents_command(parents)
            + f"python -m minivelo meta-train --config {config_path} --out {run_dir.as_posix()} && "
            f"python -m minivelo export --run {run_dir.as_posix()} --name {name}"
            + (f" --max-minutes {max_seconds / 60:g}" if max_seconds else "")
            + (f" --snapshot {pathlib.Path(snapshot).as_posix()}" if snapshot else "")
        ),
        "meta_config": config.to_dict(),
        "selection": selection,
        "curve": learning_curves(read_metrics(run_dir / "metrics.jsonl"), header["step"]),
    }
    out = pathlib.Path(out_dir) if out_dir else mlp_lopt.WEIGHTS_DIR
    return lopt.save(out / name, theta, metadata)


def export_command(
    *,
    name: str,
    run=None,
    max_minutes: float | None = None,
    out=None,
    config=None,
    snapshot=None,
    candidates=None,
    validation_config=None,
    command: str | None = None,
) -> pathlib.Path:
    """``python -m minivelo export``: export ``run``'s best snapshot (within ``max_minutes``
    of meta-training, or ``snapshot``) as weights ``name`` in ``out`` (default
    ``minivelo/weights``); or, with ``candidates`` (checkpoint or snapshot files of any
    runs) and ``validation_config``, the candidate best on that config's validation tasks.
    ``command`` is the command line recorded with a selection. Raises ValueError for a
    combination of arguments that cannot be meant. Returns the written weights path."""
    budget = None if max_minutes is None else 60 * max_minutes
    selection = None
    if candidates:
        if not validation_config:
            raise ValueError("--candidates needs --validation-config")
        snapshot, scores = select_by_validation(candidates, validation_config)
        run = run_dir_of(snapshot)
        selection = {
            "validation_config": str(validation_config),
            "scores": scores,
            "chosen": snapshot.as_posix(),
            "note": "score = mean log(final / first loss) on the config's validation tasks "
            "(floored at log 1e-12; a diverged run scores 10)",
            "command": command or "python -m minivelo export",
        }
        if config is not None:  # it must be the chosen run's own config
            _, chosen_config = load_theta(snapshot)
            given = MetaConfig.from_json(config)
            if given.to_dict() != chosen_config.to_dict():
                raise ValueError(f"--config {config} is not the config of the chosen {snapshot}")
    elif run is None:
        raise ValueError("give --run (or --candidates with --validation-config)")
    return export(run, name, budget, out, config, snapshot, selection)


if __name__ == "__main__":  # the old spelling, still in recorded commands: say what it is now
    import sys

    print(
        "python -m minivelo.meta.export is now `python -m minivelo export` "
        "(--out-dir is --out; --candidates takes a comma-separated list)",
        file=sys.stderr,
    )
    sys.exit(2)

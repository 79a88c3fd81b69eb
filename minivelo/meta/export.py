"""Export a meta-training run's chosen meta-parameters as shipped weights.

``python -m minivelo.meta.export --run runs/mlp_mnist1d_es --name mlp_lopt_mnist1d
[--max-minutes 30]`` picks, among the run's validation snapshots (``snapshots/step_*.npz``)
taken within the budget of wall-clock meta-training time (compilation included), the one
with the best validation score, and writes ``minivelo/weights/<name>.npz`` (the MLP's
layers, a few kB) and ``<name>.json``: the optimizer's architecture, the meta-training
config, the family, the outer step, the compute spent until then, the seeds, the command
that reproduces the run, and a thinned copy of its learning curves (for lesson 07).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from minivelo.lopt import mlp_lopt
from minivelo.meta import checkpoint
from minivelo.meta.train import load_theta, read_metrics


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
    run_dir, name: str, max_seconds: float | None = None, out_dir=None, config_path=None
) -> pathlib.Path:
    """Write the chosen snapshot's weights; ``config_path`` names the config in the command."""
    run_dir = pathlib.Path(run_dir)
    config_path = config_path or (run_dir / "config.json").as_posix()
    path, header = choose_snapshot(run_dir, max_seconds)
    theta, config = load_theta(path)
    if config.optimizer.get("kind", "mlp") != "mlp":
        raise ValueError("only the per-parameter MLP optimizer exports to minivelo/weights")
    settings = {k: v for k, v in config.optimizer.items() if k != "kind"}
    lopt_config = mlp_lopt.MLPLOptConfig.from_dict(settings)
    family = config.family if isinstance(config.family, dict) else {"name": config.family}
    metadata = {
        "family": family,
        "outer_steps": header["step"],
        "val_score": header["val_score"],
        "compute": {
            "wall_s": round(header["elapsed_s"], 1),
            "cpu_s": None if header.get("cpu_s") is None else round(header["cpu_s"], 1),
            "note": "meta-training time until this snapshot, compilation included",
        },
        "seeds": {
            "seed": config.seed,
            "training tasks": f"sample_tasks(family, {config.seed}, {config.num_tasks}, stream=0)",
            "validation tasks": (
                f"sample_tasks(family, {config.seed}, {config.num_val_tasks}, stream=1)"
            ),
        },
        "command": (
            f"python -m minivelo meta-train --config {config_path} --out {run_dir.as_posix()} && "
            f"python -m minivelo.meta.export --run {run_dir.as_posix()} --name {name}"
            + (f" --max-minutes {max_seconds / 60:g}" if max_seconds else "")
        ),
        "meta_config": config.to_dict(),
        "curve": learning_curves(read_metrics(run_dir / "metrics.jsonl"), header["step"]),
    }
    out = pathlib.Path(out_dir) if out_dir else mlp_lopt.WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    mlp_lopt.save_weights(out / name, theta, lopt_config, metadata)
    return out / f"{name}.npz"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minivelo.meta.export", description=__doc__)
    parser.add_argument("--run", required=True, help="a meta-training output directory")
    parser.add_argument("--name", required=True, help="weights name, e.g. mlp_lopt_mnist1d")
    parser.add_argument(
        "--max-minutes", type=float, help="only snapshots within this much meta-training time"
    )
    parser.add_argument("--out-dir", help="default: minivelo/weights")
    parser.add_argument("--config", help="the config file the run used (for the recorded command)")
    args = parser.parse_args(argv)
    budget = None if args.max_minutes is None else 60 * args.max_minutes
    print(f"wrote {export(args.run, args.name, budget, args.out_dir, args.config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m minivelo meta-train --config CONFIG.json --out DIR [--resume]``.

Writes into ``DIR``: ``config.json`` (a copy), ``checkpoint.npz`` (every
``checkpoint_every`` outer steps, atomically), ``best.npz`` (the best meta-parameters on
the validation tasks), ``metrics.jsonl`` (one record per outer step) and ``metrics.png``.
``--resume`` continues from ``DIR/checkpoint.npz`` and ends with the numbers an
uninterrupted run would have; without it an existing checkpoint is an error (no silent
overwrite). Example configs: ``minivelo/meta/configs/*.json``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from minivelo.meta.checkpoint import CheckpointError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minivelo meta-train", description="Meta-train a learned optimizer."
    )
    parser.add_argument("--config", required=True, help="JSON config (see minivelo/meta/configs)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.npz")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="multi-host: call jax.distributed.initialize() first (see minivelo.meta.population)",
    )
    parser.add_argument("--coordinator", help="with --distributed: HOST:PORT of process 0")
    parser.add_argument("--num-processes", type=int, help="with --distributed: number of hosts")
    parser.add_argument("--process-id", type=int, help="with --distributed: this host's index")
    args = parser.parse_args(argv)
    if args.distributed:
        import jax

        # without the three options, SLURM / Cloud TPU environments are detected
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    from minivelo.meta.train import MetaConfig, MetaTrainer

    try:
        config = MetaConfig.from_json(args.config)
    except (OSError, ValueError, TypeError) as err:
        print(f"meta-train: bad config {args.config}: {err}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    if (out / "checkpoint.npz").exists() and not args.resume:
        print(
            f"meta-train: {out} already holds a checkpoint; pass --resume or pick another --out",
            file=sys.stderr,
        )
        return 2
    trainer = MetaTrainer(config, out, progress=not args.no_progress)
    try:
        state = trainer.run(resume=args.resume)
    except CheckpointError as err:
        print(f"meta-train: cannot resume: {err}", file=sys.stderr)
        return 2
    best = f"{state.best_score:.4f} at step {state.best_step}" if state.best_step else "none"
    print(f"done: {state.step} outer steps in {state.elapsed_s:.0f} s; best validation {best}")
    print(f"written to {out}/ (checkpoint.npz, best.npz, metrics.jsonl, metrics.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

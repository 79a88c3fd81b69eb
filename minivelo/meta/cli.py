"""``python -m minivelo meta-train --config CONFIG.json --out DIR [--resume]``.

Writes into ``DIR``: ``config.json`` (a copy), ``checkpoint.npz`` (every
``checkpoint_every`` outer steps, atomically), ``best.npz`` (the best meta-parameters on
the validation tasks), ``metrics.jsonl`` (one record per outer step) and ``metrics.png``.
``--resume`` continues from ``DIR/checkpoint.npz`` and ends with the numbers an
uninterrupted run would have; without it an existing checkpoint is an error (no silent
overwrite). Example configs: ``minivelo/meta/configs/*.json``.
"""

from __future__ import annotations

import pathlib
import sys

from minivelo.meta.checkpoint import CheckpointError


def meta_train(
    config,
    out,
    *,
    resume: bool = False,
    progress: bool = True,
    distributed: bool = False,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> int:
    """Meta-train from the JSON config file ``config`` into the folder ``out``.

    Returns the exit status: 0 when done, 2 (with the reason on stderr) for a bad config,
    an existing checkpoint without ``resume``, or a checkpoint that cannot be resumed.
    ``distributed`` calls ``jax.distributed.initialize(coordinator, num_processes,
    process_id)`` first (without the three, SLURM / Cloud TPU environments are detected).
    """
    if distributed:
        import jax

        jax.distributed.initialize(coordinator, num_processes, process_id)

    from minivelo.meta.train import MetaConfig, MetaTrainer

    try:
        config_obj = MetaConfig.from_json(config)
    except (OSError, ValueError, TypeError) as err:
        print(f"meta-train: bad config {config}: {err}", file=sys.stderr)
        return 2
    out = pathlib.Path(out)
    if (out / "checkpoint.npz").exists() and not resume:
        print(
            f"meta-train: {out} already holds a checkpoint; pass --resume or pick another --out",
            file=sys.stderr,
        )
        return 2
    try:
        trainer = MetaTrainer(config_obj, out, progress=progress)
    except (ValueError, TypeError) as err:
        print(f"meta-train: bad config {config}: {err}", file=sys.stderr)
        return 2
    try:
        state = trainer.run(resume=resume)
    except CheckpointError as err:
        print(f"meta-train: cannot resume: {err}", file=sys.stderr)
        return 2
    best = f"{state.best_score:.4f} at step {state.best_step}" if state.best_step else "none"
    print(f"done: {state.step} outer steps in {state.elapsed_s:.0f} s; best validation {best}")
    import jax

    if jax.process_index() == 0:  # multi-host: only process 0 writes the files
        print(f"written to {out}/ (checkpoint.npz, best.npz, metrics.jsonl, metrics.png)")
    return 0

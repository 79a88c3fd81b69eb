"""minivelo: optimizers from SGD to VeLO, written to be read.

Public API (each piece lives in the module named after the concept it teaches):

- :mod:`minivelo.optim`: hand-written optimizers as optax transforms (SGD ... AdamW, Nadam,
  Adamax, Adadelta, Lion, AdaHessian), each tested equal to optax.
- :mod:`minivelo.second_order`, :mod:`minivelo.gradient_estimators`: Hutchinson's Hessian
  diagonal; forward gradients and direct feedback alignment.
- :mod:`minivelo.tasks`: offline, deterministic tasks and task families.
- :mod:`minivelo.bench`: jitted training runs, vmapped sweeps, tuned baselines, reports.
- :func:`minivelo.velo`: VeLO as an optax transform; its pieces live in
  :mod:`minivelo.lopt.velo`, the per-parameter MLP optimizer in :mod:`minivelo.lopt`.
- :mod:`minivelo.meta`: meta-training by truncated backprop, ES and PES.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import on first use (PEP 562), so ``python -m minivelo --help`` never imports JAX."""
    if name == "velo":
        from minivelo.lopt.velo.optimizer import velo

        return velo
    if name in ("optim", "lopt"):
        return importlib.import_module(f"minivelo.{name}")
    raise AttributeError(f"module 'minivelo' has no attribute {name!r}")


__all__ = ["optim", "lopt", "velo", "__version__"]

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

from minivelo import optim
from minivelo.lopt.velo.optimizer import velo

__version__ = "0.1.0"

__all__ = ["optim", "lopt", "velo", "__version__"]

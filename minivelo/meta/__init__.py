"""Meta-training learned optimizers: how an optimizer learns to optimize.

- :mod:`.learned_optimizers` the interface meta-training needs (``init_meta_params``,
  ``init``, ``update`` as pure functions of :math:`\\theta`), for the per-parameter MLP
  and for VeLO;
- :mod:`.unroll`      inner training as truncated segments; the meta-objective;
- :mod:`.estimators`  truncated backprop, antithetic ES, PES;
- :mod:`.population`  tasks sampled from a family, persistent members, sharding;
- :mod:`.train`       the outer loop: Adam on :math:`\\theta`, checkpoints, validation;
- :mod:`.evaluate`    whole training runs against default and tuned Adam;
- :mod:`.cli`, :mod:`.benchmark`: ``python -m minivelo meta-train`` / ``meta-eval`` /
  ``meta-bench``.
"""

from minivelo.meta import estimators, learned_optimizers, unroll
from minivelo.meta.estimators import antithetic_es, persistent_es, truncated_backprop
from minivelo.meta.learned_optimizers import LearnedOptimizer

__all__ = [
    "LearnedOptimizer",
    "antithetic_es",
    "estimators",
    "learned_optimizers",
    "persistent_es",
    "truncated_backprop",
    "unroll",
]

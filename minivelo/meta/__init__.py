"""Meta-training learned optimizers: how an optimizer learns to optimize.

The learned optimizers themselves, and the one contract meta-training needs from them
(``init_meta_params``, ``init``, ``update`` as pure functions of :math:`\\theta`, updates
to add), live in :mod:`minivelo.lopt.base`: the per-parameter MLP and VeLO meet it.

- :mod:`.unroll`      inner training as truncated segments; the meta-objective;
- :mod:`.estimators`  truncated backprop, antithetic ES, PES;
- :mod:`.population`  tasks sampled from a family, persistent members, sharding;
- :mod:`.runs`        whole training runs of a learned optimizer; the validation score;
- :mod:`.train`       the outer loop: Adam on :math:`\\theta`, checkpoints, validation;
- :mod:`.evaluate`    whole training runs against default and tuned Adam;
- :mod:`.export`      a run's chosen meta-parameters as shipped weights, with provenance;
- :mod:`.cli`, :mod:`.benchmark`: ``python -m minivelo meta-train`` / ``meta-eval`` /
  ``meta-bench``.
"""

from minivelo.lopt.base import LearnedOptimizer
from minivelo.meta import estimators, unroll
from minivelo.meta.estimators import antithetic_es, persistent_es, truncated_backprop

__all__ = [
    "LearnedOptimizer",
    "antithetic_es",
    "estimators",
    "persistent_es",
    "truncated_backprop",
    "unroll",
]

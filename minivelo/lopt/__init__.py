"""Learned optimizers: optimizers whose update rule is itself a small trained network.

- :mod:`minivelo.lopt.base`: the one contract every learned optimizer meets (pure
  functions of the meta-parameters, updates to add, save/load, the optax view), the
  registry by kind, and its two implementations, ``MLP`` and ``VeLO``; its docstring
  shows how to add a third;
- :mod:`minivelo.lopt.mlp_lopt`: the per-parameter MLP optimizer (Metz et al. 2020), the
  stepping stone between Adam and VeLO; ``mlp_lopt()`` is its optax transform;
- :mod:`minivelo.lopt.velo`: VeLO (Metz et al. 2022), the published architecture, piece by
  piece (``reference``) and fused for speed (``fused``); the optax transform is
  :func:`minivelo.velo`.

References:
  Metz et al. "Tasks, stability, architecture, and compute: Training more effective
  learned optimizers, and using them to train themselves", 2020.
  https://arxiv.org/abs/2009.11243
  Metz et al. "VeLO: Training Versatile Learned Optimizers by Scaling Up", 2022.
  https://arxiv.org/abs/2211.09760
"""

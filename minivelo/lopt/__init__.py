"""Learned optimizers: optimizers whose update rule is itself a small trained network.

- :mod:`minivelo.lopt.velo`: VeLO (Metz et al. 2022), the published architecture, piece by
  piece (``reference``) and fused for speed (``fused``); the optax transform is
  :func:`minivelo.velo`.
"""

"""minivelo: optimizers from SGD to VeLO, written to be read.

Public API (each piece lives in the module named after the concept it teaches):

- :mod:`minivelo.optim`: hand-written classical optimizers as optax transforms.
"""

from minivelo import optim

__version__ = "0.1.0"

__all__ = ["optim", "__version__"]

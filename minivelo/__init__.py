"""minivelo: optimizers from SGD to VeLO, written to be read.

Public API (each piece lives in the module named after the concept it teaches):

- :mod:`minivelo.optim`: hand-written classical optimizers as optax transforms.
"""

from minivelo import optim
from minivelo.lopt.velo.optimizer import velo

__version__ = "0.1.0"

__all__ = ["optim", "lopt", "velo", "__version__"]

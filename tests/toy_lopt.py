"""A third learned optimizer in one file: SGD with a learned learning rate and momentum.

theta = {log_lr, logit_beta}: m <- sigmoid(logit_beta) m + g, update = -exp(log_lr) m.
Registering it is all meta-training, evaluation and export need (tests/test_lopt_contract.py).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.lopt import base


@base.register
@dataclasses.dataclass(frozen=True)
class LearnedMomentum(base.LearnedOptimizer):
    num_steps: int
    initial_log_lr: float = -3.0
    kind = "toy_momentum"

    def settings(self):
        return {"initial_log_lr": self.initial_log_lr}

    def init_meta_params(self, key):
        del key  # deterministic start
        return {"log_lr": jnp.float32(self.initial_log_lr), "logit_beta": jnp.float32(2.0)}

    def init(self, theta, params):
        return jax.tree.map(jnp.zeros_like, params)

    def update(self, theta, grads, state, params, loss):
        beta = jax.nn.sigmoid(theta["logit_beta"])
        momentum = jax.tree.map(lambda m, g: beta * m + g, state, grads)
        return jax.tree.map(lambda m: -jnp.exp(theta["log_lr"]) * m, momentum), momentum

    def write_meta_params(self, path, theta, metadata):
        np.savez(path, **{k: np.asarray(v) for k, v in theta.items()})

    def read_meta_params(self, path):
        with np.load(path) as data:
            return {k: jnp.asarray(data[k]) for k in data.files}

"""Synthetic problems with known structure: noisy quadratics, Rosenbrock, logistic regression.

They cost almost nothing to run and their optimum is known (or nearly), which makes them the
first tasks an optimizer meets in the tests and the lessons.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.tasks.base import Task
from minivelo.tasks.image import check_positive, check_positive_int, minibatch_sampler

# ------------------------------------------------------------------- noisy quadratic


def quadratic_task(
    dim: int = 64,
    condition_number: float = 100.0,
    noise_scale: float = 0.1,
    init_scale: float = 1.0,
) -> Task:
    r"""The noisy quadratic model (Zhang et al. 2019), a diagonal quadratic with noise.

    .. math::
        L(x; \xi) = \tfrac12 \sum_i h_i (x_i - \xi_i)^2, \qquad
        \xi_i \sim \mathcal{N}(0, \sigma^2 / h_i)

    The curvatures :math:`h_i` are log-spaced from 1 to ``condition_number``. The gradient
    noise :math:`h_i \xi_i` has variance :math:`\sigma^2 h_i`: as in real networks, the
    noise is largest along the sharpest directions. The expected loss at the optimum
    :math:`x = 0` is :math:`\tfrac12 d \sigma^2`. A batch is one draw of :math:`\xi`.
    """
    check_positive_int("dim", dim)
    check_positive("condition_number", condition_number)
    if condition_number < 1:
        raise ValueError(f"condition_number must be >= 1, got {condition_number}")
    if not np.isfinite(noise_scale) or noise_scale < 0:
        raise ValueError(f"noise_scale must be >= 0, got {noise_scale!r}")
    check_positive("init_scale", init_scale)
    curvature = jnp.asarray(np.logspace(0, np.log10(condition_number), dim), jnp.float32)

    def init(key):
        return {"x": jax.random.normal(key, (dim,)) * init_scale}

    def sample_batch(key):
        return jax.random.normal(key, (dim,)) * noise_scale / jnp.sqrt(curvature)  # xi

    def loss(params, xi):
        return 0.5 * jnp.sum(curvature * (params["x"] - xi) ** 2)

    config = dict(
        family="quadratic",
        dim=int(dim),
        condition_number=float(condition_number),
        noise_scale=float(noise_scale),
        init_scale=float(init_scale),
    )
    name = f"quadratic[d={dim},kappa={condition_number:.3g},noise={noise_scale:.2g}]"
    return Task(name, init, loss, sample_batch, config)


def sample_quadratic_config(rng: np.random.Generator) -> dict:
    return dict(
        dim=int((8, 32, 128, 512)[rng.integers(4)]),
        condition_number=float(10 ** rng.uniform(0, 4)),
        noise_scale=float((0.0, 0.01, 0.1, 1.0)[rng.integers(4)]),
        init_scale=float(np.exp(rng.uniform(np.log(0.1), np.log(10.0)))),
    )


# ------------------------------------------------------------------------ Rosenbrock


def rosenbrock_task(dim: int = 2, noise_scale: float = 0.0, init_scale: float = 1.0) -> Task:
    r"""The (chained) Rosenbrock valley, minimum 0 at :math:`x = (1, \dots, 1)`.

    .. math::
        L(x; \xi) = \sum_{i=1}^{d-1} \big[100\,(x_{i+1} - x_i^2)^2 + (1 - x_i)^2\big]
                    + \xi^\top x

    Parameters start near the classic :math:`(-1.2, 1, -1.2, 1, \dots)` (the key adds a
    small perturbation, ``0.1 * init_scale`` standard deviation). A batch is the noise
    :math:`\xi \sim \mathcal{N}(0, \sigma^2 I)`, zero when ``noise_scale`` is 0, which makes
    the gradient noisy while the expected loss stays Rosenbrock.
    """
    check_positive_int("dim", dim)
    if dim < 2:
        raise ValueError(f"Rosenbrock needs dim >= 2, got {dim}")
    if not np.isfinite(noise_scale) or noise_scale < 0:
        raise ValueError(f"noise_scale must be >= 0, got {noise_scale!r}")
    check_positive("init_scale", init_scale)
    start = jnp.asarray(np.where(np.arange(dim) % 2 == 0, -1.2, 1.0), jnp.float32)

    def init(key):
        return {"x": start + 0.1 * init_scale * jax.random.normal(key, (dim,))}

    def sample_batch(key):
        return jax.random.normal(key, (dim,)) * noise_scale

    def loss(params, xi):
        x = params["x"]
        valley = jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        return valley + jnp.dot(xi, x)

    config = dict(
        family="rosenbrock", dim=int(dim), noise_scale=float(noise_scale), init_scale=init_scale
    )
    name = f"rosenbrock[d={dim},noise={noise_scale:.2g}]"
    return Task(name, init, loss, sample_batch, config)


def sample_rosenbrock_config(rng: np.random.Generator) -> dict:
    return dict(
        dim=int((2, 4, 8, 16)[rng.integers(4)]),
        noise_scale=float((0.0, 0.01, 0.1)[rng.integers(3)]),
        init_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
    )


# --------------------------------------------------------------- logistic regression


def logistic_data(num_examples: int, dim: int, margin: float, data_seed: int):
    r"""Synthetic binary labels: :math:`x \sim \mathcal{N}(0, I)`,
    :math:`y \sim \mathrm{Bernoulli}(\sigma(\text{margin} \cdot w_*^\top x / \sqrt d))`."""
    rng = np.random.default_rng(data_seed)
    w_true = rng.normal(size=dim)
    x = rng.normal(size=(num_examples, dim)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-margin * (x @ w_true) / np.sqrt(dim)))
    y = (rng.uniform(size=num_examples) < p).astype(np.int32)
    return x, y


def logistic_task(
    dim: int = 32,
    num_examples: int = 2000,
    margin: float = 4.0,
    batch_size: int | None = 64,
    data_seed: int = 0,
) -> Task:
    r"""Logistic regression on synthetic data (see :func:`logistic_data`); a convex problem.

    .. math:: L(w, b) = \operatorname{mean}_n \mathrm{BCE}(\sigma(w^\top x_n + b),\, y_n)

    Parameters start at zero (the key is unused: a convex problem needs no random init).
    """
    check_positive_int("dim", dim)
    check_positive_int("num_examples", num_examples)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("margin", margin)
    x, y = logistic_data(num_examples, dim, margin, data_seed)
    n_test = num_examples // 5
    x_train, y_train, x_test, y_test = x[n_test:], y[n_test:], x[:n_test], y[:n_test]

    def init(key):
        del key
        return {"w": jnp.zeros((dim,)), "b": jnp.zeros(())}

    def logits(params, x):
        return x @ params["w"] + params["b"]

    def loss(params, batch):
        x, y = batch
        return optax.sigmoid_binary_cross_entropy(logits(params, x), y.astype(jnp.float32)).mean()

    def accuracy(params, batch):
        x, y = batch
        return ((logits(params, x) > 0) == (y == 1)).mean()

    config = dict(
        family="logistic",
        dim=int(dim),
        num_examples=int(num_examples),
        margin=float(margin),
        batch_size=batch_size,
        data_seed=int(data_seed),
    )
    bs = "full" if batch_size is None else batch_size
    name = f"logistic[d={dim},n={num_examples},margin={margin:.2g},bs={bs}]"
    return Task(
        name,
        init,
        loss,
        minibatch_sampler((x_train, y_train), batch_size),
        config,
        eval_batch=(jnp.asarray(x_test), jnp.asarray(y_test)),
        accuracy=accuracy,
    )


def sample_logistic_config(rng: np.random.Generator) -> dict:
    return dict(
        dim=int((4, 16, 64, 256)[rng.integers(4)]),
        num_examples=int((500, 2000, 5000)[rng.integers(3)]),
        margin=float(np.exp(rng.uniform(np.log(0.5), np.log(20.0)))),
        batch_size=(16, 64, 256, None)[rng.integers(4)],
        data_seed=int(rng.integers(2**31)),
    )

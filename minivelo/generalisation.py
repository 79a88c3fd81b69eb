r"""Pieces for lesson 04b: why networks trained by SGD generalise, and learning-rate schedules.

Everything here is a small pure function over NumPy or JAX arrays:

- data: :func:`train_test_subset` (a seeded random subset of a split),
  :func:`random_labels` and :func:`noisy_labels` (Zhang et al. 2017's randomisation tests,
  Nakkiran et al. 2019's label noise), :func:`fresh_label_noise` (noise redrawn every step);
- double descent: :func:`random_relu_features` and :func:`least_squares_fit` (minimum-norm
  or ridge), the cheapest model in which the interpolation peak is reliable;
- implicit simplification: :func:`effective_rank` and :func:`stable_rank` of weight
  matrices (Chen et al. 2023 measure how SGD's noise collapses networks onto simpler ones);
- training curves: :func:`steps_to_threshold`;
- schedules: :func:`learning_rate_schedule`, the warm-up / step-decay / cosine shapes as
  ``optax`` schedules, usable as the ``learning_rate`` of every :mod:`minivelo.optim`
  optimizer.

References:
  Zhang, Bengio, Hardt, Recht, Vinyals (2017), "Understanding deep learning requires
  rethinking generalization", ICLR. https://arxiv.org/abs/1611.03530

  Nakkiran, Kaplun, Bansal, Yang, Barak, Sutskever (2019), "Deep double descent: where
  bigger models and more data hurt". https://arxiv.org/abs/1912.02292

  Chen, Kunin, Yamamura, Ganguli (2023), "Stochastic collapse: how gradient noise attracts
  SGD dynamics towards simpler subnetworks", NeurIPS. https://arxiv.org/abs/2306.04251

  Roy, Vetterli (2007), "The effective rank: a measure of effective dimensionality",
  EUSIPCO.

  Loshchilov, Hutter (2017), "SGDR: stochastic gradient descent with warm restarts", ICLR
  (the cosine schedule). https://arxiv.org/abs/1608.03983

  Goyal et al. (2017), "Accurate, large minibatch SGD: training ImageNet in 1 hour"
  (linear warm-up). https://arxiv.org/abs/1706.02677
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "train_test_subset",
    "random_labels",
    "noisy_labels",
    "fresh_label_noise",
    "random_relu_features",
    "least_squares_fit",
    "effective_rank",
    "stable_rank",
    "steps_to_threshold",
    "SCHEDULE_KINDS",
    "learning_rate_schedule",
    "schedule_values",
]


# ---------------------------------------------------------------------------------------
# Data: subsets, random labels, label noise
# ---------------------------------------------------------------------------------------


def train_test_subset(
    x_train, y_train, x_test, y_test, num_train: int, num_test: int | None = None, seed: int = 0
):
    """The first ``num_train`` (``num_test``) examples of a seeded shuffle of each part.

    A smaller training set makes the interpolation threshold of double descent (width =
    number of training examples) cheap to reach. The test examples never enter training.

    Args:
      x_train, y_train, x_test, y_test: the arrays of a train/test split (NumPy).
      num_train: how many training examples to keep (at most ``len(x_train)``).
      num_test: how many test examples to keep (all if ``None``).
      seed: the shuffle's seed; the same seed gives the same subset.

    Returns:
      ``(x_train, y_train, x_test, y_test)``, the kept examples.
    """
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    x_test, y_test = np.asarray(x_test), np.asarray(y_test)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(
            f"inputs and labels differ in length: train {len(x_train)} vs {len(y_train)}, "
            f"test {len(x_test)} vs {len(y_test)}"
        )
    num_test = len(x_test) if num_test is None else num_test
    for name, wanted, available in [
        ("num_train", num_train, len(x_train)),
        ("num_test", num_test, len(x_test)),
    ]:
        if not isinstance(wanted, (int, np.integer)) or not 1 <= wanted <= available:
            raise ValueError(f"{name} must be an integer in [1, {available}], got {wanted!r}")
    rng = np.random.default_rng(seed)
    train_order = rng.permutation(len(x_train))[:num_train]
    test_order = rng.permutation(len(x_test))[:num_test]
    return x_train[train_order], y_train[train_order], x_test[test_order], y_test[test_order]


def _check_labels(labels, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}], found [{labels.min()}, {labels.max()}]"
        )
    return labels


def random_labels(labels, num_classes: int, seed: int = 0) -> np.ndarray:
    r"""Zhang et al.'s randomisation test: every label replaced by a uniform random class.

    .. math:: \tilde y_i \sim \mathrm{Uniform}\{0, \dots, K-1\}\ \text{i.i.d.}

    The inputs keep all their structure, but nothing links them to the labels any more,
    so no classifier can beat chance (:math:`1/K`) on fresh data; whatever a network
    achieves on the training set is memorisation.

    Args:
      labels: the true labels, a 1-D integer array (only its length and range are used).
      num_classes: :math:`K`.
      seed: the NumPy seed.

    Returns:
      A new int32 array; the input is not modified.

    References:
      Zhang et al. (2017), "Understanding deep learning requires rethinking
      generalization". https://arxiv.org/abs/1611.03530
    """
    labels = _check_labels(labels, num_classes)
    return np.random.default_rng(seed).integers(0, num_classes, labels.shape).astype(np.int32)


def noisy_labels(labels, num_classes: int, noise_fraction: float, seed: int = 0):
    r"""Label noise: a fixed fraction :math:`p` of the labels moved to another class.

    Exactly :math:`\mathrm{round}(p\,n)` examples, chosen uniformly without replacement,
    get a label drawn uniformly from the :math:`K - 1` *wrong* classes, so the fraction
    of wrong labels is :math:`p` exactly (Nakkiran et al. draw from all :math:`K` classes,
    which corrupts a fraction :math:`p(K-1)/K`).

    Args:
      labels: a 1-D integer array in ``[0, num_classes)``.
      num_classes: :math:`K`.
      noise_fraction: :math:`p \in [0, 1]`.
      seed: the NumPy seed.

    Returns:
      ``(new_labels, corrupted)``: an int32 copy with the noise, and a boolean mask of the
      examples whose label was changed. The input is not modified.

    References:
      Nakkiran et al. (2019), "Deep double descent". https://arxiv.org/abs/1912.02292
    """
    labels = _check_labels(labels, num_classes)
    if not 0.0 <= noise_fraction <= 1.0:
        raise ValueError(f"noise_fraction must lie in [0, 1], got {noise_fraction}")
    rng = np.random.default_rng(seed)
    num_corrupted = int(round(noise_fraction * labels.size))
    chosen = rng.choice(labels.size, size=num_corrupted, replace=False)
    # label + s mod K with s in 1..K-1 is uniform over the K - 1 other classes
    shift = rng.integers(1, num_classes, size=num_corrupted)
    new_labels = labels.astype(np.int32).copy()
    new_labels[chosen] = (new_labels[chosen] + shift) % num_classes
    corrupted = np.zeros(labels.size, bool)
    corrupted[chosen] = True
    return new_labels, corrupted


def fresh_label_noise(key, labels, num_classes: int, noise_fraction) -> jax.Array:
    r"""Label noise drawn anew at every step: each label replaced with probability :math:`p`.

    .. math::
        \tilde y_i = \begin{cases} u_i \sim \mathrm{Uniform}\{0,\dots,K-1\} &
        \text{with probability } p \\ y_i & \text{otherwise} \end{cases}

    Unlike :func:`noisy_labels`, which corrupts a dataset once (something to memorise),
    fresh noise changes every minibatch: it only adds gradient noise, the "label noise SGD"
    whose implicit regularisation Blanc et al. (2020) and Chen et al. (2023) analyse. JAX
    code, usable inside ``jit``/``vmap``/``scan``; :math:`p` may be traced.

    Args:
      key: a JAX PRNG key (use a new one every step).
      labels: an integer array of labels in ``[0, num_classes)``.
      num_classes: :math:`K`.
      noise_fraction: :math:`p \in [0, 1]`.

    Returns:
      Labels of the same shape and dtype.

    References:
      Blanc, Gupta, Valiant, Valiant (2020), "Implicit regularization for deep neural
      networks driven by an Ornstein-Uhlenbeck like process", COLT.
      https://arxiv.org/abs/1904.09080
    """
    if isinstance(noise_fraction, (int, float)) and not 0.0 <= noise_fraction <= 1.0:
        raise ValueError(f"noise_fraction must lie in [0, 1], got {noise_fraction}")
    replace_key, class_key = jax.random.split(key)
    replace = jax.random.uniform(replace_key, labels.shape) < noise_fraction
    random_classes = jax.random.randint(class_key, labels.shape, 0, num_classes, labels.dtype)
    return jnp.where(replace, random_classes, labels)


# ---------------------------------------------------------------------------------------
# Random-features regression (double descent)
# ---------------------------------------------------------------------------------------


def random_relu_features(x, width: int, seed: int = 0) -> np.ndarray:
    r"""A fixed random ReLU layer: :math:`\phi(x) = \max(0, W^\top x)/\sqrt{p}`.

    .. math:: W \in \mathbb{R}^{d \times p},\ W_{ij} \sim \mathcal{N}(0, 1/d)

    A linear model on top of :math:`\phi` is a two-layer network whose first layer is
    frozen at initialisation: training it is least squares, solvable exactly, and its
    number of parameters :math:`p` is the width. Features for a training and a test set
    must be drawn with the same ``seed`` (the same :math:`W`). In float64, so that the
    ill-conditioned fits near :math:`p = n` are limited by the problem, not by rounding.

    Args:
      x: inputs ``[n, d]`` (flattened further dimensions are allowed: ``[n, ...]``).
      width: :math:`p`, the number of random features.
      seed: the NumPy seed of :math:`W`.

    Returns:
      ``[n, p]`` float64 features.

    References:
      Rahimi, Recht (2007), "Random features for large-scale kernel machines", NeurIPS.
      Mei, Montanari (2019), "The generalization error of random features regression:
      precise asymptotics and double descent curve". https://arxiv.org/abs/1908.05355
    """
    x = np.asarray(x, np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must be [n, d] (or [n, ...]), got shape {x.shape}")
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    x = x.reshape(len(x), -1)  # [n, d]
    d = x.shape[1]
    w = np.random.default_rng(seed).standard_normal((d, width)) / np.sqrt(d)  # [d, p]
    return np.maximum(x @ w, 0.0) / np.sqrt(width)  # [n, p]


def _single_threaded_blas():
    """A context in which LAPACK runs on one thread (a no-op without ``threadpoolctl``).

    On a few busy cores, threaded LAPACK on these small matrices spends its time waiting
    for its own threads: an SVD of a 200 x 3000 matrix took 1-4 s threaded and 0.12 s
    single-threaded on a shared 2-core machine.
    """
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover - depends on the environment
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def least_squares_fit(features, targets, ridge: float = 0.0) -> np.ndarray:
    r"""Minimum-norm least squares (``ridge = 0``) or ridge regression, through the SVD.

    .. math::
        \hat\beta = \arg\min_\beta \|\Phi\beta - Y\|^2 + \lambda\|\beta\|^2
                  = V\,\mathrm{diag}\!\Big(\frac{s_i}{s_i^2 + \lambda}\Big)\,U^\top Y

    with :math:`\Phi = U\,\mathrm{diag}(s)\,V^\top`. At :math:`\lambda = 0` this is the
    pseudo-inverse solution: below the interpolation threshold (:math:`p < n`) the least
    squares fit, above it the interpolating :math:`\beta` of smallest norm, which is
    where gradient descent from zero converges. Singular values below
    ``max(n, p) * eps * s_max`` count as zero (NumPy's ``pinv`` rule).

    Args:
      features: :math:`\Phi`, ``[n, p]``.
      targets: :math:`Y`, ``[n]`` or ``[n, k]`` (one column per output).
      ridge: :math:`\lambda \ge 0`.

    Returns:
      :math:`\hat\beta`, ``[p]`` or ``[p, k]``.
    """
    features = np.asarray(features, np.float64)
    targets = np.asarray(targets, np.float64)
    if features.ndim != 2 or targets.shape[:1] != features.shape[:1]:
        raise ValueError(
            f"features must be [n, p] and targets [n] or [n, k] with the same n; "
            f"got {features.shape} and {targets.shape}"
        )
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    with _single_threaded_blas():
        u, s, vt = np.linalg.svd(features, full_matrices=False)  # [n, r], [r], [r, p]
    cutoff = max(features.shape) * np.finfo(np.float64).eps * (s.max() if s.size else 0.0)
    kept = s > cutoff
    gain = np.zeros_like(s)
    gain[kept] = s[kept] / (s[kept] ** 2 + ridge)  # s / (s² + λ); 1/s at λ = 0
    coefficients = u.T @ targets  # [r] or [r, k]
    gain = gain if targets.ndim == 1 else gain[:, None]
    return vt.T @ (gain * coefficients)


# ---------------------------------------------------------------------------------------
# Ranks of weight matrices (implicit simplification)
# ---------------------------------------------------------------------------------------


def _singular_values(matrix) -> np.ndarray:
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"expected a non-empty 2-D matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("the matrix has non-finite entries (did training diverge?)")
    return np.linalg.svd(matrix, compute_uv=False)


def effective_rank(matrix) -> float:
    r"""Roy & Vetterli's effective rank: the exponential of the singular values' entropy.

    .. math::
        \operatorname{erank}(W) = \exp\Big(-\sum_i q_i \log q_i\Big), \qquad
        q_i = \frac{s_i}{\sum_j s_j}

    It lies between 1 (one direction carries everything) and
    :math:`\min(\text{rows}, \text{columns})` (all singular values equal), and is
    :math:`r` for a matrix with :math:`r` equal non-zero singular values.

    Args:
      matrix: a 2-D array, e.g. a layer's weights ``[fan_in, fan_out]``.

    Returns:
      The effective rank (a Python float); 0.0 for the zero matrix.

    References:
      Roy, Vetterli (2007), "The effective rank: a measure of effective dimensionality".
    """
    s = _singular_values(matrix)
    total = s.sum()
    if total == 0:
        return 0.0
    q = s[s > 0] / total
    return float(np.exp(-np.sum(q * np.log(q))))


def stable_rank(matrix) -> float:
    r"""The stable rank :math:`\|W\|_F^2 / \|W\|_2^2 = \sum_i s_i^2 / s_1^2`.

    A smooth lower bound on the rank, insensitive to tiny singular values; 0.0 for the
    zero matrix.
    """
    s = _singular_values(matrix)
    return 0.0 if s[0] == 0 else float(np.sum(s**2) / s[0] ** 2)


# ---------------------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------------------


def steps_to_threshold(losses, threshold: float, steps=None):
    """The first step at which a loss curve is at or below ``threshold``; ``None`` if never.

    Args:
      losses: a 1-D sequence of losses (NaN counts as "not yet").
      threshold: the level to reach.
      steps: the step number of each entry (default ``0, 1, 2, ...``), for curves recorded
        every few steps.

    Returns:
      The step (an ``int``) or ``None``.
    """
    losses = np.asarray(losses, np.float64)
    if losses.ndim != 1:
        raise ValueError(f"losses must be 1-D, got shape {losses.shape}")
    steps = np.arange(len(losses)) if steps is None else np.asarray(steps)
    if steps.shape != losses.shape:
        raise ValueError(f"steps {steps.shape} and losses {losses.shape} differ in shape")
    reached = np.flatnonzero(losses <= threshold)  # NaN <= x is False
    return int(steps[reached[0]]) if reached.size else None


# ---------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------

#: The schedule shapes :func:`learning_rate_schedule` builds.
SCHEDULE_KINDS = ("constant", "warmup_constant", "step", "cosine", "warmup_cosine")


def learning_rate_schedule(
    kind: str,
    peak: float,
    num_steps: int,
    *,
    warmup_steps: int = 0,
    final_fraction: float = 0.0,
    step_boundaries: tuple[float, ...] = (0.5, 0.75),
    step_factor: float = 0.1,
) -> Callable[[jax.Array], jax.Array]:
    r"""One of the usual learning-rate schedules, as an ``optax`` schedule ``t -> eta_t``.

    With peak :math:`\eta`, :math:`T` = ``num_steps``, :math:`W` = ``warmup_steps``:

    .. math::
        \text{warm-up:}\quad \eta_t = \eta\, t / W \quad (t < W) \\
        \text{step:}\quad \eta_t = \eta\, \gamma^{\#\{b:\ t \ge b T\}} \\
        \text{cosine:}\quad \eta_t = \eta\Big(f + (1-f)\,
            \tfrac12\big(1 + \cos\tfrac{\pi (t - W)}{T - W}\big)\Big) \quad (W \le t \le T)

    (``constant`` is :math:`\eta`; ``warmup_constant`` is warm-up then :math:`\eta`;
    ``cosine`` is ``warmup_cosine`` with :math:`W = 0`; :math:`f` = ``final_fraction``,
    :math:`\gamma` = ``step_factor``, the boundaries :math:`b` are fractions of :math:`T`.)

    Args:
      kind: one of :data:`SCHEDULE_KINDS`.
      peak: :math:`\eta`, the largest learning rate.
      num_steps: :math:`T`, the length of training.
      warmup_steps: :math:`W` (``warmup_constant`` and ``warmup_cosine`` need
        :math:`0 < W < T`; the others ignore it).
      final_fraction: :math:`f`, the cosine's end value as a fraction of the peak.
      step_boundaries: where step decay divides by :math:`1/\gamma`, as fractions of T.
      step_factor: :math:`\gamma`.

    Returns:
      A function of the step count, as ``optax`` schedules are; pass it as the
      ``learning_rate`` of any :mod:`minivelo.optim` optimizer or of optax's.

    References:
      Goyal et al. (2017) for linear warm-up, https://arxiv.org/abs/1706.02677;
      Loshchilov, Hutter (2017), SGDR, for the cosine, https://arxiv.org/abs/1608.03983;
      He et al. (2016), "Deep residual learning", for step decay by 10.
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"unknown schedule kind {kind!r}; choose one of {SCHEDULE_KINDS}")
    if not peak > 0:
        raise ValueError(f"peak must be > 0, got {peak}")
    if not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if kind.startswith("warmup") and not 0 < warmup_steps < num_steps:
        raise ValueError(
            f"{kind} needs 0 < warmup_steps < num_steps, got {warmup_steps} and {num_steps}"
        )
    if kind == "constant":
        return optax.constant_schedule(peak)
    if kind == "step":
        if not all(0 < b < 1 for b in step_boundaries):
            raise ValueError(f"step_boundaries must be fractions in (0, 1), got {step_boundaries}")
        boundaries = {int(round(b * num_steps)): step_factor for b in step_boundaries}
        return optax.piecewise_constant_schedule(peak, boundaries)
    if kind == "warmup_constant":
        return optax.join_schedules(
            [optax.linear_schedule(0.0, peak, warmup_steps), optax.constant_schedule(peak)],
            [warmup_steps],
        )
    warmup = warmup_steps if kind == "warmup_cosine" else 0
    cosine = optax.cosine_decay_schedule(peak, num_steps - warmup, alpha=final_fraction)
    if warmup == 0:
        return cosine
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), cosine], [warmup])


def schedule_values(schedule, num_steps: int) -> np.ndarray:
    """:math:`\\eta_0, \\dots, \\eta_{T-1}` of a schedule, as a NumPy array (for plots)."""
    return np.asarray(jax.vmap(schedule)(jnp.arange(num_steps)))

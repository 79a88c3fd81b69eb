r"""Bayesian optimisation with a Gaussian-process surrogate, written out in NumPy.

Tuning a hyperparameter :math:`x` is the minimisation of a black box :math:`f(x)` (the
loss after one training) that is expensive to evaluate. Bayesian optimisation spends
computation on *thinking* to save evaluations (Brochu, Cora & de Freitas 2010; Shahriari
et al. 2016):

1. **Surrogate.** Put a Gaussian-process prior on :math:`f` and condition it on the
   evaluations so far, :math:`\mathcal D = \{(x_i, y_i)\}_{i=1}^n`. At any :math:`x` the
   posterior is a Gaussian with mean :math:`\mu(x)` and standard deviation
   :math:`\sigma(x)`:

   .. math::
       \mu(x) = k(x)^\top (K + \sigma_n^2 I)^{-1} y, \qquad
       \sigma^2(x) = k(x, x) - k(x)^\top (K + \sigma_n^2 I)^{-1} k(x),

   with :math:`K_{ij} = k(x_i, x_j)` and :math:`k(x)_i = k(x_i, x)`
   (Rasmussen & Williams 2006, eq. 2.25-2.26).
2. **Acquisition.** Score every candidate by how much it promises, trading a low mean
   (exploitation) against a large uncertainty (exploration): expected improvement (EI),
   probability of improvement (PI) or a confidence bound (UCB).
3. **Evaluate** the candidate with the highest score, add it to :math:`\mathcal D`, repeat.

The kernel's hyperparameters (length scales, signal and noise variance) are fitted by
maximising the log marginal likelihood over a small grid, with the signal variance
profiled out in closed form (:func:`fit_gp`). Everything here minimises; every
acquisition returns a score to *maximise*.

The pieces: :func:`rbf_kernel`, :func:`matern52_kernel`, :class:`GaussianProcess`,
:func:`fit_gp`, :func:`expected_improvement`, :func:`probability_of_improvement`,
:func:`upper_confidence_bound`, the ask/tell loop :class:`BayesianOptimizer`,
:func:`minimize`, :func:`optuna_sampler` (the same loop as an Optuna sampler), and
:func:`plot_1d` / :func:`plot_2d`, pictures of the surrogate and the acquisitions.

References:
  C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine Learning*, MIT
  Press 2006, chapters 2, 4 and 5.
  D. R. Jones, M. Schonlau and W. J. Welch, "Efficient global optimization of expensive
  black-box functions", J. Global Optimization 13, 1998 (expected improvement).
  H. J. Kushner, "A new method of locating the maximum point of an arbitrary multipeak
  curve in the presence of noise", J. Basic Engineering 86, 1964 (probability of
  improvement).
  N. Srinivas, A. Krause, S. Kakade and M. Seeger, "Gaussian process optimization in the
  bandit setting: no regret and experimental design", ICML 2010 (GP-UCB).
  J. Snoek, H. Larochelle and R. P. Adams, "Practical Bayesian optimization of machine
  learning algorithms", NeurIPS 2012 (Matern 5/2 kernel for tuning).
  B. Shahriari, K. Swersky, Z. Wang, R. P. Adams and N. de Freitas, "Taking the human out
  of the loop: a review of Bayesian optimization", Proc. IEEE 104, 2016.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import ndtr  # the standard normal CDF, Phi

__all__ = [
    "ACQUISITIONS",
    "KERNELS",
    "BayesianOptimizer",
    "GaussianProcess",
    "MinimizeResult",
    "expected_improvement",
    "fit_gp",
    "matern52_kernel",
    "minimize",
    "optuna_sampler",
    "plot_1d",
    "plot_2d",
    "probability_of_improvement",
    "rbf_kernel",
    "upper_confidence_bound",
]


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------


def _scaled_sq_distances(x1: np.ndarray, x2: np.ndarray, lengthscales) -> np.ndarray:
    r""":math:`r^2_{ij} = \sum_d (x_{1,id} - x_{2,jd})^2 / \ell_d^2`; shape [n1, n2]."""
    a = np.asarray(x1, float) / lengthscales
    b = np.asarray(x2, float) / lengthscales
    sq = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None, :] - 2.0 * a @ b.T
    return np.maximum(sq, 0.0)


def rbf_kernel(x1: np.ndarray, x2: np.ndarray, lengthscales, variance: float = 1.0) -> np.ndarray:
    r"""The squared-exponential (RBF) kernel, infinitely smooth sample paths.

    .. math::
        k(x, x') = s^2 \exp\!\left(-\tfrac12 r^2\right), \qquad
        r^2 = \sum_d (x_d - x'_d)^2 / \ell_d^2

    Args:
      x1, x2: points, shapes ``[n1, dim]`` and ``[n2, dim]``.
      lengthscales: :math:`\ell`, a scalar or one per dimension.
      variance: the signal variance :math:`s^2`.

    Returns:
      The ``[n1, n2]`` matrix :math:`k(x_{1,i}, x_{2,j})`.
    """
    return variance * np.exp(-0.5 * _scaled_sq_distances(x1, x2, lengthscales))


def matern52_kernel(
    x1: np.ndarray, x2: np.ndarray, lengthscales, variance: float = 1.0
) -> np.ndarray:
    r"""The Matern 5/2 kernel: twice-differentiable sample paths, the usual choice for tuning.

    .. math::
        k(x, x') = s^2 \left(1 + \sqrt5\, r + \tfrac53 r^2\right) e^{-\sqrt5\, r}

    with :math:`r` as in :func:`rbf_kernel` (Rasmussen & Williams 2006, eq. 4.17).
    Arguments and result as in :func:`rbf_kernel`.
    """
    r = np.sqrt(_scaled_sq_distances(x1, x2, lengthscales))
    return variance * (1.0 + math.sqrt(5.0) * r + (5.0 / 3.0) * r**2) * np.exp(-math.sqrt(5.0) * r)


KERNELS: dict[str, Callable] = {"rbf": rbf_kernel, "matern52": matern52_kernel}


# ---------------------------------------------------------------------------------------
# The Gaussian process
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GaussianProcess:
    r"""A Gaussian-process posterior, conditioned on data; build it with :func:`fit_gp`.

    The outputs are standardised, :math:`\tilde y = (y - \bar y)/ s_y`, and the prior on
    :math:`\tilde y` is :math:`\mathcal{GP}(0, s^2 (k_\ell + \tau\, \delta))`, with
    :math:`k_\ell` the unit-variance kernel, :math:`s^2` the signal variance and
    :math:`\tau = \sigma_n^2 / s^2` the noise-to-signal ratio. :meth:`predict` returns
    the posterior in the units of :math:`y`.
    """

    kernel: str
    x: np.ndarray  # [n, dim] training inputs
    y_mean: float  # \bar y
    y_scale: float  # s_y
    lengthscales: np.ndarray  # [dim] \ell
    signal_variance: float  # s^2 (of the standardised outputs)
    noise_ratio: float  # tau = sigma_n^2 / s^2
    cholesky: np.ndarray  # [n, n] L with L L^T = k_ell(X, X) + tau I
    alpha: np.ndarray  # [n] (k_ell(X, X) + tau I)^{-1} \tilde y
    log_marginal_likelihood: float  # of the standardised outputs, at the fitted values

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Posterior mean :math:`\mu(x)` and standard deviation :math:`\sigma(x)` of :math:`f`.

        .. math::
            \mu = \bar y + s_y\, k_\ell(x)^\top \alpha, \qquad
            \sigma^2 = s_y^2\, s^2 \left(1 - \|L^{-1} k_\ell(x)\|^2\right)

        (the latent function, without observation noise). ``x`` has shape ``[m, dim]``;
        both results have shape ``[m]``.
        """
        x = np.atleast_2d(np.asarray(x, float))
        if x.shape[1] != self.x.shape[1]:
            raise ValueError(f"x has {x.shape[1]} dimensions, the GP has {self.x.shape[1]}")
        k_star = KERNELS[self.kernel](self.x, x, self.lengthscales)  # [n, m]
        mean = self.y_mean + self.y_scale * (k_star.T @ self.alpha)
        v = _solve_lower(self.cholesky, k_star)  # L^{-1} k(x), [n, m]
        variance = self.signal_variance * np.maximum(1.0 - np.sum(v**2, 0), 0.0)
        return mean, self.y_scale * np.sqrt(variance)


def _solve_lower(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    return solve_triangular(lower, b, lower=True)


DEFAULT_LENGTHSCALES = (0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.8, 1.3, 2.0)
DEFAULT_NOISE_RATIOS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1)


def fit_gp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    kernel: str = "matern52",
    lengthscale_grid: Sequence[float] = DEFAULT_LENGTHSCALES,
    noise_ratio_grid: Sequence[float] = DEFAULT_NOISE_RATIOS,
    max_grid_size: int = 1024,
) -> GaussianProcess:
    r"""Condition a GP on ``(x, y)``, its hyperparameters chosen by marginal likelihood.

    With :math:`K = s^2 (R_\ell + \tau I)`, :math:`R_\ell` the unit-variance kernel matrix,
    the log marginal likelihood of the standardised outputs is

    .. math::
        \log p(\tilde y \mid \ell, s, \tau) = -\tfrac12 \tilde y^\top K^{-1} \tilde y
        - \tfrac12 \log |K| - \tfrac n2 \log 2\pi .

    Its maximum over :math:`s^2` is in closed form, :math:`\hat s^2 = \tilde y^\top (R_\ell +
    \tau I)^{-1} \tilde y / n`, leaving

    .. math::
        \log p = -\tfrac n2 \log \hat s^2 - \tfrac12 \log |R_\ell + \tau I|
        - \tfrac n2 (1 + \log 2\pi),

    maximised here over the grid of length scales (one per input dimension, every
    combination, or one shared by all dimensions when the combinations would exceed
    ``max_grid_size``) times the grid of noise ratios :math:`\tau` (Rasmussen & Williams
    2006, section 5.4). The inputs are best scaled to the unit cube first, as
    :class:`BayesianOptimizer` does, so that the default grid fits them.

    Args:
      x: inputs, shape ``[n, dim]`` (or ``[n]`` for one dimension), finite.
      y: outputs, shape ``[n]``, finite.
      kernel: ``"matern52"`` or ``"rbf"``.
      lengthscale_grid: candidate length scales :math:`\ell` (positive).
      noise_ratio_grid: candidate :math:`\tau = \sigma_n^2 / s^2` (positive; the smallest
        also serves as the jitter that keeps the Cholesky factorisation stable).
      max_grid_size: the most length-scale combinations tried.

    Returns:
      The fitted :class:`GaussianProcess`.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
    x = np.asarray(x, float)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, float)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be [n, dim] and y [n]; got shapes {x.shape} and {y.shape}")
    if len(y) == 0:
        raise ValueError("cannot fit a Gaussian process to no data")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite (map a diverged training to a finite loss first)")
    lengthscale_grid = np.asarray(lengthscale_grid, float)
    noise_ratio_grid = np.asarray(noise_ratio_grid, float)
    if lengthscale_grid.size == 0 or np.any(lengthscale_grid <= 0):
        raise ValueError(f"lengthscale_grid must be positive and non-empty, got {lengthscale_grid}")
    if noise_ratio_grid.size == 0 or np.any(noise_ratio_grid <= 0):
        raise ValueError(f"noise_ratio_grid must be positive and non-empty, got {noise_ratio_grid}")

    n, dim = x.shape
    y_mean = float(y.mean())
    y_scale = float(y.std()) if n > 1 and y.std() > 0 else 1.0
    y_std = (y - y_mean) / y_scale

    if len(lengthscale_grid) ** dim <= max_grid_size:
        candidates = np.array(list(itertools.product(lengthscale_grid, repeat=dim)))
    else:
        candidates = np.repeat(lengthscale_grid[:, None], dim, axis=1)
    kernel_fn = KERNELS[kernel]
    best = None
    for lengthscales in candidates:
        unit = kernel_fn(x, x, lengthscales)  # R_ell, [n, n]
        for tau in noise_ratio_grid:
            try:
                lower = np.linalg.cholesky(unit + tau * np.eye(n))
            except np.linalg.LinAlgError:
                continue
            z = _solve_lower(lower, y_std)  # L^{-1} y
            signal_variance = max(float(z @ z) / n, 1e-12)  # \hat s^2
            log_det = 2.0 * float(np.sum(np.log(np.diag(lower))))
            log_ml = -0.5 * n * math.log(signal_variance) - 0.5 * log_det
            log_ml -= 0.5 * n * (1.0 + math.log(2.0 * math.pi))
            if best is None or log_ml > best[0]:
                best = (log_ml, lengthscales, tau, lower, z, signal_variance)
    if best is None:
        raise ValueError("no grid point gave a positive-definite kernel matrix (duplicate inputs?)")
    log_ml, lengthscales, tau, lower, z, signal_variance = best
    alpha = solve_triangular(lower.T, z, lower=False)  # (R + tau I)^{-1} y = L^{-T} L^{-1} y
    return GaussianProcess(
        kernel=kernel,
        x=x,
        y_mean=y_mean,
        y_scale=y_scale,
        lengthscales=np.asarray(lengthscales, float),
        signal_variance=signal_variance,
        noise_ratio=float(tau),
        cholesky=lower,
        alpha=alpha,
        log_marginal_likelihood=float(log_ml),
    )


# ---------------------------------------------------------------------------------------
# Acquisition functions (for minimisation; each returns a score to maximise)
# ---------------------------------------------------------------------------------------


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)


def expected_improvement(mean, std, best: float, xi: float = 0.0) -> np.ndarray:
    r"""Expected improvement below the best value so far (Jones et al. 1998).

    .. math::
        \mathrm{EI}(x) = \mathbb E\big[\max(y^\star - \xi - f(x), 0)\big]
        = (y^\star - \xi - \mu)\, \Phi(z) + \sigma\, \varphi(z), \qquad
        z = \frac{y^\star - \xi - \mu}{\sigma},

    for :math:`f(x) \sim \mathcal N(\mu, \sigma^2)`; where :math:`\sigma = 0` it is
    :math:`\max(y^\star - \xi - \mu, 0)`. Large where the mean is low *or* the
    uncertainty is large. :math:`\xi \ge 0` asks for an improvement of at least
    :math:`\xi` (more exploration).
    """
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    improvement = best - xi - mean
    safe_std = np.where(std > 0, std, 1.0)
    z = improvement / safe_std
    ei = improvement * ndtr(z) + safe_std * _normal_pdf(z)
    return np.where(std > 0, ei, np.maximum(improvement, 0.0))


def probability_of_improvement(mean, std, best: float, xi: float = 0.0) -> np.ndarray:
    r"""Probability of improving on the best value so far by at least :math:`\xi` (Kushner 1964).

    .. math::
        \mathrm{PI}(x) = P\big(f(x) \le y^\star - \xi\big) = \Phi\!\left(\frac{y^\star - \xi
        - \mu}{\sigma}\right)

    (where :math:`\sigma = 0`: 1 if :math:`\mu \le y^\star - \xi`, else 0). It ignores *how
    much* is gained, so with :math:`\xi = 0` it is greedy: many tiny sure improvements
    beat one large uncertain one.
    """
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    improvement = best - xi - mean
    safe_std = np.where(std > 0, std, 1.0)
    return np.where(std > 0, ndtr(improvement / safe_std), (improvement >= 0).astype(float))


def upper_confidence_bound(mean, std, kappa: float = 2.0) -> np.ndarray:
    r"""The confidence-bound score of GP-UCB (Srinivas et al. 2010), for minimisation.

    The lecture's UCB maximises :math:`\mu + \kappa \sigma`; minimising :math:`f` is
    maximising :math:`-f`, whose upper bound is

    .. math::
        \mathrm{UCB}(x) = -\big(\mu(x) - \kappa\, \sigma(x)\big) = \kappa\, \sigma(x) - \mu(x),

    i.e. the evaluation goes where the *lower* confidence bound of the loss is lowest.
    :math:`\kappa` sets the exploration: 0 is pure exploitation of the mean.
    """
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa}")
    return kappa * np.asarray(std, float) - np.asarray(mean, float)


ACQUISITIONS = ("ei", "pi", "ucb")


# ---------------------------------------------------------------------------------------
# The loop: ask / tell
# ---------------------------------------------------------------------------------------


class BayesianOptimizer:
    r"""Bayesian optimisation of a black box on a box of bounds, as an ask/tell loop.

    ``ask()`` returns the next point: first ``num_initial`` points of a Latin hypercube
    (one per stratum of every axis), then the maximiser of the acquisition function under
    a GP fitted to everything told so far. ``tell(x, y)`` records an evaluation.

    The inputs are mapped to the unit cube, :math:`u = (x - a)/(b - a)`, before the GP
    sees them. The acquisition is maximised over ``num_candidates`` random points of the
    cube plus as many Gaussian perturbations (s.d. 0.05) of the five best points so far,
    which refines around the incumbent without a gradient-based inner optimiser.

    Args:
      bounds: ``[(low, high), ...]``, one pair per dimension, ``low < high``.
      acquisition: ``"ei"``, ``"pi"`` or ``"ucb"`` (see the functions of that name).
      num_initial: space-filling points before the first GP (>= 1).
      kernel: ``"matern52"`` or ``"rbf"``.
      xi: the margin :math:`\xi` of EI and PI.
      kappa: the :math:`\kappa` of UCB.
      num_candidates: random candidates per ``ask``.
      seed: seeds the initial design and the candidates (deterministic).
      log_outputs: model :math:`\log y` instead of :math:`y` (for positive losses that
        span decades; the minimiser is the same, the surrogate is smoother).
    """

    def __init__(
        self,
        bounds: Sequence[tuple[float, float]],
        *,
        acquisition: str = "ei",
        num_initial: int = 4,
        kernel: str = "matern52",
        xi: float = 0.0,
        kappa: float = 2.0,
        num_candidates: int = 2000,
        seed: int = 0,
        log_outputs: bool = False,
    ):
        bounds = np.asarray(bounds, float)
        if bounds.ndim != 2 or bounds.shape[1] != 2 or len(bounds) == 0:
            raise ValueError(f"bounds must be [(low, high), ...], got {bounds.tolist()}")
        if not np.all(np.isfinite(bounds)) or np.any(bounds[:, 0] >= bounds[:, 1]):
            raise ValueError(f"every bound needs finite low < high, got {bounds.tolist()}")
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; choose one of {ACQUISITIONS}")
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
        if not isinstance(num_initial, int) or num_initial < 1:
            raise ValueError(f"num_initial must be a positive integer, got {num_initial!r}")
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be a positive integer, got {num_candidates!r}")
        self.bounds = bounds
        self.acquisition = acquisition
        self.num_initial = num_initial
        self.kernel = kernel
        self.log_outputs = bool(log_outputs)
        self.xi = float(xi)
        self.kappa = float(kappa)
        self.num_candidates = num_candidates
        self._rng = np.random.default_rng(seed)
        self._initial_design = self._latin_hypercube(num_initial)
        self._unit_x: list[np.ndarray] = []
        self._y: list[float] = []

    # -- coordinates
    @property
    def dim(self) -> int:
        return len(self.bounds)

    def to_unit(self, x) -> np.ndarray:
        """Map points of the box to the unit cube."""
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        return (np.asarray(x, float) - low) / (high - low)

    def from_unit(self, u) -> np.ndarray:
        """Map points of the unit cube to the box."""
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        return low + np.asarray(u, float) * (high - low)

    def _latin_hypercube(self, n: int) -> np.ndarray:
        # Axis d: a random permutation of the n strata, a uniform point inside each.
        strata = np.stack([self._rng.permutation(n) for _ in range(self.dim)], axis=1)
        return (strata + self._rng.uniform(size=(n, self.dim))) / n

    # -- data
    @property
    def x(self) -> np.ndarray:
        """Every point told so far, ``[n, dim]``, in the box's coordinates."""
        return self.from_unit(np.reshape(self._unit_x, (-1, self.dim)))

    @property
    def y(self) -> np.ndarray:
        """Every value told so far, ``[n]``."""
        return np.asarray(self._y, float)

    def tell(self, x, y: float) -> None:
        """Record that the black box returned ``y`` at ``x``."""
        x = np.asarray(x, float).reshape(-1)
        if x.shape != (self.dim,):
            raise ValueError(f"x must have {self.dim} coordinates, got shape {x.shape}")
        y = float(y)
        if not math.isfinite(y):
            raise ValueError(f"y must be finite, got {y} (map a diverged run to a finite loss)")
        if self.log_outputs and not y > 0:
            raise ValueError(f"log_outputs needs positive values, got y = {y}")
        self._unit_x.append(self.to_unit(x))
        self._y.append(y)

    # -- model
    def surrogate(self) -> GaussianProcess:
        """The GP fitted to everything told so far, on unit-cube inputs."""
        if not self._y:
            raise ValueError("no evaluations yet: tell() one before asking for a surrogate")
        return fit_gp(np.asarray(self._unit_x), self.modelled_y, kernel=self.kernel)

    @property
    def modelled_y(self) -> np.ndarray:
        """What the GP models: ``y``, or ``log y`` with ``log_outputs``."""
        return np.log(self.y) if self.log_outputs else self.y

    def score(self, gp: GaussianProcess, unit_points: np.ndarray) -> np.ndarray:
        """The acquisition function at ``unit_points`` (``[m, dim]``, in the unit cube)."""
        mean, std = gp.predict(unit_points)
        best = self.modelled_y.min()
        if self.acquisition == "ei":
            return expected_improvement(mean, std, best, self.xi)
        if self.acquisition == "pi":
            return probability_of_improvement(mean, std, best, self.xi)
        return upper_confidence_bound(mean, std, self.kappa)

    def ask(self, candidate_seed=None) -> np.ndarray:
        """The next point to evaluate, in the box's coordinates.

        ``candidate_seed`` (optional) draws this ask's random candidates from its own
        generator instead of the optimizer's, e.g. to make a rebuilt optimizer reproducible.
        """
        n = len(self._y)
        if n < self.num_initial:
            return self.from_unit(self._initial_design[n])
        rng = self._rng if candidate_seed is None else np.random.default_rng(candidate_seed)
        gp = self.surrogate()
        best_points = np.asarray(self._unit_x)[np.argsort(self.y)[:5]]
        local = best_points[rng.integers(len(best_points), size=self.num_candidates)]
        local = local + 0.05 * rng.standard_normal(local.shape)
        candidates = np.concatenate(
            [rng.uniform(size=(self.num_candidates, self.dim)), np.clip(local, 0.0, 1.0)]
        )
        return self.from_unit(candidates[np.argmax(self.score(gp, candidates))])


class MinimizeResult(NamedTuple):
    x: np.ndarray  # [num_evaluations, dim], in the order evaluated
    y: np.ndarray  # [num_evaluations]
    best_x: np.ndarray  # [dim]
    best_y: float


def minimize(
    fn: Callable[[np.ndarray], float],
    bounds: Sequence[tuple[float, float]],
    num_evaluations: int,
    **options,
) -> MinimizeResult:
    """Minimise ``fn`` on ``bounds`` with ``num_evaluations`` calls of :class:`BayesianOptimizer`.

    ``options`` go to :class:`BayesianOptimizer` (``acquisition``, ``num_initial``, ``seed``,
    ...). ``fn`` receives a point of shape ``[dim]`` and returns a finite float.
    """
    if not isinstance(num_evaluations, int) or num_evaluations < 1:
        raise ValueError(f"num_evaluations must be a positive integer, got {num_evaluations!r}")
    optimizer = BayesianOptimizer(bounds, **options)
    for _ in range(num_evaluations):
        x = optimizer.ask()
        optimizer.tell(x, fn(x))
    best = int(np.argmin(optimizer.y))
    return MinimizeResult(optimizer.x, optimizer.y, optimizer.x[best], float(optimizer.y[best]))


# ---------------------------------------------------------------------------------------
# Pictures of the surrogate and the acquisitions (for the lessons)
# ---------------------------------------------------------------------------------------


def _acquisition_curves(optimizer: BayesianOptimizer, gp: GaussianProcess, unit_points):
    mean, std = gp.predict(unit_points)
    best = optimizer.modelled_y.min()
    return {
        "EI": expected_improvement(mean, std, best, optimizer.xi),
        "PI": probability_of_improvement(mean, std, best, optimizer.xi),
        f"UCB, kappa = {optimizer.kappa:g}": upper_confidence_bound(mean, std, optimizer.kappa),
    }


def plot_1d(optimizer: BayesianOptimizer, axes, *, truth=None, resolution: int = 400):
    r"""Draw a 1-D optimizer's surrogate (left axis) and its three acquisitions (right axis).

    Left: the evaluations, the posterior mean and a band of two standard deviations (in
    the units of ``y``; with ``log_outputs`` the band is :math:`\exp(\mu \pm 2\sigma)` on
    a log axis), and ``truth = (x, y)`` if given. Right: EI, PI and UCB, each scaled to
    a maximum of 1 (UCB shifted to a minimum of 0), with a marker where each would
    evaluate next. Returns the next point of each acquisition, in the box's coordinates.
    """
    if optimizer.dim != 1:
        raise ValueError(f"plot_1d needs a 1-D optimizer, this one has {optimizer.dim} dims")
    ax_model, ax_acquisition = axes
    unit = np.linspace(0.0, 1.0, resolution)[:, None]
    x = optimizer.from_unit(unit)[:, 0]
    gp = optimizer.surrogate()
    mean, std = gp.predict(unit)
    low, mid, high = mean - 2 * std, mean, mean + 2 * std
    if optimizer.log_outputs:
        low, mid, high = np.exp(low), np.exp(mid), np.exp(high)
        ax_model.set_yscale("log")
    if truth is not None:
        ax_model.plot(*truth, color="0.6", lw=1.5, label="truth (not seen)")
    ax_model.fill_between(x, low, high, color="C0", alpha=0.2, label="mean +- 2 sd")
    ax_model.plot(x, mid, color="C0", label="GP mean")
    ax_model.plot(optimizer.x[:, 0], optimizer.y, "ko", label="evaluations")
    ax_model.set_ylabel("objective")
    ax_model.legend()
    nexts = {}
    for i, (name, values) in enumerate(_acquisition_curves(optimizer, gp, unit).items()):
        scaled = values - values.min() if name.startswith("UCB") else values
        scaled = scaled / scaled.max() if scaled.max() > 0 else scaled
        ax_acquisition.plot(x, scaled, color=f"C{i + 1}", label=name)
        nexts[name] = float(x[np.argmax(values)])
        ax_acquisition.plot(nexts[name], 1.0, "v", color=f"C{i + 1}", ms=10)
    ax_acquisition.set_ylabel("acquisition (scaled)")
    ax_acquisition.legend()
    return nexts


def plot_2d(optimizer: BayesianOptimizer, axes, *, resolution: int = 60):
    """Draw a 2-D optimizer's posterior mean (left) and its acquisition (right).

    Both as filled contours over the box, with the evaluations as red dots and the
    acquisition's maximiser on this grid as a white star. Returns the two contour sets
    (for colorbars).
    """
    if optimizer.dim != 2:
        raise ValueError(f"plot_2d needs a 2-D optimizer, this one has {optimizer.dim} dims")
    ax_mean, ax_acquisition = axes
    u0, u1 = np.meshgrid(np.linspace(0, 1, resolution), np.linspace(0, 1, resolution))
    unit = np.c_[u0.ravel(), u1.ravel()]
    box = optimizer.from_unit(unit)
    gx, gy = box[:, 0].reshape(u0.shape), box[:, 1].reshape(u0.shape)
    gp = optimizer.surrogate()
    mean, _ = gp.predict(unit)
    score = optimizer.score(gp, unit)
    images = (
        ax_mean.contourf(gx, gy, mean.reshape(u0.shape), levels=20, cmap="viridis_r"),
        ax_acquisition.contourf(gx, gy, score.reshape(u0.shape), levels=20, cmap="magma"),
    )
    for ax in axes:
        ax.plot(optimizer.x[:, 0], optimizer.x[:, 1], "o", color="red", ms=4)
    ax_acquisition.plot(*box[np.argmax(score)], "*", color="white", ms=16, mec="black")
    return images


# ---------------------------------------------------------------------------------------
# As an Optuna sampler
# ---------------------------------------------------------------------------------------


def optuna_sampler(bounds: dict[str, tuple[float, float]], **options):
    """An Optuna sampler that proposes every trial with :class:`BayesianOptimizer`.

    ``bounds`` maps each float parameter's name to ``(low, high)``; the objective must ask
    for exactly these with ``trial.suggest_float(name, low, high)``. Each trial refits the
    GP to the study's completed trials (pruned and failed ones are ignored). ``options``
    go to :class:`BayesianOptimizer`. Needs ``optuna`` (the ``tuning`` extra).
    """
    import optuna

    names = list(bounds)
    space = {name: optuna.distributions.FloatDistribution(*bounds[name]) for name in names}
    box = [bounds[name] for name in names]
    BayesianOptimizer(box, **options)  # checks the options now, not at the first trial

    class GaussianProcessSampler(optuna.samplers.BaseSampler):
        def infer_relative_search_space(self, study, trial):
            return space

        def sample_relative(self, study, trial, search_space):
            optimizer = BayesianOptimizer(box, **options)  # same seed: same initial design
            done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            for past in done:
                optimizer.tell([past.params[name] for name in names], past.value)
            # Fresh candidates for every trial, reproducibly: seeded by (seed, trial number).
            point = optimizer.ask(candidate_seed=[options.get("seed", 0), trial.number])
            return dict(zip(names, map(float, point)))

        def sample_independent(self, study, trial, param_name, param_distribution):
            raise ValueError(
                f"the GP sampler only knows the parameters {names}; got {param_name!r}"
            )

    return GaussianProcessSampler()

"""Figures of lesson 01 (gradient descent and SGD).

Each function takes results the lesson computed and returns a matplotlib figure drawn
in the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it.
"""

from __future__ import annotations

import numpy as np

from minivelo.plotting import panels


def _contours(ax, xs, ys, zs, levels):
    ax.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.8)


def step_size_1d(runs, *, curvature: float = 1.0, window: float = 3.2):
    r"""Gradient descent on the parabola :math:`L(\theta) = \tfrac12 h\theta^2`, one panel a run.

    Args:
      runs: a list of ``(title, iterates)``, ``iterates`` the 1-D array
        :math:`\theta_0, \theta_1, \dots` of one run (at most four runs: a 2 x 2 grid).
      curvature: :math:`h`.
      window: the panels show :math:`\theta \in [-w, w]`.
    """
    import matplotlib.pyplot as plt

    if not 1 <= len(runs) <= 4:
        raise ValueError(f"step_size_1d draws 1 to 4 runs, got {len(runs)}")
    rows = 1 if len(runs) <= 2 else 2
    cols = min(len(runs), 2)
    fig, grid = plt.subplots(
        rows, cols, figsize=(10, 3.6 * rows), sharex=True, sharey=True, squeeze=False
    )
    axes = list(grid.ravel())
    theta = np.linspace(-window, window, 200)
    loss = 0.5 * curvature * theta**2
    for ax, (title, iterates) in zip(axes, runs, strict=False):
        iterates = np.asarray(iterates)
        ax.plot(theta, loss, color="0.6")
        ax.plot(iterates, 0.5 * curvature * iterates**2, "o-", color="C3")
        ax.set(title=title, xlim=(-window, window), ylim=(-0.2, 0.5 * curvature * window**2))
    for ax in axes[len(runs) :]:
        ax.set_visible(False)
    for ax in grid[-1]:
        ax.set_xlabel(r"$\theta$")
    for ax in grid[:, 0]:
        ax.set_ylabel(r"$L(\theta)$")
    return fig


def quadratic_paths(runs, curvatures, *, window=((-10.0, 10.0), (-4.0, 4.0))):
    r"""Paths on the contours of :math:`\tfrac12(\lambda_1\theta_1^2 + \lambda_2\theta_2^2)`
    and the loss curves.

    Args:
      runs: ``{label: (losses, path)}``, ``losses`` of shape ``(T,)``, ``path`` ``(T, 2)``.
      curvatures: :math:`(\lambda_1, \lambda_2)`.
      window: ``((x_min, x_max), (y_min, y_max))`` of the contour panel.
    """
    (x0, x1), (y0, y1) = window
    lam1, lam2 = (float(c) for c in np.asarray(curvatures))
    fig, (ax_path, ax_loss) = panels(2)
    t1, t2 = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    _contours(ax_path, t1, t2, 0.5 * (lam1 * t1**2 + lam2 * t2**2), np.geomspace(0.05, 80, 12))
    for i, (label, (losses, path)) in enumerate(runs.items()):
        path = np.asarray(path)
        ax_path.plot(path[:, 0], path[:, 1], ".-", color=f"C{i}", markersize=4, label=label)
        ax_loss.semilogy(np.asarray(losses), color=f"C{i}", label=label)
    ax_path.plot(0, 0, "k*", markersize=12)
    ax_path.set(
        xlim=(x0, x1),
        ylim=(y0, y1),
        xlabel=rf"$\theta_1$ (curvature {lam1:g})",
        ylabel=rf"$\theta_2$ (curvature {lam2:g})",
        title="paths on the loss contours",
    )
    ax_loss.set(xlabel="step", ylabel="loss", ylim=(1e-8, 1e4), title="loss (log scale)")
    ax_loss.legend(loc="upper right")
    return fig


def rate_vs_step_size(quadratic, network):
    r"""Convergence rate against step size on the quadratic, final loss against step size
    on the network.

    Args:
      quadratic: a dict with ``step_sizes``, ``predicted`` (the theory
        :math:`\max_i|1-\eta\lambda_i|`), ``measured`` and ``best_step``
        (:math:`2/(\lambda_{\min}+\lambda_{\max})`).
      network: a dict with ``step_sizes``, ``final_loss``, ``diverged`` (booleans) and
        ``sharpness`` (the Hessian's largest eigenvalue at initialisation).
    """
    fig, (ax_q, ax_n) = panels(2)
    steps = np.asarray(quadratic["step_sizes"])
    ax_q.plot(steps, np.asarray(quadratic["predicted"]), "k-", lw=5, alpha=0.3, label="theory")
    ax_q.plot(steps, np.asarray(quadratic["measured"]), "C0", label="measured")
    ax_q.axhline(1, color="C3", ls=":", label="rate 1: no progress")
    ax_q.axvline(quadratic["best_step"], color="0.5", ls="--", label=r"$\eta^*$")
    ax_q.set(
        xlabel=r"step size $\eta$",
        ylabel="rate per step (lower: faster)",
        title=r"quadratic, $\kappa = 10$",
        ylim=(0.7, 1.15),
    )
    ax_q.legend(loc="lower left")
    etas = np.asarray(network["step_sizes"])
    final = np.asarray(network["final_loss"])
    bad = np.asarray(network["diverged"], dtype=bool)
    ax_n.loglog(etas[~bad], final[~bad], "o-", color="C0", label="trained")
    ax_n.loglog(etas[bad], np.ones(int(bad.sum())), "x", color="C3", ms=9, label="diverged")
    ax_n.axvline(
        2 / network["sharpness"], color="0.5", ls="--", label=r"$2/\lambda_{\max}$ at init"
    )
    ax_n.set(xlabel=r"step size $\eta$", ylabel="loss after 300 steps", title="MLP on sin(3x)")
    ax_n.legend(loc="lower left")
    return fig


def fractal_boundary(trainability_grid, views, titles, *, resolution: int = 128):
    r"""Which pairs of per-layer learning rates train (blue) and which diverge (red).

    Args:
      trainability_grid: ``f(lr0s, lr1s) -> (len(lr1s), len(lr0s))`` colours in
        :math:`[-1, 1]` (negative: trained, positive: diverged).
      views: one ``((log10 lr0 min, max), (log10 lr1 min, max))`` per panel (at most three);
        each panel outlines the next view.
      titles: one title per view.
      resolution: pixels per side.
    """
    import matplotlib.pyplot as plt

    if len(views) != len(titles):
        raise ValueError(f"{len(views)} views but {len(titles)} titles")
    fig, axes = panels(len(views), height=4.4)
    for i, (ax, (log_lr0, log_lr1)) in enumerate(zip(axes, views, strict=True)):
        image = trainability_grid(
            np.logspace(*log_lr0, resolution), np.logspace(*log_lr1, resolution)
        )
        ax.imshow(
            np.asarray(image),
            origin="lower",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            extent=[*log_lr0, *log_lr1],
            aspect="auto",
            interpolation="nearest",
        )
        ax.grid(False)
        ax.set(title=titles[i], xlabel=r"$\log_{10}\eta_0$ (hidden)")
        if i + 1 < len(views):  # outline the next view
            (a0, a1), (b0, b1) = views[i + 1]
            ax.add_patch(plt.Rectangle((a0, b0), a1 - a0, b1 - b0, fill=False, ec="k", lw=2))
    axes[0].set_ylabel(r"$\log_{10}\eta_1$ (output)")
    return fig


def sgd_noise(runs, contours, best, *, learning_rate: float):
    r"""SGD's paths on the contours of a 2-D regression, and the excess loss per step.

    Args:
      runs: ``{label: (losses, path)}``; losses are excess losses
        :math:`L(w) - L(w^*)` of shape ``(T,)``, paths ``(T, 2)``.
      contours: ``(w1_grid, w2_grid, excess_loss_grid)``, three 2-D arrays.
      best: the minimiser :math:`w^*`.
      learning_rate: for the title.
    """
    fig, (ax_path, ax_loss) = panels(2)
    w1, w2, excess = (np.asarray(a) for a in contours)
    _contours(ax_path, w1, w2, excess, np.geomspace(0.01, 20, 12))
    for i, (label, (losses, path)) in enumerate(runs.items()):
        path = np.asarray(path)
        ax_path.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=0.8, color=f"C{i}")
        ax_loss.semilogy(np.asarray(losses), color=f"C{i}", lw=1.2, label=label)
    ax_path.plot(*np.asarray(best), "k*", ms=12)
    ax_path.set(xlabel="$w_1$", ylabel="$w_2$", title=rf"paths, $\eta$ = {learning_rate:.3g}")
    ax_loss.set(xlabel="step", ylabel=r"$L(w) - L(w^*)$", ylim=(1e-7, 30), title="excess loss")
    ax_loss.legend(loc="lower left")
    return fig


def noise_floor(ratios, floors, batch_sizes, *, slope: float, intercept: float):
    r"""The stationary excess loss of SGD against :math:`\eta/B`, with the log-log fit
    :math:`\log \text{floor} = \text{slope}\,\log(\eta/B) + \text{intercept}`.

    Args:
      ratios, floors: arrays of shape ``(len(batch_sizes), n)``, one row per batch size.
      batch_sizes: the batch sizes of the rows.
    """
    fig, (ax,) = panels(1)
    ratios, floors = np.asarray(ratios), np.asarray(floors)
    for i, batch_size in enumerate(np.asarray(batch_sizes)):
        ax.loglog(ratios[i], floors[i], "o", ms=9, color=f"C{i}", label=f"B = {int(batch_size)}")
    line = np.geomspace(ratios.min() / 2, ratios.max() * 2, 10)
    ax.loglog(line, np.exp(intercept) * line**slope, "k--", lw=1.2, label=f"slope {slope:.2f}")
    ax.set(xlabel=r"$\eta / B$", ylabel="stationary excess loss", title="SGD's noise floor")
    ax.legend(loc="upper left")
    return fig


def implicit_regularisation(runs, start, sweep_rates, sweep_sharpness, *, shown_steps=200):
    r"""Gradient descent on :math:`\tfrac12(ab-1)^2`: paths to the minimum found (left), and
    the sharpness :math:`a^2+b^2` of that minimum against the step size (right).

    Args:
      runs: ``{eta: (final, path)}``, ``final`` the last :math:`(a, b)`, ``path`` ``(T, 2)``.
      start: the initial :math:`(a, b)`.
      sweep_rates, sweep_sharpness: the sweep of the right panel.
      shown_steps: how many steps of each path to draw.
    """
    fig, (ax_path, ax_sharp) = panels(2, height=4.6)
    a, b = np.meshgrid(np.linspace(-0.2, 3.2, 200), np.linspace(-0.2, 3.2, 200))
    ax_path.contour(
        a,
        b,
        np.log10(0.5 * (a * b - 1) ** 2 + 1e-3),
        levels=10,
        colors="0.8",
        linewidths=0.7,
        linestyles="solid",
    )
    hyperbola = np.linspace(0.3, 3.2, 100)
    ax_path.plot(hyperbola, 1 / hyperbola, "k-", lw=3, alpha=0.35)
    ax_path.annotate("minima: $ab = 1$", (0.45, 2.2), fontsize=13, color="0.3")
    for i, (eta, (final, path)) in enumerate(runs.items()):
        path = np.asarray(path)[:shown_steps]
        ax_path.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.7, color=f"C{i}")
        ax_path.plot(
            *np.asarray(final), "o", color=f"C{i}", ms=10, mec="k", label=rf"$\eta$ = {eta:g}"
        )
    ax_path.plot(*np.asarray(start), "ks", ms=8)
    ax_path.annotate("start", np.asarray(start) + np.array([0.1, -0.25]), fontsize=13)
    ax_path.set(
        xlim=(-0.2, 3.2),
        ylim=(-0.2, 3.2),
        xlabel="$a$",
        ylabel="$b$",
        title="paths and the minimum found",
    )
    ax_path.legend(loc="upper right")
    rates = np.asarray(sweep_rates)
    ax_sharp.plot(rates, np.asarray(sweep_sharpness), "C0.-", ms=4, label="minimum found")
    ax_sharp.plot(rates, 2 / rates, "C3--", label=r"stability limit $2/\eta$")
    ax_sharp.axhline(2, color="0.5", ls=":", label="flattest ($a = b = 1$)")
    ax_sharp.set(
        xlabel=r"step size $\eta$",
        ylabel=r"sharpness $a^2 + b^2$",
        ylim=(0, 12),
        title="larger steps, flatter minima",
    )
    ax_sharp.legend(loc="upper right")
    return fig

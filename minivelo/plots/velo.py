"""Figures of lesson 08 (inside VeLO).

Each function takes results the lesson computed and returns a matplotlib figure drawn in
the lesson style (:func:`minivelo.plotting.use_style`); the lesson saves and shows it. No
text is drawn below 12 pt and no row holds more than three panels.
"""

from __future__ import annotations

import numpy as np

#: The column groups of VeLO's 30 per-tensor features: ``(start, stop, label)``.
TENSOR_FEATURE_GROUPS = (
    (0, 9, "progress"),
    (9, 18, "loss"),
    (18, 19, "v"),
    (19, 24, "rank"),
    (24, 27, "var m"),
    (27, 30, "quirk"),
)


def data_flow():
    """A schematic of one VeLO update (boxes and arrows only, no computation)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(16, 7.6))
    ax.set(xlim=(0, 13), ylim=(0, 6.2))
    ax.axis("off")
    columns = [
        (0.1, 3.5, "shared by all tensors", "#eef3fb"),
        (3.8, 4.1, "once per tensor ($T$ rows)", "#eef8ee"),
        (8.1, 4.8, "once per parameter (every scalar)", "#fbf1e8"),
    ]
    for x, width, title, colour in columns:
        ax.add_patch(plt.Rectangle((x, 0.1), width, 6.0, color=colour, zorder=0))
        ax.text(x + width / 2, 5.85, title, ha="center", va="center", fontsize=14, weight="bold")

    def box(x, y, text, colour="white"):
        bbox = dict(boxstyle="round,pad=0.4", fc=colour, ec="0.35")
        ax.text(x, y, text, ha="center", va="center", fontsize=12, zorder=3, bbox=bbox)

    def arrow(start, end, text=None, shrink=18):
        style = dict(arrowstyle="-|>", color="0.3", lw=1.3, shrinkA=shrink, shrinkB=shrink)
        ax.annotate("", end, start, zorder=2, arrowprops=style)
        if text:
            middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12)
            ax.text(*middle, text, fontsize=12, ha="center", color="0.25")

    box(1.85, 5.0, "training loss $L$")
    box(1.85, 3.85, "loss buffer: EMAs at\n10 timescales and\ntheir running minima")
    box(1.85, 2.65, "9 loss features", "#dde8f8")
    box(1.85, 1.4, "fraction trained $t/N$\n$\\to$ 9 $\\tanh(10(t/N-\\tau))$", "#dde8f8")
    arrow((1.85, 5.0), (1.85, 3.85))
    arrow((1.85, 3.85), (1.85, 2.65))

    box(5.85, 5.0, "30 features per tensor:\nprogress, loss, rank,\nscale-free stats of $m$, $v$",
        "#dcefdc")  # fmt: skip
    box(5.85, 3.7, "mix: $W_2 x + \\max_{\\rm tensors}\\,\\mathrm{relu}(W_1 x)$\n"
        "(the only place tensors meet)")  # fmt: skip
    box(5.85, 2.45, "LSTM step, state $(h, c)$\nper tensor")
    box(5.85, 1.0, "heads: controls $\\in \\mathbb{R}^J$,\nlr_mult", "#dcefdc")
    arrow((5.85, 5.0), (5.85, 3.7))
    arrow((5.85, 3.7), (5.85, 2.45))
    arrow((5.85, 2.45), (5.85, 1.0))
    arrow((2.5, 2.65), (4.6, 4.85), shrink=4)
    arrow((3.05, 1.5), (4.6, 4.65), shrink=4)

    box(10.5, 5.0, "gradient $g$, parameter $p$ $\\to$ accumulators:\n"
        "momentum $m$ (3 decays), $v$, factored $r, c$")  # fmt: skip
    box(10.5, 3.7, "30 channels per parameter,\neach $\\div$ its RMS over the tensor", "#f6e2cf")
    box(10.5, 2.45, "MLP 30$\\to$4$\\to$4$\\to$3, weights\n"
        "$W_t = 100\\cdot\\mathrm{mean}_j\\,\\mathrm{controls}_{t,j}\\,\\Theta_j$")  # fmt: skip
    box(10.5, 1.0, "step $= d\\cdot\\mathrm{rms}(p)\\cdot e^{0.001a}$\n"
        "$\\cdot\\, 0.001\\cdot$ lr_mult", "#f6e2cf")  # fmt: skip
    arrow((10.5, 5.0), (10.5, 3.7))
    arrow((10.5, 3.7), (10.5, 2.45))
    arrow((10.5, 2.45), (10.5, 1.0))
    ax.text(10.6, 1.72, "direction $d$, magnitude $a$", fontsize=12, color="0.25", ha="left")
    arrow((8.8, 5.0), (7.15, 5.0), shrink=4)
    ax.text(8.0, 5.12, "old $m, v$", fontsize=12, color="0.25", ha="center")
    arrow((7.2, 1.15), (9.15, 2.35), shrink=4)
    ax.text(8.0, 1.95, "controls", fontsize=12, color="0.25", ha="center")
    arrow((7.2, 0.9), (8.65, 1.0), shrink=4)
    ax.text(7.9, 0.55, "lr_mult", fontsize=12, color="0.25", ha="center")
    return fig


def accumulators(gradients, momenta, decays, index, v_full, v_factored, adam_like, factored):
    """The accumulators of one weight matrix, a 2 x 2 grid.

    Args:
      gradients: ``(steps, d0, d1)`` gradients of the matrix over the run.
      momenta: ``(steps, 3, d0, d1)`` its momenta at the three ``decays``.
      index: ``(i, j)``, the weight whose history the first panel shows.
      v_full, v_factored: ``(d0, d1)`` :math:`\\sqrt{v}` and the factored estimate.
      adam_like, factored: ``g / sqrt(v)`` and the factored gradient (same shape).
    """
    import matplotlib.pyplot as plt

    i, j = index
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4))
    ax = axes[0, 0]
    ax.plot(np.asarray(gradients)[:, i, j], color="0.75", lw=1, label="gradient $g$")
    for b, decay in enumerate(decays):
        ax.plot(np.asarray(momenta)[:, b, i, j], label=f"momentum, $b$ = {decay}")
    ax.set(xlabel="update", title=f"one weight, [{i}, {j}]")
    ax.legend()
    vmax = float(np.max(v_full))
    axes[0, 1].imshow(v_full, cmap="magma", vmin=0, vmax=vmax, aspect="auto")
    axes[0, 1].set(title=rf"$\sqrt{{v}}$: {np.size(v_full):,} numbers",
                   xlabel="hidden unit", ylabel="input pixel")  # fmt: skip
    axes[1, 0].imshow(v_factored, cmap="magma", vmin=0, vmax=vmax, aspect="auto")
    rows, cols = np.shape(v_factored)
    axes[1, 0].set(title=rf"$\sqrt{{\hat v}}$ from {rows} + {cols} numbers",
                   xlabel="hidden unit", ylabel="input pixel")  # fmt: skip
    for ax in (axes[0, 1], axes[1, 0]):
        ax.grid(False)
    axes[1, 1].scatter(np.ravel(adam_like), np.ravel(factored), s=6, alpha=0.4)
    axes[1, 1].set(xlabel=r"$g / \sqrt{v}$", ylabel=rf"factored $\hat g$ ($b$ = {decays[-1]})",
                   title="normalised gradients")  # fmt: skip
    return fig


def loss_features(curve, smoothed, running_min, features, error, half_lives, events=()):
    """A loss curve through VeLO's loss buffer: smoothed losses, the 9 features, their
    float32 error (largest in each window of 10 updates).

    Args:
      curve: ``(steps,)`` raw losses; ``smoothed``, ``running_min``: ``(steps, 10)``.
      features: ``(steps, 9)``; ``error``: ``(steps,)`` with ``steps`` a multiple of 10.
      half_lives: the 10 EMA half-lives; ``events``: ``[(step, label), ...]`` marked.
    """
    import matplotlib.pyplot as plt

    steps = len(curve)
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True, height_ratios=[1.3, 1.3, 0.9])
    ax = axes[0]
    ax.plot(curve, color="0.8", lw=0.7, label="training loss")
    for k, colour in zip([0, 4, 8], ["C0", "C2", "C3"], strict=True):
        ax.plot(smoothed[:, k], color=colour, label=f"EMA, half-life {half_lives[k]:.0f}")
        ax.plot(running_min[:, k], color=colour, ls=":", lw=1.5)
    ax.set(ylim=(0, 3), ylabel="loss", title="smoothed losses (solid), running minima (dotted)")
    ax.legend(loc="lower left")
    image = axes[1].imshow(np.asarray(features).T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                           interpolation="nearest", origin="lower")  # fmt: skip
    axes[1].set(ylabel="feature $k$\n(fast $\\to$ slow)", title="the 9 loss features")
    axes[1].grid(False)
    fig.colorbar(image, ax=axes[1], pad=0.01)
    window_max = np.asarray(error).reshape(-1, 10).max(axis=1)
    axes[2].semilogy(np.arange(0, steps, 10), np.maximum(window_max, 1e-9), lw=1.2)
    axes[2].set(xlabel="update", ylabel="|f32 - f64|", title="float32 error of the features")
    for ax in axes:
        for x, _ in events:
            ax.axvline(x, color="k", lw=0.8, ls="--")
    for x, label in events:
        axes[0].text(x + 10, 2.7, label, fontsize=12)
    return fig


def timescale(curve, smoothed, running_min, features, k):
    """One timescale ``k``: its average, the next slower one, the minimum, feature ``k``."""
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(10, 5.6), sharex=True)
    ax0.plot(curve, color="0.85", lw=0.7)
    ax0.plot(smoothed[:, k], label=rf"$\bar\mu_{k}$")
    ax0.plot(smoothed[:, k + 1], label=rf"$\bar\mu_{k + 1}$ (slower)")
    ax0.plot(running_min[:, k], ls=":", color="k", label=rf"$\min_{k}$")
    ax0.set(ylim=(0, 3), ylabel="loss", title=f"timescale k = {k}")
    ax0.legend(loc="upper right")
    ax1.plot(np.asarray(features)[:, k], color="C3")
    ax1.set(ylim=(-1.1, 1.1), xlabel="update", ylabel=rf"$\ell_{k}$")
    return fig


def clock(fractions, values, taus):
    """Features 0-8 against the fraction trained, coloured by their threshold."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.2))
    norm = mpl.colors.Normalize(min(taus), max(taus))
    for k, tau in enumerate(taus):
        ax.plot(fractions, np.asarray(values)[:, k], color=plt.cm.viridis(norm(tau)))
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set(xlabel="fraction trained $f = t/N$ (not capped at 1)", ylabel=r"$\tanh(10(f-\tau))$",
           title="features 0-8: a soft clock")  # fmt: skip
    fig.colorbar(mpl.cm.ScalarMappable(norm, "viridis"), ax=ax, label=r"threshold $\tau$")
    return fig


def clock_bars(values, taus, fraction):
    """The 9 clock features at one fraction trained, as bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.bar(range(len(values)), values, color=["C3" if v > 0 else "C0" for v in values])
    ax.set_xticks(range(len(taus)), [f"{tau}" for tau in taus])
    ax.set(
        ylim=(-1.05, 1.05),
        xlabel=r"threshold $\tau$",
        title=f"features 0-8 at t/N = {fraction:.2f}",
    )
    return fig


def tensor_features(tables, names, groups=TENSOR_FEATURE_GROUPS, *, limit=2.5):
    """Heatmaps of the per-tensor features, one panel per ``{title: (T, 30) table}`` entry,
    stacked; the column groups are marked and named, no numbers written in the cells."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 1, figsize=(12, 2.2 + 1.0 * len(names) * len(tables)),
                             squeeze=False)  # fmt: skip
    axes = axes[:, 0]
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        image = ax.imshow(np.asarray(table), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.grid(False)
        for start, _, _ in groups:
            ax.axvline(start - 0.5, color="k", lw=1.2)
        ax.set_yticks(range(len(names)), names)
        ax.set_xticks([start for start, _, _ in groups])
        ax.set_title(title, loc="left")
        top = ax.secondary_xaxis("top")
        top.set_xticks([(start + stop - 1) / 2 for start, stop, _ in groups],
                       [label for _, _, label in groups])  # fmt: skip
        top.tick_params(length=0)
    fig.colorbar(image, ax=list(axes), pad=0.01, label="feature value")
    axes[-1].set_xlabel("feature column")
    return fig


def coupling(matrix, winners, names, hidden_size):
    """How each tensor's features move every tensor's controls, and who wins the max-pool."""
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), width_ratios=[1, 1.2])
    image = axes[0].imshow(matrix, cmap="viridis")
    axes[0].grid(False)
    for t in range(len(names)):
        for s in range(len(names)):
            colour = "w" if matrix[t, s] < matrix.max() / 2 else "k"
            axes[0].text(s, t, f"{matrix[t, s]:.2f}", ha="center", va="center", color=colour,
                         fontsize=12)  # fmt: skip
    axes[0].set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes[0].set_yticks(range(len(names)), names)
    axes[0].set(xlabel="features of tensor s", ylabel="controls of tensor t",
                title=r"$\|\partial\,\mathrm{controls}_t / \partial x_s\|$")  # fmt: skip
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    axes[1].bar(names, winners, color="C1")
    axes[1].tick_params(axis="x", rotation=30)
    axes[1].set(ylabel=f"pooled units won (of {hidden_size})", title="who supplies the max-pool")
    return fig


def weight_banks(controls, first_layers, names):
    """The controls (tensors x banks) and each tensor's mixed first layer ``(30, 4)``:
    the controls over two columns of the first row, then one panel per tensor (four at
    most), three a row."""
    import matplotlib.pyplot as plt

    controls = np.asarray(controls)
    if not 1 <= len(names) <= 4:
        raise ValueError(f"weight_banks draws 1 to 4 tensors, got {len(names)}")
    cells = [f"t{t}" for t in range(len(names))] + ["."] * (4 - len(names))
    mosaic = [["controls", "controls", cells[0]], cells[1:4]]
    fig, axes = plt.subplot_mosaic(mosaic, figsize=(13, 9), empty_sentinel=".")
    ax = axes["controls"]
    limit = float(np.abs(controls).max())
    image = ax.imshow(controls, cmap="RdBu_r", aspect="auto", vmin=-limit, vmax=limit)
    ax.grid(False)
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="bank j", title=f"controls ({len(names)} tensors x {controls.shape[1]} banks)")
    fig.colorbar(image, ax=ax, orientation="horizontal", shrink=0.6)
    limit = float(np.abs(first_layers).max())
    for t, name in enumerate(names):
        ax = axes[f"t{t}"]
        ax.imshow(np.asarray(first_layers[t]), cmap="PuOr", vmin=-limit, vmax=limit, aspect="auto")
        ax.grid(False)
        ax.set(title=f"{name}: first layer", xlabel="hidden unit", ylabel="input channel")
        ax.set_xticks(range(np.shape(first_layers[t])[1]))
        ax.set_yticks(range(0, np.shape(first_layers[t])[0], 5))
    return fig


def channels(raw_rms, normalised_rms, names, channel_names, floor):
    """The RMS over each tensor of the 30 per-parameter channels, raw (dots) and
    normalised (bars), with the normalisation's floor."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(15, 5.6))
    for t, name in enumerate(names):
        ax.semilogy(raw_rms[t], "o-", color=f"C{t}", ms=5, lw=0.8, label=name)
        ax.semilogy(normalised_rms[t], "_", color=f"C{t}", ms=14, mew=2.5)
    ax.axhline(floor, color="k", lw=0.8, ls="--")
    ax.text(len(channel_names) - 0.4, floor * 1.6, r"$\sqrt{10^{-5}}$", ha="right", fontsize=13)
    ax.set_xticks(range(len(channel_names)), channel_names, rotation=70, fontsize=12)
    ax.set(ylabel="RMS over the tensor",
           title="the 30 channels before (dots) and after (bars) normalisation")  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def xray(history, names):
    """What an untrained VeLO would have done at each update while Adam drove, 2 x 3.

    ``history`` holds ``loss (steps,)``, ``loss_features (steps, 9)``, ``lstm_inputs
    (steps, T, 30)``, ``lr_mult``, ``step_rms`` and ``cosine`` (each ``(steps, T)``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    (ax_loss, ax_features, ax_stats), (ax_lr, ax_step, ax_cos) = axes
    ax_loss.plot(history["loss"], color="k")
    ax_loss.set(ylabel="training loss", title="Adam drives: the loss")
    image = ax_features.imshow(np.asarray(history["loss_features"]).T, aspect="auto",
                               cmap="RdBu_r", vmin=-1, vmax=1, origin="lower",
                               interpolation="nearest")  # fmt: skip
    ax_features.grid(False)
    ax_features.set(ylabel="loss feature $k$", title="VeLO sees: loss features")
    fig.colorbar(image, ax=ax_features, pad=0.02)
    for t, name in enumerate(names):
        ax_stats.plot(np.asarray(history["lstm_inputs"])[:, t, 24], label=name)
        ax_lr.plot(np.asarray(history["lr_mult"])[:, t], label=name)
        ax_step.semilogy(np.asarray(history["step_rms"])[:, t], label=name)
        ax_cos.plot(np.asarray(history["cosine"])[:, t], lw=1.0, label=name)
    ax_stats.axhline(-2.5, color="k", lw=0.8, ls="--")
    ax_stats.set(ylim=(-2.7, 0.5), title="VeLO sees: column 24")
    ax_stats.legend(loc="upper right")
    ax_lr.set(title="the LSTM says: lr_mult")
    ax_step.set(title="VeLO would step: RMS")
    ax_cos.axhline(0, color="k", lw=0.8)
    ax_cos.set(ylim=(-1, 1), title="cos(step, gradient)")
    for ax in axes[1]:
        ax.set_xlabel("update")
    return fig

r"""Tasks for meta-training that ``velo-eval`` never uses (its nine tasks are the test set).

``velo-eval`` (:mod:`minivelo.bench.velo_eval`) scores MLPs on MNIST-1D and digits, a CNN
and an autoencoder on digits, logistic regression on its synthetic data, and an LSTM and a
transformer on the shipped corpus. To meta-train on the *kinds* of task it tests without
training on any of its dataset-and-architecture pairs, these tasks pair the same kinds of
model with other data:

- ``mnist1d_cnn``: a 1-D CNN on MNIST-1D (convolutions along the signal).
- ``markov_lm``: a character LSTM or a small transformer on text sampled from a random
  Markov chain (a synthetic corpus, not the shipped one).
- ``teacher_mlp``: an MLP classifier on Gaussian inputs labelled by a random teacher MLP.

With ``mnist1d_autoencoder`` and linear (softmax-regression) classifiers on MNIST-1D from
the registry, they make the v7 training family (``minivelo/meta/configs/velo_small_v7.json``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from minivelo.tasks import layers
from minivelo.tasks.base import Task
from minivelo.tasks.image import (
    ACTIVATION_CHOICES,
    _bs,
    _classifier_task,
    check_positive,
    check_positive_int,
    load_split,
    minibatch_sampler,
    sample_batch_size,
    sample_init_scale,
)
from minivelo.tasks.image import cross_entropy as _cross_entropy
from minivelo.tasks.language import window_sampler

# ------------------------------------------------------------------------ 1-D CNN


def init_conv1d(key, in_channels: int, out_channels: int, kernel: int, init_scale=1.0) -> dict:
    """``w`` ``[k, in, out]`` with fan-in ``k * in``; ``b`` zeros."""
    w = jax.random.normal(key, (kernel, in_channels, out_channels))
    return {"w": w * (init_scale / np.sqrt(kernel * in_channels)), "b": jnp.zeros((out_channels,))}


def conv1d(p: dict, x: jax.Array) -> jax.Array:
    """Same-padded stride-1 1-D convolution ``[B, L, C_in] -> [B, L, C_out]`` (im2col)."""
    k, c_in, c_out = p["w"].shape
    length = x.shape[1]
    padded = jnp.pad(x, ((0, 0), (k // 2, (k - 1) // 2), (0, 0)))
    patches = jnp.concatenate([padded[:, i : i + length, :] for i in range(k)], axis=-1)
    return patches @ p["w"].reshape(k * c_in, c_out) + p["b"]


def avg_pool1d(x: jax.Array) -> jax.Array:
    """``[B, L, C] -> [B, L//2, C]`` by averaging pairs."""
    b, length, c = x.shape
    return x[:, : length // 2 * 2].reshape(b, length // 2, 2, c).mean(2)


def mnist1d_cnn_task(
    channels: tuple[int, ...] = (8, 16),
    kernel: int = 5,
    activation: str = "relu",
    batch_size: int | None = 64,
    init_scale: float = 1.0,
) -> Task:
    """[conv (``kernel`` wide), activation, pool 2] per entry of ``channels`` over the
    40-sample MNIST-1D signal, global average pool, linear read-out to 10 classes."""
    channels = tuple(int(c) for c in channels)
    if not 1 <= len(channels) <= 4:
        raise ValueError(f"channels needs 1 to 4 entries, got {channels}")
    for c in channels:
        check_positive_int("each channel count", c)
    check_positive_int("kernel", kernel)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("init_scale", init_scale)
    act = layers.activation(activation)
    split = load_split("mnist1d")
    sizes = [1, *channels]

    def init(key):
        keys = jax.random.split(key, len(channels) + 1)
        params = {
            f"conv_{i}": init_conv1d(keys[i], a, b, kernel, init_scale)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
        }
        params["readout"] = layers.init_dense(keys[-1], channels[-1], 10, init_scale)
        return params

    def apply(params, x):
        h = x[..., None]  # [B, 40] -> [B, 40, 1]
        for i in range(len(channels)):
            h = avg_pool1d(act(conv1d(params[f"conv_{i}"], h)))
        return layers.dense(params["readout"], h.mean(1))  # [B, C] -> [B, 10]

    config = dict(
        family="mnist1d_cnn",
        channels=channels,
        kernel=int(kernel),
        activation=activation,
        batch_size=batch_size,
        init_scale=float(init_scale),
    )
    chans = "-".join(map(str, channels))
    name = (
        f"mnist1d_cnn[{chans},k={kernel},{activation},bs={_bs(batch_size)},init={init_scale:.2g}]"
    )
    return _classifier_task(name, config, split, init, apply)


def sample_mnist1d_cnn_config(rng: np.random.Generator) -> dict:
    depth = int(rng.integers(1, 4))
    base = int((4, 8, 16)[rng.integers(3)])
    return dict(
        channels=tuple(base * 2**i for i in range(depth)),
        kernel=int((3, 5, 7)[rng.integers(3)]),
        activation=str(ACTIVATION_CHOICES[rng.integers(len(ACTIVATION_CHOICES))]),
        batch_size=sample_batch_size(rng),
        init_scale=sample_init_scale(rng),
    )


# ------------------------------------------------------------ Markov-chain language


def markov_corpus(vocab_size: int, length: int, concentration: float, data_seed: int):
    r"""A token sequence from a random first-order Markov chain: row :math:`v` of the
    transition matrix is :math:`\mathrm{Dirichlet}(\alpha \mathbf 1)` (small
    :math:`\alpha`: nearly deterministic successors; large: nearly uniform)."""
    rng = np.random.default_rng(data_seed)
    transitions = rng.dirichlet(np.full(vocab_size, concentration), size=vocab_size)
    cumulative = np.cumsum(transitions, axis=1)
    u = rng.uniform(size=length)
    tokens = np.empty(length, np.int32)
    tokens[0] = rng.integers(vocab_size)
    for t in range(1, length):
        row = cumulative[tokens[t - 1]]
        tokens[t] = min(int(np.searchsorted(row, u[t] * row[-1])), vocab_size - 1)
    return tokens


def markov_lm_task(
    model: str = "lstm",
    vocab_size: int = 16,
    concentration: float = 0.3,
    hidden_size: int = 32,
    seq_len: int = 16,
    batch_size: int = 16,
    init_scale: float = 1.0,
    data_seed: int = 0,
) -> Task:
    """A next-token model (``model``: ``"lstm"`` or ``"transformer"``, one block of width
    ``hidden_size`` and 2 heads) on 20,000 tokens of :func:`markov_corpus`."""
    if model not in ("lstm", "transformer"):
        raise ValueError(f"model must be 'lstm' or 'transformer', got {model!r}")
    for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size)):
        check_positive_int(name, value)
    check_positive_int("seq_len", seq_len)
    check_positive_int("batch_size", batch_size)
    check_positive("concentration", concentration)
    check_positive("init_scale", init_scale)
    if model == "transformer" and hidden_size % 2:
        raise ValueError(f"a transformer's hidden_size must be even (2 heads), got {hidden_size}")
    tokens = markov_corpus(vocab_size, 20_000, concentration, data_seed)
    cut = 18_000
    held_out = tokens[cut:]
    starts = np.arange(32) * ((len(held_out) - seq_len - 1) // 32)
    eval_batch = jnp.asarray(held_out[starts[:, None] + np.arange(seq_len + 1)])

    def init(key):
        k_emb, k_body, k_pos, k_out = jax.random.split(key, 4)
        params = {"embed": jax.random.normal(k_emb, (vocab_size, hidden_size)) * init_scale}
        if model == "lstm":
            params["lstm"] = layers.init_lstm(k_body, hidden_size, hidden_size, init_scale)
        else:
            params["embed"] = params["embed"] * 0.1
            params["position_embed"] = (
                jax.random.normal(k_pos, (seq_len, hidden_size)) * 0.1 * init_scale
            )
            params["block"] = layers.init_block(k_body, hidden_size, init_scale)
            params["ln_final"] = layers.init_layer_norm(hidden_size)
        params["readout"] = layers.init_dense(k_out, hidden_size, vocab_size, init_scale)
        return params

    def logits_fn(params, inputs):
        x = params["embed"][inputs]  # [B, T, H]
        if model == "lstm":
            h = layers.lstm(params["lstm"], x)
        else:
            x = x + params["position_embed"][: inputs.shape[1]]
            h = layers.layer_norm(params["ln_final"], layers.block(params["block"], x, 2))
        return layers.dense(params["readout"], h)  # [B, T, V]

    def loss(params, batch):
        return _cross_entropy(logits_fn(params, batch[:, :-1]), batch[:, 1:])

    def accuracy(params, batch):
        return (logits_fn(params, batch[:, :-1]).argmax(-1) == batch[:, 1:]).mean()

    config = dict(
        family="markov_lm",
        model=model,
        vocab_size=int(vocab_size),
        concentration=float(concentration),
        hidden_size=int(hidden_size),
        seq_len=int(seq_len),
        batch_size=int(batch_size),
        init_scale=float(init_scale),
        data_seed=int(data_seed),
    )
    name = (
        f"markov_lm[{model},V={vocab_size},a={concentration:.2g},h={hidden_size},"
        f"T={seq_len},bs={batch_size},init={init_scale:.2g}]"
    )
    return Task(
        name=name,
        init=init,
        loss=loss,
        sample_batch=window_sampler(tokens[:cut], batch_size, seq_len),
        config=config,
        eval_batch=eval_batch,
        accuracy=accuracy,
    )


def sample_markov_lm_config(rng: np.random.Generator) -> dict:
    return dict(
        model=str(("lstm", "transformer")[rng.integers(2)]),
        vocab_size=int((8, 16, 32)[rng.integers(3)]),
        concentration=float(np.exp(rng.uniform(np.log(0.05), np.log(1.0)))),
        hidden_size=int((16, 32)[rng.integers(2)]),
        seq_len=int((8, 16)[rng.integers(2)]),
        batch_size=int((8, 16, 32)[rng.integers(3)]),
        init_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
        data_seed=int(rng.integers(2**31)),
    )


# ------------------------------------------------------------ teacher-labelled MLP


def teacher_data(dim: int, num_examples: int, num_classes: int, data_seed: int):
    """Gaussian inputs ``[n, dim]`` labelled by the argmax of a random tanh teacher MLP
    (one hidden layer of 64), so the labels are a smooth nonlinear function of x."""
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=(num_examples, dim)).astype(np.float32)
    w1 = rng.normal(size=(dim, 64)) / np.sqrt(dim)
    w2 = rng.normal(size=(64, num_classes)) / np.sqrt(64)
    y = np.argmax(np.tanh(x @ w1) @ w2, axis=1).astype(np.int32)
    return x, y


def teacher_mlp_task(
    dim: int = 16,
    hidden_sizes: tuple[int, ...] = (64,),
    num_classes: int = 4,
    activation: str = "relu",
    batch_size: int | None = 128,
    init_scale: float = 1.0,
    data_seed: int = 0,
) -> Task:
    """An MLP classifier (``hidden_sizes``, ``()``: linear) on :func:`teacher_data`,
    2,000 training and 500 held-out examples."""
    hidden_sizes = tuple(int(h) for h in hidden_sizes)
    for h in hidden_sizes:
        check_positive_int("each hidden size", h)
    check_positive_int("dim", dim)
    check_positive_int("num_classes", num_classes)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("init_scale", init_scale)
    act = layers.activation(activation)
    x, y = teacher_data(dim, 2500, num_classes, data_seed)
    sizes = [dim, *hidden_sizes, num_classes]

    def loss(params, batch):
        return _cross_entropy(layers.mlp(params, batch[0], act), batch[1])

    def accuracy(params, batch):
        return (layers.mlp(params, batch[0], act).argmax(-1) == batch[1]).mean()

    config = dict(
        family="teacher_mlp",
        dim=int(dim),
        hidden_sizes=hidden_sizes,
        num_classes=int(num_classes),
        activation=activation,
        batch_size=batch_size,
        init_scale=float(init_scale),
        data_seed=int(data_seed),
    )
    hidden = "x".join(map(str, hidden_sizes)) or "linear"
    name = (
        f"teacher_mlp[d={dim},{hidden},{activation},C={num_classes},bs={_bs(batch_size)},"
        f"init={init_scale:.2g}]"
    )
    return Task(
        name=name,
        init=lambda key: layers.init_mlp(key, sizes, init_scale),
        loss=loss,
        sample_batch=minibatch_sampler((x[:2000], y[:2000]), batch_size),
        config=config,
        eval_batch=(jnp.asarray(x[2000:]), jnp.asarray(y[2000:])),
        accuracy=accuracy,
    )


def sample_teacher_mlp_config(rng: np.random.Generator) -> dict:
    depth = int(rng.integers(1, 4))
    width = int((32, 64, 128)[rng.integers(3)])
    return dict(
        dim=int((8, 16, 32)[rng.integers(3)]),
        hidden_sizes=(width,) * depth,
        num_classes=int((2, 4, 10)[rng.integers(3)]),
        activation=str(ACTIVATION_CHOICES[rng.integers(len(ACTIVATION_CHOICES))]),
        batch_size=sample_batch_size(rng),
        init_scale=sample_init_scale(rng),
        data_seed=int(rng.integers(2**31)),
    )

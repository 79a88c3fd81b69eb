"""Image tasks: MLP classifiers (digits, MNIST-1D), a small CNN on digits, an autoencoder.

Each ``*_task`` function builds one :class:`~minivelo.tasks.base.Task` from explicit
settings; each ``sample_*_config`` draws settings the way VeLO's meta-training distribution
does (depth, width, activation, batch size including full batch, initialisation scale).

Batches are ``(x, y)`` tuples drawn with replacement from the training split;
``batch_size=None`` means full batch (the key is then ignored).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minivelo.tasks import datasets, layers
from minivelo.tasks.base import Task

IMAGE_DATASETS = ("digits", "mnist1d")


def load_split(dataset: str) -> datasets.Split:
    if dataset == "digits":
        return datasets.digits()
    if dataset == "mnist1d":
        return datasets.mnist1d()
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {list(IMAGE_DATASETS)}")


def check_positive_int(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_positive(name: str, value) -> None:
    if not np.isscalar(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def minibatch_sampler(arrays: tuple, batch_size: int | None):
    """``sample_batch(key)``: ``batch_size`` rows drawn with replacement, or everything."""
    arrays = tuple(jnp.asarray(a) for a in arrays)
    n = arrays[0].shape[0]
    if batch_size is None:
        return lambda key: arrays
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples")

    def sample_batch(key):
        idx = jax.random.randint(key, (batch_size,), 0, n)
        return tuple(a[idx] for a in arrays)

    return sample_batch


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _classifier_task(name, config, split, init, apply):
    """Wire a classifier's ``init``/``apply`` into a Task with loss, eval batch, accuracy."""

    def loss(params, batch):
        x, y = batch
        return cross_entropy(apply(params, x), y)

    def accuracy(params, batch):
        x, y = batch
        return (apply(params, x).argmax(-1) == y).mean()

    return Task(
        name=name,
        init=init,
        loss=loss,
        sample_batch=minibatch_sampler((split.x_train, split.y_train), config["batch_size"]),
        config=config,
        eval_batch=(jnp.asarray(split.x_test), jnp.asarray(split.y_test)),
        accuracy=accuracy,
    )


def _bs(batch_size) -> str:
    return "full" if batch_size is None else str(batch_size)


# -------------------------------------------------------------------- MLP classifier


def mlp_task(
    dataset: str = "digits",
    hidden_sizes: tuple[int, ...] = (64,),
    activation: str = "relu",
    batch_size: int | None = 128,
    init_scale: float = 1.0,
) -> Task:
    """An MLP classifier: flatten, ``len(hidden_sizes)`` hidden layers, a linear read-out."""
    hidden_sizes = tuple(int(h) for h in hidden_sizes)
    for h in hidden_sizes:
        check_positive_int("each hidden size", h)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("init_scale", init_scale)
    act = layers.activation(activation)
    split = load_split(dataset)
    in_size = int(np.prod(split.x_train.shape[1:]))
    sizes = [in_size, *hidden_sizes, split.num_classes]
    config = dict(
        family=f"{dataset}_mlp",
        dataset=dataset,
        hidden_sizes=hidden_sizes,
        activation=activation,
        batch_size=batch_size,
        init_scale=float(init_scale),
    )
    hidden = "x".join(map(str, hidden_sizes)) or "linear"
    name = f"{dataset}_mlp[{hidden},{activation},bs={_bs(batch_size)},init={init_scale:.2g}]"
    init = lambda key: layers.init_mlp(key, sizes, init_scale)
    apply = lambda p, x: layers.mlp(p, x.reshape(x.shape[0], -1), act)
    return _classifier_task(name, config, split, init, apply)


BATCH_SIZES = (16, 32, 64, 128, 256, None)  # None: full batch
WIDTHS = (16, 32, 64, 128, 256)
ACTIVATION_CHOICES = ("relu", "tanh", "gelu", "elu", "silu", "sigmoid")


def sample_batch_size(rng: np.random.Generator) -> int | None:
    choice = BATCH_SIZES[rng.integers(len(BATCH_SIZES))]
    return None if choice is None else int(choice)


def sample_init_scale(rng: np.random.Generator) -> float:
    """Log-uniform on ``[0.3, 3]``: from vanishing to exploding signals."""
    return float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))


def sample_mlp_config(rng: np.random.Generator, dataset: str) -> dict:
    """Depth 1-6 hidden layers, one width for all, activation, batch size, init scale."""
    depth = int(rng.integers(1, 7))
    width = int(WIDTHS[rng.integers(len(WIDTHS))])
    return dict(
        dataset=dataset,
        hidden_sizes=(width,) * depth,
        activation=str(ACTIVATION_CHOICES[rng.integers(len(ACTIVATION_CHOICES))]),
        batch_size=sample_batch_size(rng),
        init_scale=sample_init_scale(rng),
    )


# ------------------------------------------------------------------------------- CNN


def cnn_task(
    channels: tuple[int, ...] = (8, 16),
    activation: str = "relu",
    batch_size: int | None = 64,
    init_scale: float = 1.0,
) -> Task:
    """A small CNN on 8x8 digits: [3x3 conv, activation, 2x2 average pool] per entry of
    ``channels`` (8x8 -> 4x4 -> 2x2 -> 1x1), global average pool, linear read-out."""
    channels = tuple(int(c) for c in channels)
    if not 1 <= len(channels) <= 3:
        raise ValueError(f"channels needs 1 to 3 entries (8x8 pools 3 times), got {channels}")
    for c in channels:
        check_positive_int("each channel count", c)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("init_scale", init_scale)
    act = layers.activation(activation)
    split = load_split("digits")
    sizes = [1, *channels]

    def init(key):
        keys = jax.random.split(key, len(channels) + 1)
        params = {
            f"conv_{i}": layers.init_conv(keys[i], a, b, 3, init_scale)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
        }
        params["readout"] = layers.init_dense(keys[-1], channels[-1], 10, init_scale)
        return params

    def apply(params, x):
        h = x[..., None]  # [B, 8, 8] -> [B, 8, 8, 1]
        for i in range(len(channels)):
            h = layers.avg_pool_2x2(act(layers.conv(params[f"conv_{i}"], h)))
        return layers.dense(params["readout"], h.mean((1, 2)))  # [B, C] -> [B, 10]

    config = dict(
        family="digits_cnn",
        channels=channels,
        activation=activation,
        batch_size=batch_size,
        init_scale=float(init_scale),
    )
    chans = "-".join(map(str, channels))
    name = f"digits_cnn[{chans},{activation},bs={_bs(batch_size)},init={init_scale:.2g}]"
    return _classifier_task(name, config, split, init, apply)


def sample_cnn_config(rng: np.random.Generator) -> dict:
    depth = int(rng.integers(1, 4))
    base = int((4, 8, 16)[rng.integers(3)])
    return dict(
        channels=tuple(base * 2**i for i in range(depth)),
        activation=str(ACTIVATION_CHOICES[rng.integers(len(ACTIVATION_CHOICES))]),
        batch_size=sample_batch_size(rng),
        init_scale=sample_init_scale(rng),
    )


# ----------------------------------------------------------------------- autoencoder


def autoencoder_task(
    dataset: str = "digits",
    hidden_sizes: tuple[int, ...] = (32,),
    bottleneck: int = 8,
    activation: str = "relu",
    batch_size: int | None = 128,
    init_scale: float = 1.0,
) -> Task:
    """A dense autoencoder: encoder ``hidden_sizes -> bottleneck``, a mirrored decoder.

    On digits (pixels in ``[0, 1]``) the loss is per-pixel sigmoid cross-entropy; on
    MNIST-1D (real-valued signals) it is the mean squared error. Batches are ``(x, y)``
    like the classifiers', and ``y`` is unused.
    """
    hidden_sizes = tuple(int(h) for h in hidden_sizes)
    for h in (*hidden_sizes, bottleneck):
        check_positive_int("each layer size", h)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_positive("init_scale", init_scale)
    act = layers.activation(activation)
    split = load_split(dataset)
    in_size = int(np.prod(split.x_train.shape[1:]))
    encoder_sizes = [in_size, *hidden_sizes, bottleneck]
    decoder_sizes = encoder_sizes[::-1]

    def init(key):
        k_enc, k_dec = jax.random.split(key)
        return {
            "encoder": layers.init_mlp(k_enc, encoder_sizes, init_scale),
            "decoder": layers.init_mlp(k_dec, decoder_sizes, init_scale),
        }

    def reconstruct(params, x):
        flat = x.reshape(x.shape[0], -1)  # [B, in_size]
        code = act(layers.mlp(params["encoder"], flat, act))  # [B, bottleneck]
        return flat, layers.mlp(params["decoder"], code, act)  # logits / values [B, in_size]

    def loss(params, batch):
        flat, out = reconstruct(params, batch[0])
        if dataset == "digits":
            return optax.sigmoid_binary_cross_entropy(out, flat).mean()
        return jnp.mean((out - flat) ** 2)

    config = dict(
        family=f"{dataset}_autoencoder",
        dataset=dataset,
        hidden_sizes=hidden_sizes,
        bottleneck=int(bottleneck),
        activation=activation,
        batch_size=batch_size,
        init_scale=float(init_scale),
    )
    arch = "-".join(map(str, (*hidden_sizes, bottleneck)))
    name = f"{dataset}_autoencoder[{arch},{activation},bs={_bs(batch_size)},init={init_scale:.2g}]"
    return Task(
        name=name,
        init=init,
        loss=loss,
        sample_batch=minibatch_sampler((split.x_train, split.y_train), batch_size),
        config=config,
        eval_batch=(jnp.asarray(split.x_test), jnp.asarray(split.y_test)),
    )


def sample_autoencoder_config(rng: np.random.Generator, dataset: str) -> dict:
    depth = int(rng.integers(0, 3))
    width = int((32, 64, 128)[rng.integers(3)])
    return dict(
        dataset=dataset,
        hidden_sizes=(width,) * depth,
        bottleneck=int((4, 8, 16, 32)[rng.integers(4)]),
        activation=str(ACTIVATION_CHOICES[rng.integers(len(ACTIVATION_CHOICES))]),
        batch_size=sample_batch_size(rng),
        init_scale=sample_init_scale(rng),
    )

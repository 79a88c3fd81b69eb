"""Named tasks and task families.

- ``get_task(name, **settings)``: one fixed, small task (its default settings, or yours).
- ``get_family(name)``: a :class:`TaskFamily` whose ``sample(key)`` draws settings
  (architecture, batch size, initialisation scale, ...) and builds the task.
- ``list_tasks()`` / ``list_families()``: the names.

Every fixed task trains for a few hundred steps in seconds on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import jax
import numpy as np

from minivelo.tasks import image, language, meta_training, synthetic
from minivelo.tasks.base import Task, TaskFamily
from minivelo.tasks.layers import rng_from_key


@dataclasses.dataclass(frozen=True)
class Entry:
    """How to build one kind of task: a builder, its fixed defaults, a settings sampler."""

    build: Callable[..., Task]
    defaults: dict
    sample_config: Callable[[np.random.Generator], dict]
    description: str


ENTRIES: dict[str, Entry] = {
    "digits_mlp": Entry(
        image.mlp_task,
        dict(dataset="digits", hidden_sizes=(64,), activation="relu", batch_size=128),
        lambda rng: image.sample_mlp_config(rng, "digits"),
        "MLP classifier on scikit-learn's 8x8 digits",
    ),
    "mnist1d_mlp": Entry(
        image.mlp_task,
        dict(dataset="mnist1d", hidden_sizes=(64, 64), activation="relu", batch_size=128),
        lambda rng: image.sample_mlp_config(rng, "mnist1d"),
        "MLP classifier on MNIST-1D",
    ),
    "digits_cnn": Entry(
        image.cnn_task,
        dict(channels=(8, 16), activation="relu", batch_size=64),
        image.sample_cnn_config,
        "small CNN on 8x8 digits",
    ),
    "digits_autoencoder": Entry(
        image.autoencoder_task,
        dict(dataset="digits", hidden_sizes=(32,), bottleneck=8, batch_size=128),
        lambda rng: image.sample_autoencoder_config(rng, "digits"),
        "dense autoencoder on 8x8 digits",
    ),
    "mnist1d_autoencoder": Entry(
        image.autoencoder_task,
        dict(dataset="mnist1d", hidden_sizes=(32,), bottleneck=8, batch_size=128),
        lambda rng: image.sample_autoencoder_config(rng, "mnist1d"),
        "dense autoencoder on MNIST-1D",
    ),
    "text_lstm": Entry(
        language.lstm_task,
        dict(hidden_size=64, embed_size=32, seq_len=32, batch_size=16),
        language.sample_lstm_config,
        "character-level LSTM language model on the shipped corpus",
    ),
    "text_transformer": Entry(
        language.transformer_task,
        dict(d_model=32, num_layers=2, num_heads=2, seq_len=32, batch_size=16),
        language.sample_transformer_config,
        "character-level transformer language model on the shipped corpus",
    ),
    "quadratic": Entry(
        synthetic.quadratic_task,
        dict(dim=64, condition_number=100.0, noise_scale=0.1),
        synthetic.sample_quadratic_config,
        "noisy quadratic model",
    ),
    "rosenbrock": Entry(
        synthetic.rosenbrock_task,
        dict(dim=2, noise_scale=0.0),
        synthetic.sample_rosenbrock_config,
        "Rosenbrock valley",
    ),
    "logistic": Entry(
        synthetic.logistic_task,
        dict(dim=32, num_examples=2000, margin=4.0, batch_size=64),
        synthetic.sample_logistic_config,
        "logistic regression on synthetic data",
    ),
    # meta-training families that pair velo-eval's kinds of model with other data
    "mnist1d_cnn": Entry(
        meta_training.mnist1d_cnn_task,
        dict(channels=(8, 16), kernel=5, activation="relu", batch_size=64),
        meta_training.sample_mnist1d_cnn_config,
        "1-D CNN on MNIST-1D",
    ),
    "markov_lm": Entry(
        meta_training.markov_lm_task,
        dict(model="lstm", vocab_size=16, hidden_size=32, seq_len=16, batch_size=16),
        meta_training.sample_markov_lm_config,
        "character LSTM or transformer on text from a random Markov chain",
    ),
    "teacher_mlp": Entry(
        meta_training.teacher_mlp_task,
        dict(dim=16, hidden_sizes=(64,), num_classes=4, batch_size=128),
        meta_training.sample_teacher_mlp_config,
        "MLP classifier on Gaussian inputs labelled by a random teacher MLP",
    ),
}

# The fixed tasks get_task knows (mnist1d_autoencoder is a family only: nine is enough).
TASK_NAMES = (
    "digits_mlp",
    "mnist1d_mlp",
    "digits_cnn",
    "text_lstm",
    "text_transformer",
    "digits_autoencoder",
    "quadratic",
    "rosenbrock",
    "logistic",
)
MIXTURE = "mixture"  # the family that first draws a family, then a task from it


def list_tasks() -> list[str]:
    """Names accepted by :func:`get_task`."""
    return list(TASK_NAMES)


def list_families() -> list[str]:
    """Names accepted by :func:`get_family`."""
    return [*ENTRIES, MIXTURE]


def _entry(name: str, choices: list[str], what: str) -> Entry:
    if not isinstance(name, str) or name not in choices:
        raise KeyError(f"unknown {what} {name!r}; choose one of: {', '.join(choices)}")
    return ENTRIES[name]


def build(name: str, **settings) -> Task:
    """Build any entry (fixed task or family member) from explicit settings."""
    entry = _entry(name, list(ENTRIES), "task family")
    allowed = set(inspect.signature(entry.build).parameters)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise TypeError(
            f"unknown setting(s) {unknown} for {name!r}; settings: {', '.join(sorted(allowed))}"
        )
    return entry.build(**settings)


def get_task(name: str, **settings) -> Task:
    """A fixed named task, e.g. ``get_task("digits_mlp")`` or
    ``get_task("digits_mlp", hidden_sizes=(128, 128))`` to change a default."""
    entry = _entry(name, list(TASK_NAMES), "task")
    return build(name, **{**entry.defaults, **settings})


def get_family(name: str) -> TaskFamily:
    """A task family; ``family.sample(key)`` draws settings and builds the task.

    Sampling runs on the host (shapes depend on the draw), deterministic in the key.
    """
    if name == MIXTURE:
        names = list(ENTRIES)

        def sample_mixture(key) -> Task:
            pick_key, task_key = jax.random.split(key)
            chosen = names[rng_from_key(pick_key).integers(len(names))]
            return get_family(chosen).sample(task_key)

        return TaskFamily(MIXTURE, sample_mixture)
    entry = _entry(name, list_families(), "task family")

    def sample(key) -> Task:
        return build(name, **entry.sample_config(rng_from_key(key)))

    return TaskFamily(name, sample)


def describe() -> str:
    """One line per family: name and description (for ``--help`` texts and lessons)."""
    return "\n".join(f"{name:<20} {entry.description}" for name, entry in ENTRIES.items())

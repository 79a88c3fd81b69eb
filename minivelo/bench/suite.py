"""The unseen-task suite of ``velo-eval``: nine tasks outside VeLO's meta-training family.

The shipped weights were meta-trained on MNIST-1D and digits MLPs of width 32 or 64, depth
1 to 6, relu, batch 32, 128 or full, init scale 1, 500 steps
(``minivelo/weights/minivelo_small.json``); their LSTM was then distilled on the eight
training tasks of ``minivelo/meta/configs/velo_small_v10.json``. None of the tasks here is
in either (``tests/test_selection.py`` checks it): they are wider, deeper, use another
activation, or come from families never trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

from minivelo.tasks import build
from minivelo.tasks.base import Task

# (label, registry name, settings)
UNSEEN_SUITE: list[tuple[str, str, dict]] = [
    # wider than any training MLP
    (
        "mnist1d_mlp_128x128",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(128, 128), batch_size=128),
    ),
    (
        "mnist1d_mlp_256",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(256,), batch_size=128),
    ),
    (
        "digits_mlp_128x128_tanh",  # wider, and an activation never trained on
        "digits_mlp",
        dict(dataset="digits", hidden_sizes=(128, 128), activation="tanh", batch_size=128),
    ),
    # deeper than any training MLP
    (
        "mnist1d_mlp_depth8_full",
        "mnist1d_mlp",
        dict(dataset="mnist1d", hidden_sizes=(32,) * 8, batch_size=None),
    ),
    # families never trained on
    ("digits_cnn", "digits_cnn", dict(channels=(8, 16), batch_size=64)),
    (
        "digits_autoencoder",
        "digits_autoencoder",
        dict(dataset="digits", hidden_sizes=(32,), bottleneck=8, batch_size=128),
    ),
    # starts at w = 0, where VeLO's step (proportional to rms(w) + 3e-5) is tiny
    ("logistic", "logistic", dict(dim=32, num_examples=2000, margin=4.0, batch_size=64)),
    ("text_lstm", "text_lstm", dict(hidden_size=32, embed_size=16, seq_len=16, batch_size=16)),
    (
        "text_transformer",
        "text_transformer",
        dict(d_model=32, num_layers=1, num_heads=2, seq_len=16, batch_size=16),
    ),
]


def suite_labels() -> list[str]:
    return [label for label, _, _ in UNSEEN_SUITE]


def check_labels(labels: Sequence[str] | None = None) -> list[str]:
    """``labels`` (all when None), checked against the suite without building any task."""
    known = suite_labels()
    labels = known if labels is None else list(labels)
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise KeyError(
            f"unknown task label(s) {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(known)}"
        )
    if not labels:
        raise ValueError("no tasks given")
    return labels


def labelled_tasks(labels: Sequence[str] | None = None) -> list[tuple[str, Task]]:
    """``(label, Task)`` for the suite's tasks (all, or those named by ``labels``), built."""
    entries = {label: (name, settings) for label, name, settings in UNSEEN_SUITE}
    return [
        (label, build(entries[label][0], **entries[label][1])) for label in check_labels(labels)
    ]


def unseen_tasks(labels: Sequence[str] | None = None) -> list[Task]:
    """The tasks of :data:`UNSEEN_SUITE` (all, or those named by ``labels``), built."""
    return [task for _, task in labelled_tasks(labels)]


def as_labelled(tasks) -> list[tuple[str, Task]]:
    """Suite labels, Tasks (labelled by name) or ``(label, Task)`` pairs -> pairs."""
    items = [tasks] if isinstance(tasks, (str, Task)) else list(tasks)
    if not items:
        raise ValueError("no tasks given")
    labels = [t for t in items if isinstance(t, str)]
    built = dict(labelled_tasks(labels)) if labels else {}
    pairs = []
    for item in items:
        if isinstance(item, str):
            pairs.append((item, built[item]))
        elif isinstance(item, Task):
            pairs.append((item.name, item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Task):
            pairs.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"expected a suite label, a Task or (label, Task), got {item!r}")
    return pairs

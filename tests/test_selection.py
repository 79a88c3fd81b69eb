"""The validation suites that choose shipped weights stay apart from the test tasks.

Selection before results needs three disjoint sets: the tasks meta-training samples, the
validation suites of `minivelo.meta.selection` that pick a candidate, and `velo-eval`'s
unseen suite that reports on the pick. A task instance is identified by its name, which
spells every setting that changes it (sizes, activation, batch, init scale, data seed).
"""

import pathlib

import pytest

from minivelo.bench import suite
from minivelo.meta import selection
from minivelo.meta.train import MetaConfig, MetaTrainer

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "minivelo" / "meta" / "configs"
VELO_CONFIGS = sorted(p for p in CONFIGS.glob("velo_small_v*.json") if "validation" not in p.name)


def test_every_validation_suite_is_disjoint_from_the_unseen_test_suite():
    test_names = {task.name for task in suite.unseen_tasks()}
    for name, entries in selection.SUITES.items():
        labels = [entry.label for entry in entries]
        assert len(set(labels)) == len(labels), name
        built = {entry.build().name for entry in entries}
        assert not built & test_names, (name, built & test_names)


def test_suite_v9_adds_two_5000_step_mlps_to_v7():
    v7, v9 = selection.SUITES["v7"], selection.SUITES["v9"]
    assert v9[: len(v7)] == v7
    assert [entry.num_steps for entry in v9[len(v7) :]] == [5000, 5000]


@pytest.mark.parametrize("path", VELO_CONFIGS, ids=lambda p: p.stem)
def test_training_tasks_are_neither_validation_nor_test_tasks(path):
    config = MetaConfig.from_json(path)
    trainer = MetaTrainer(config, None, progress=False)
    train_names = {task.name for task in trainer.train_tasks}
    assert not train_names & {task.name for task in suite.unseen_tasks()}
    if config.validation is not None:
        validation = {entry.build().name for entry in selection.SUITES[config.validation]}
        assert not train_names & validation

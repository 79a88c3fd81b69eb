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
    # v16 was declared after these runs: none of them trained on its tasks either
    assert not train_names & {entry.build().name for entry in selection.SUITES["v16"]}


def test_suite_v16_is_fresh_and_spans_a_tenfold_range_of_horizons():
    v16 = {entry.build().name for entry in selection.SUITES["v16"]}
    for name, entries in selection.SUITES.items():
        if name != "v16":
            assert not v16 & {entry.build().name for entry in entries}, name
    steps = [entry.num_steps for entry in selection.SUITES["v16"]]
    assert max(steps) >= 10 * min(steps)


def test_a_solved_task_does_not_outweigh_an_unsolved_one():
    """With v16's floor, two runs that both drove a loss of ~1 to ~1e-9 and ~1e-6 tie, while
    a twofold gap on a task whose loss stays near 1 still counts in full."""
    first = 2.3
    floor = selection.SOLVED_FRACTION["v16"] * first
    assert selection.log_ratio_score(1e-9, 1e-6, floor) == 0.0
    assert selection.log_ratio_score(1e-9, 1e-6) == -selection.LOG_RATIO_CLIP  # no floor
    assert selection.log_ratio_score(0.5, 0.25, floor) == pytest.approx(0.6931, abs=1e-4)
    assert selection.log_ratio_score(float("nan"), 0.25, floor) == selection.LOG_RATIO_CLIP
    assert "v9" not in selection.SOLVED_FRACTION  # earlier suites keep their rule

"""The meta-training loop: resume equals uninterrupted, checkpoint errors, CLI, sharding."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from minivelo.meta import checkpoint
from minivelo.meta.train import MetaConfig, MetaTrainer, load_theta, read_metrics

TINY = MetaConfig(
    seed=3,
    optimizer={"kind": "mlp", "hidden_sizes": [8]},
    family={"name": "mnist1d_mlp", "choices": {"hidden_sizes": [[8]]}, "fixed": {"batch_size": 16}},
    num_tasks=1,
    members_per_task=4,
    num_steps=20,
    unroll_length=5,
    estimator="es",
    outer_steps=5,
    checkpoint_every=2,
    eval_every=2,
    num_val_tasks=1,
)


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def without_time(records):
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "cpu_s")} for r in records]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    return MetaTrainer(TINY, tmp_path_factory.mktemp("run"), progress=False)


@pytest.fixture(scope="module")
def uninterrupted(trainer):
    state = trainer.run()
    return state, read_metrics(trainer.metrics_path)


def test_resumed_run_equals_uninterrupted_run(trainer, uninterrupted, tmp_path):
    straight, straight_metrics = uninterrupted
    # the same trainer's compiled steps, a fresh directory: killed after step 3 (the last
    # checkpoint is step 2, so step 3 is redone and its metrics line replaced)
    trainer.out_dir = tmp_path
    killed = trainer.run(stop_at=3)
    assert killed.step == 3 and checkpoint.read_header(tmp_path / "checkpoint.npz")["step"] == 2
    assert len(read_metrics(trainer.metrics_path)) == 3
    resumed = trainer.run(resume=True)
    assert resumed.step == TINY.outer_steps
    for a, b in zip(
        leaves((straight.theta, straight.outer_state, straight.pool)),
        leaves((resumed.theta, resumed.outer_state, resumed.pool)),
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.best_step == straight.best_step and resumed.best_score == straight.best_score
    assert without_time(read_metrics(trainer.metrics_path)) == without_time(straight_metrics)


def test_run_writes_its_metrics(trainer, uninterrupted):
    state, metrics = uninterrupted
    assert [r["step"] for r in metrics] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r["meta_loss"]) and r["grad_norm"] > 0 for r in metrics)
    assert sum("val_score" in r for r in metrics) == 2
    # the restarts of the staggered members: one of 4 finishes every segment
    assert all(r["restarts"] == 1 for r in metrics)


def test_best_and_snapshots_hold_theta(tmp_path):
    trainer = MetaTrainer(dataclasses.replace(TINY, outer_steps=2), tmp_path, progress=False)
    state = trainer.run()
    best, config = load_theta(tmp_path / "best.npz")
    assert config == dataclasses.replace(TINY, outer_steps=2)
    assert state.best_step == 2
    for a, b in zip(leaves(best), leaves(state.theta)):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "snapshots" / "step_000002.npz").exists()
    assert (tmp_path / "metrics.png").stat().st_size > 0


def test_corrupt_and_mismatched_checkpoints_are_clear_errors(trainer, uninterrupted, tmp_path):
    good = trainer.out_dir / "checkpoint.npz"
    data = good.read_bytes()
    (tmp_path / "checkpoint.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated"):
        trainer.restore(tmp_path / "checkpoint.npz")
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint"):
        trainer.restore(tmp_path / "missing.npz")
    # same file, another configuration
    other = MetaTrainer(dataclasses.replace(TINY, sigma=0.02), tmp_path, progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="'sigma' is 0.01 there, 0.02 here"):
        other.restore(good)
    # a tree that does not fit
    template = {"theta": {"w": np.zeros(3, np.float32)}}
    with pytest.raises(checkpoint.CheckpointError, match="lacks array"):
        checkpoint.load(good, template)


def test_atomic_save_leaves_no_temp_file_and_keeps_old_on_failure(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, {"a": np.arange(3)}, {"step": 1})
    assert not (tmp_path / "c.npz.tmp").exists()

    class Unsavable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoint.save(path, {"a": Unsavable()}, {"step": 2})
    tree, header = checkpoint.load(path, {"a": np.zeros(3, np.int64)})
    assert header["step"] == 1


def test_config_errors():
    with pytest.raises(ValueError, match="unknown config key"):
        MetaConfig.from_dict({"sigmaa": 1})
    with pytest.raises(ValueError, match="multiple of unroll_length"):
        MetaConfig.from_dict({"num_steps": 10, "unroll_length": 3})
    with pytest.raises(ValueError, match="estimator"):
        MetaConfig.from_dict({"estimator": "sgd"})
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        MetaConfig.from_dict({"sigma": -1.0})
    with pytest.raises(ValueError, match="unknown family key"):
        MetaTrainer(MetaConfig(family={"name": "mnist1d_mlp", "choice": {}}))
    velo = {"kind": "velo", "preset": "small"}
    with pytest.raises(ValueError, match="trainable needs estimator"):
        MetaConfig.from_dict({"optimizer": velo, "trainable": ["rnn_params"]})
    with pytest.raises(ValueError, match="no meta-parameter is named"):
        MetaConfig.from_dict(
            {"optimizer": velo, "estimator": "es_sign", "trainable": ["rnn_params/nope"]}
        )
    with pytest.raises(ValueError, match="non-empty list"):
        MetaConfig.from_dict({"optimizer": velo, "estimator": "es_sign", "trainable": "rnn"})
    with pytest.raises(ValueError, match=r"episode_tail must be a number in \(0, 1\]"):
        MetaConfig.from_dict({"estimator": "es_sign", "episode_tail": 0.0})
    with pytest.raises(ValueError, match="episode_tail needs estimator 'es_sign'"):
        MetaConfig.from_dict({"episode_tail": 1.0})


def test_a_new_setting_at_its_default_leaves_older_checkpoints_identity_alone():
    """episode_tail came after v8's checkpoints: at its default it is not part of the
    identity a resume compares, so those checkpoints still resume; changed, it is."""
    base = {"estimator": "es_sign"}
    assert "episode_tail" not in MetaConfig.from_dict(base).identity()
    assert MetaConfig.from_dict({**base, "episode_tail": 1.0}).identity()["episode_tail"] == 1.0


def test_shipped_configs_parse():
    import pathlib

    folder = pathlib.Path(__file__).resolve().parent.parent / "minivelo" / "meta" / "configs"
    configs = sorted(folder.glob("*.json"))
    assert configs
    for path in configs:
        MetaConfig.from_json(path)


def test_cli_refuses_to_overwrite_and_reports_bad_config(tmp_path, trainer, uninterrupted, capsys):
    from minivelo import cli

    config_path = tmp_path / "c.json"
    config_path.write_text(json.dumps(TINY.to_dict()))
    assert (
        cli.main(["meta-train", "--config", str(config_path), "--out", str(trainer.out_dir)]) == 2
    )
    assert "already holds a checkpoint" in capsys.readouterr().err
    config_path.write_text("{not json")
    assert cli.main(["meta-train", "--config", str(config_path), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


SHARDED = textwrap.dedent(
    """
    import dataclasses, json, sys
    import jax, numpy as np
    from minivelo.meta import population
    from minivelo.meta.train import MetaConfig, MetaTrainer
    config = MetaConfig.from_dict(json.loads(sys.argv[1]))
    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    for name, devices in (("one", jax.devices()[:1]), ("four", jax.devices())):
        trainer = MetaTrainer(config, progress=False, mesh=population.population_mesh(devices))
        state = trainer.run()
        if name == "four":
            member_axis = jax.tree.leaves(state.pool)[0].sharding
            assert len(member_axis.device_set) == 4, member_axis
        arrays = jax.tree.leaves((state.theta, state.pool))
        out[name] = [np.asarray(x).ravel().tolist() for x in arrays]
    print(json.dumps(out))
    """
)


def test_sharded_run_on_four_devices_equals_one_device():
    config = dataclasses.replace(TINY, estimator="pes", outer_steps=2, eval_every=0)
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-c", SHARDED, json.dumps(config.to_dict())],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out["one"]) == len(out["four"])
    # Equal up to float rounding: each device multiplies a batch of 1 member instead of 4
    # and the gradient mean is reduced across devices, so sums round differently (~1e-7),
    # a bit amplified by two outer Adam steps. A real error (a member's key or data
    # shuffled, a member lost) moves numbers by O(1e-2) and more.
    for a, b in zip(out["one"], out["four"]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_export_and_evaluation_table(trainer, uninterrupted, tmp_path):
    from minivelo import bench, optim, tasks
    from minivelo.lopt import base as learned_optimizers
    from minivelo.lopt import mlp_lopt
    from minivelo.meta import evaluate, export

    path = export.export(trainer.out_dir, "w", out_dir=tmp_path)
    theta, config, info = mlp_lopt.load_weights(path)
    assert info["outer_steps"] == uninterrupted[0].best_step
    assert info["meta_config"] == TINY.to_dict() and info["command"].startswith("python -m")
    with pytest.raises(FileNotFoundError, match="within the budget"):
        export.choose_snapshot(trainer.out_dir, max_seconds=0.0)
    # the table's Adam numbers are the benchmark's own runs, on the same seeds
    task = tasks.build("quadratic", dim=8, condition_number=10.0, noise_scale=0.1)
    lopt = learned_optimizers.build(TINY.optimizer, 20)
    rows = evaluate.compare_table([task], lopt, theta, 20, seeds=(0,), log=lambda s: None)
    direct = bench.train_seeds(task, optim.adam(1e-3), 20, seeds=(0,)).losses
    np.testing.assert_allclose(rows[0]["adam_default"], bench.final_loss(direct)[0], rtol=1e-5)
    assert rows[0]["adam_tuned"] <= rows[0]["adam_default"]
    learned = bench.train_seeds(task, mlp_lopt.mlp_lopt(theta, 20, config), 20, seeds=(0,)).losses
    np.testing.assert_allclose(rows[0]["learned"], bench.final_loss(learned)[0], rtol=1e-5)
    assert "tuned Adam on 1/1" in evaluate.summary([{**rows[0], "learned": 1e-9}])
    assert "tuned Adam on 0/1" in evaluate.summary([{**rows[0], "learned": float("inf")}])


def test_family_list_is_a_balanced_mixture():
    from minivelo.meta import population

    spec = [
        {"name": "mnist1d_mlp", "choices": {"hidden_sizes": [[8]]}},
        {"name": "logistic", "fixed": {"dim": 4}},
    ]
    family = population.family_from_spec(spec)
    names = [t.name for t in population.sample_tasks(family, seed=0, num=4)]
    assert [n.split("[")[0] for n in names] == ["mnist1d_mlp", "logistic"] * 2, names
    again = [t.name for t in population.sample_tasks(family, seed=0, num=4)]
    assert names == again  # deterministic in the seed
    assert family.sample(jax.random.PRNGKey(1)).name  # sample() picks a family too
    with pytest.raises(ValueError, match="at least one family"):
        population.family_from_spec([])


def test_warm_start_from_a_run_and_its_errors(trainer, uninterrupted, tmp_path):
    run_dir = trainer.out_dir
    warm = MetaTrainer(dataclasses.replace(TINY, init_from=str(run_dir)), progress=False)
    source, _ = load_theta(run_dir / "checkpoint.npz")
    for a, b in zip(leaves(warm.initial_state().theta), leaves(source)):
        np.testing.assert_array_equal(a, b)
    missing = dataclasses.replace(TINY, init_from=str(tmp_path / "nothing.npz"))
    with pytest.raises(FileNotFoundError, match="init_from"):
        MetaTrainer(missing, progress=False).initial_state()
    other = dataclasses.replace(
        TINY, optimizer={"kind": "mlp", "hidden_sizes": [4]}, init_from=str(run_dir)
    )
    with pytest.raises(ValueError, match="init_from"):
        MetaTrainer(other, progress=False).initial_state()
    with pytest.raises(ValueError, match="init_from"):
        MetaConfig.from_dict({**TINY.to_dict(), "init_from": 3})


def test_velo_run_exports_weights_that_minivelo_velo_loads(tmp_path):
    import json

    import minivelo
    from minivelo.meta import export

    config = dataclasses.replace(
        TINY, optimizer={"kind": "velo", "preset": "tiny"}, outer_steps=2, eval_every=2
    )
    MetaTrainer(config, tmp_path / "run", progress=False).run()
    path = export.export(tmp_path / "run", "v", out_dir=tmp_path)
    assert path.suffix == ".msgpack"
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["config"]["lstm_hidden_size"] == 16 and info["outer_steps"] == 2
    assert info["compute"]["wall_s"] > 0 and info["meta_config"] == config.to_dict()
    theta, _ = load_theta(next((tmp_path / "run" / "snapshots").glob("step_*2.npz")))
    tx = minivelo.velo(20, weights=str(path))
    params = {"w": jax.numpy.ones((3, 2))}
    updates, _ = tx.update(params, tx.init(params), params, loss=jax.numpy.float32(1.0))
    same = minivelo.velo(20, weights=theta)
    expected, _ = same.update(params, same.init(params), params, loss=jax.numpy.float32(1.0))
    np.testing.assert_array_equal(updates["w"], expected["w"])


def test_export_selects_among_candidates_on_validation_tasks(trainer, uninterrupted, tmp_path):
    from minivelo.meta import export

    config_path = tmp_path / "val.json"
    config_path.write_text(json.dumps(TINY.to_dict()))
    candidates = [trainer.out_dir / "checkpoint.npz", trainer.out_dir / "best.npz"]
    best, scores = export.select_by_validation(candidates, config_path, log=lambda s: None)
    assert set(scores) == {c.as_posix() for c in candidates}
    assert scores[best.as_posix()] == min(scores.values())
    assert export.run_dir_of(best) == trainer.out_dir
    from minivelo import cli

    common = ["export", "--name", "w", "--out", str(tmp_path)]
    common += ["--validation-config", str(config_path)]
    choose = ["--candidates", ",".join(map(str, candidates))]
    assert cli.main(common + choose) == 0
    info = json.loads((tmp_path / "w.json").read_text())
    assert info["selection"]["chosen"] == best.as_posix() and "--snapshot" in info["command"]
    # --config names the run's config file in the recorded command, if it is that run's
    assert cli.main(common + ["--config", str(config_path)] + choose) == 0
    info = json.loads((tmp_path / "w.json").read_text())
    assert f"--config {config_path}" in info["command"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**TINY.to_dict(), "seed": 99}))
    before = (tmp_path / "w.json").read_bytes()
    assert cli.main(common + ["--config", str(other)] + choose) == 2  # a usage error
    assert (tmp_path / "w.json").read_bytes() == before  # and nothing rewritten


def test_export_of_a_warm_started_run_counts_its_parents_compute(trainer, uninterrupted, tmp_path):
    import shutil

    from minivelo.meta import checkpoint, export

    parent = tmp_path / "parent"
    shutil.copytree(trainer.out_dir, parent)
    child_config = dataclasses.replace(
        TINY, init_from=str(parent / "checkpoint.npz"), outer_steps=2, eval_every=2
    )
    MetaTrainer(child_config, tmp_path / "child", progress=False).run()
    path = export.export(tmp_path / "child", "w", out_dir=tmp_path)
    info = json.loads(path.with_suffix(".json").read_text())
    header = checkpoint.read_header(parent / "checkpoint.npz")
    [lineage] = info["warm_start"]
    assert lineage["outer_steps"] == header["step"] == TINY.outer_steps
    assert lineage["meta_config"] == TINY.to_dict()
    assert info["compute"]["total_outer_steps"] == info["outer_steps"] + TINY.outer_steps
    assert lineage["wall_s"] == round(header["elapsed_s"], 1)
    total = info["compute"]["wall_s"] + lineage["wall_s"]
    assert info["compute"]["total_wall_s"] == pytest.approx(total, abs=0.11)
    assert info["command"].count("meta-train") == 2
    assert info["command"].index(parent.as_posix()) < info["command"].index("child")
    shutil.rmtree(parent)
    with pytest.raises(FileNotFoundError, match="warm-started from"):
        export.export(tmp_path / "child", "w", out_dir=tmp_path)

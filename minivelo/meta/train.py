r"""The meta-training loop: outer steps, checkpoints, validation, metrics.

One outer step:

1. every member of the population runs one segment of ``unroll_length`` inner steps
   (:class:`~minivelo.meta.population.Population`), and the estimator (``es``, ``pes`` or
   ``tbptt``) turns the segments into a meta-gradient :math:`\hat g`;
2. the outer optimizer updates the meta-parameters,
   :math:`\theta \leftarrow \theta - \mathrm{Adam}(\mathrm{clip}(\hat g, c))`, with the
   gradient's global norm clipped to ``outer_clip`` (ES and PES estimates are heavy-tailed).

Every ``eval_every`` steps :math:`\theta` trains the *validation* tasks (sampled apart from
the training tasks) for a whole horizon, and the best :math:`\theta` so far is kept in
``best.npz``: held-out quality swings between steps, so we select on it rather than take
the last. Every ``checkpoint_every`` steps the whole state (:math:`\theta`, Adam's moments,
every member's inner run, the best score) goes to ``checkpoint.npz``, atomically.

Determinism: outer step ``t`` uses the key ``fold_in(key(seed), t)``; nothing else is
random. A run resumed from its checkpoint therefore ends with exactly the numbers of an
uninterrupted one (tested), and ``metrics.jsonl`` is cut back to the checkpoint's step
before the resumed run appends to it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from minivelo.lopt import base as lopt_base
from minivelo.meta import checkpoint, population, runs, unroll

PyTree = Any
# Settings that may differ between a checkpoint and the run resuming it (init_from is read
# only when a run starts afresh; the run records moved from minivelo/weights/in_progress/
# to records/, so their configs name the warm start by its new path).
RESUMABLE_CHANGES = ("outer_steps", "init_from")
# Settings added after checkpoints were written: left out of a run's identity while they
# hold these defaults, so that those checkpoints still resume.
LATER_DEFAULTS = {"episode_tail": unroll.TAIL_FRACTION}


@dataclasses.dataclass(frozen=True)
class MetaConfig:
    """Everything that defines a meta-training run (the JSON config file, field for field)."""

    seed: int = 0
    optimizer: dict = dataclasses.field(default_factory=lambda: {"kind": "mlp"})
    family: Any = "mnist1d_mlp"  # a family name or {"name", "choices", "fixed"}
    num_tasks: int = 4  # training tasks (one vmapped group each)
    members_per_task: int = 4  # persistent inner runs per task
    num_steps: int = 500  # the inner training horizon N
    unroll_length: int = 25  # K inner steps per segment
    estimator: str = "es"  # "es", "pes" or "tbptt"
    sigma: float = 0.01  # ES / PES perturbation scale
    loss_cap: float = 1.0  # cap on log(l_t / l_0) in the meta-objective
    outer_steps: int = 500
    outer_learning_rate: float = 3e-3
    outer_clip: float = 1.0  # global-norm clip of the meta-gradient
    checkpoint_every: int = 25
    eval_every: int = 50  # 0: never validate
    num_val_tasks: int = 2
    val_seeds: int = 1
    init_from: str | None = None  # start from these meta-parameters (a run dir or .npz)
    # es_sign only: horizons [shortest, longest] drawn log-uniformly every outer step (None:
    # num_steps), per-episode task augmentation (minivelo.tasks.augment.AugmentSettings), and
    # a named validation suite scored against tuned Adam (minivelo.meta.selection)
    horizons: list | None = None
    augment: dict | None = None
    validation: str | None = None
    # es_sign only: perturb and train only the meta-parameters whose names start with one
    # of these (e.g. ["rnn_params/step_size"]); None trains all (estimators.Subspace)
    trainable: list | None = None
    # es_sign only: the fraction of each episode's last steps its objective averages (the
    # default tenth reads the final loss; 1.0: the whole run, so that of two copies that both
    # diverge the one that diverged later scores lower; unroll.episode_meta_loss)
    episode_tail: float = unroll.TAIL_FRACTION

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> MetaConfig:
        if not isinstance(settings, dict):
            raise ValueError(
                f"a meta-training config is a JSON object, got {type(settings).__name__}"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - set(fields))
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; known: {sorted(fields)}")
        config = cls(**settings)
        config.validate()
        return config

    @classmethod
    def from_json(cls, path) -> MetaConfig:
        path = pathlib.Path(path)
        try:
            settings = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        return cls.from_dict(settings)

    def validate(self) -> None:
        positive = (
            "num_tasks",
            "members_per_task",
            "num_steps",
            "unroll_length",
            "outer_steps",
            "checkpoint_every",
            "num_val_tasks",
            "val_seeds",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if (
            isinstance(self.eval_every, bool)
            or not isinstance(self.eval_every, int)
            or self.eval_every < 0
        ):
            raise ValueError(f"eval_every must be an integer >= 0, got {self.eval_every!r}")
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < 2**32
        ):
            raise ValueError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        for name in ("sigma", "loss_cap", "outer_learning_rate", "outer_clip"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.num_steps % self.unroll_length:
            raise ValueError(
                f"num_steps ({self.num_steps}) must be a multiple of "
                f"unroll_length ({self.unroll_length})"
            )
        if self.estimator not in ("es", "pes", "tbptt", "es_sign"):
            raise ValueError(
                f"estimator must be 'es', 'pes', 'tbptt' or 'es_sign', got {self.estimator!r}"
            )
        if (
            isinstance(self.episode_tail, bool)
            or not isinstance(self.episode_tail, (int, float))
            or not 0 < self.episode_tail <= 1
        ):
            raise ValueError(f"episode_tail must be a number in (0, 1], got {self.episode_tail!r}")
        if self.episode_tail != LATER_DEFAULTS["episode_tail"] and self.estimator != "es_sign":
            raise ValueError("episode_tail needs estimator 'es_sign' (whole episodes)")
        if self.horizons is not None or self.augment is not None:
            if self.estimator != "es_sign":
                raise ValueError("horizons and augment need estimator 'es_sign'")
        if self.horizons is not None and (
            not isinstance(self.horizons, list)
            or len(self.horizons) != 2
            or not all(isinstance(h, int) and h >= 1 for h in self.horizons)
            or self.horizons[0] > self.horizons[1]
        ):
            raise ValueError(
                f"horizons must be [shortest, longest] integers, got {self.horizons!r}"
            )
        if self.trainable is not None:
            if self.estimator != "es_sign":
                raise ValueError("trainable needs estimator 'es_sign'")
            if (
                not isinstance(self.trainable, list)
                or not self.trainable
                or not all(isinstance(name, str) and name for name in self.trainable)
            ):
                raise ValueError(
                    f"trainable must be a non-empty list of meta-parameter names, "
                    f"got {self.trainable!r}"
                )
        if self.validation is not None:
            from minivelo.meta import selection

            if self.validation not in selection.SUITES:
                raise ValueError(
                    f"unknown validation suite {self.validation!r}; "
                    f"choose one of {sorted(selection.SUITES)}"
                )
        if self.init_from is not None and not isinstance(self.init_from, str):
            raise ValueError(f"init_from must be a path or null, got {self.init_from!r}")
        if not isinstance(self.optimizer, dict):
            raise ValueError(
                f"optimizer must be an object like {{'kind': 'mlp'}}, got {self.optimizer!r}"
            )
        # unknown family or optimizer kind/settings: refused here, before any folder exists
        try:
            population.family_from_spec(self.family)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"family: {_message(err)}") from None
        try:
            lopt = lopt_base.build(self.optimizer, self.num_steps)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"optimizer: {_message(err)}") from None
        if self.trainable is not None:  # every name must match a leaf of the optimizer's
            from minivelo.meta.estimators import Subspace

            Subspace(self.trainable).chosen(lopt.init_meta_params(jax.random.PRNGKey(0)))

    def identity(self) -> dict:
        """The settings a checkpoint must share with the run that resumes it."""
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in RESUMABLE_CHANGES and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])
        }


class TrainState(NamedTuple):
    theta: PyTree
    outer_state: PyTree
    pool: tuple
    step: int  # outer steps done
    best_score: float  # best validation score so far (inf before the first)
    best_step: int
    elapsed_s: float  # wall-clock seconds of meta-training so far (resumes add up)
    cpu_s: float = 0.0  # CPU seconds of this process spent on it (all threads)


def outer_optimizer(config: MetaConfig) -> optax.GradientTransformation:
    """Adam on the meta-parameters, after clipping the meta-gradient's global norm."""
    return optax.chain(
        optax.clip_by_global_norm(config.outer_clip), optax.adam(config.outer_learning_rate)
    )


class MetaTrainer:
    """Build with a config (and an output directory); ``run()`` meta-trains, resumably."""

    def __init__(self, config: MetaConfig, out_dir=None, *, progress: bool = True, mesh=None):
        config.validate()
        self.config = config
        self.out_dir = None if out_dir is None else pathlib.Path(out_dir)
        self.progress = progress
        self.family = population.family_from_spec(config.family)
        self.train_tasks = population.sample_tasks(self.family, config.seed, config.num_tasks, 0)
        self.val_tasks = population.sample_tasks(self.family, config.seed, config.num_val_tasks, 1)
        self.lopt = lopt_base.build(config.optimizer, config.num_steps)
        self.population = population.Population(
            self.train_tasks,
            self.lopt,
            estimator=config.estimator,
            members_per_task=config.members_per_task,
            num_steps=config.num_steps,
            unroll_length=config.unroll_length,
            loss_cap=config.loss_cap,
            sigma=config.sigma,
            mesh=mesh,
            horizons=None if config.horizons is None else tuple(config.horizons),
            augment=config.augment,
            trainable=config.trainable,
            episode_tail=config.episode_tail,
        )
        self.outer = outer_optimizer(config)
        # Every array keeps one placement from step to step (theta and Adam's moments
        # replicated, the members sharded), so the jitted steps compile exactly once.
        self.replicated = NamedSharding(self.population.mesh, P())
        self.by_member = NamedSharding(self.population.mesh, P(population.MEMBERS_AXIS))
        self._outer_update = jax.jit(self._apply_outer, out_shardings=self.replicated)
        self._val_runners: dict[int, Any] = {}

    # ------------------------------------------------------------------ state
    @property
    def key(self) -> jax.Array:
        return jax.random.PRNGKey(self.config.seed)

    def initial_state(self) -> TrainState:
        theta = self.lopt.init_meta_params(jax.random.fold_in(self.key, 0))
        if self.config.init_from is not None:
            theta = self.warm_start(theta)
        pool = self.population.init(theta, jax.random.fold_in(self.key, 1))
        theta = jax.device_put(theta, self.replicated)
        outer_state = jax.device_put(self.outer.init(theta), self.replicated)
        return TrainState(theta, outer_state, pool, 0, float("inf"), 0, 0.0, 0.0)

    def warm_start(self, template: PyTree) -> PyTree:
        """Meta-parameters from ``config.init_from``, checked against the optimizer's shapes."""
        path = pathlib.Path(self.config.init_from)
        if path.is_dir():
            path = path / "checkpoint.npz"
        if not path.exists():
            raise FileNotFoundError(f"init_from: no meta-parameters at {path}")
        if path.suffix == ".msgpack":  # shipped or published VeLO weights (kind velo)
            from minivelo.lopt.velo import checkpoint as velo_checkpoint

            if self.config.optimizer.get("kind") != "velo":
                raise ValueError(
                    f"init_from {path} holds VeLO weights; this run trains {self.config.optimizer}"
                )
            theta = jax.tree.map(
                lambda x: jnp.asarray(x, jnp.float32), velo_checkpoint.load_published(path)
            )
            mismatched = jax.tree.map(lambda a, b: a.shape != b.shape, theta, template)
            if any(jax.tree.leaves(mismatched)):
                raise ValueError(f"init_from {path}: meta-parameter shapes differ from this run's")
            return theta
        theta, source = load_theta(path)
        if source.optimizer != self.config.optimizer:
            raise ValueError(
                f"init_from {path} holds meta-parameters of {source.optimizer}, "
                f"but this run trains {self.config.optimizer}"
            )
        mismatched = jax.tree.map(lambda a, b: a.shape != b.shape, theta, template)
        if any(jax.tree.leaves(mismatched)):
            raise ValueError(f"init_from {path}: meta-parameter shapes differ from this run's")
        return theta

    def _apply_outer(self, theta, outer_state, gradient):
        updates, outer_state = self.outer.update(gradient, outer_state, theta)
        return optax.apply_updates(theta, updates), outer_state, optax.global_norm(gradient)

    def outer_step(self, state: TrainState) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(jax.random.fold_in(self.key, 2), state.step)
        gradient, metrics, pool = self.population.step(state.theta, state.pool, key)
        theta, outer_state, grad_norm = self._outer_update(state.theta, state.outer_state, gradient)
        record = {
            "step": state.step + 1,
            "meta_loss": float(metrics["meta_loss"]),
            "grad_norm": float(grad_norm),
            "restarts": int(metrics["restarts"]),
        }
        if "horizons" in metrics:  # es_sign: each task's horizon this step
            record["horizons"] = [int(n) for n in np.asarray(metrics["horizons"])]
        return state._replace(
            theta=theta, outer_state=outer_state, pool=pool, step=state.step + 1
        ), record

    # ------------------------------------------------------------- validation
    def validate(self, theta) -> float:
        """:func:`.runs.validation_score` of ``theta`` on the validation tasks, or with
        ``config.validation`` the named suite's score against tuned Adam."""
        if self.config.validation is not None:
            from minivelo.meta import selection

            if not hasattr(self, "_suite"):
                cache = None if self.out_dir is None else self.out_dir / "adam_reference.json"
                self._suite = selection.ValidationSuite(
                    self.config.validation, self.config.optimizer, cache
                )
            return self._suite.score(theta)
        keys = runs.seeds_keys(range(100, 100 + self.config.val_seeds))
        losses = []
        for i, task in enumerate(self.val_tasks):
            if i not in self._val_runners:
                self._val_runners[i] = runs.lopt_runner(task, self.lopt, self.config.num_steps)
            losses.append(np.asarray(self._val_runners[i](theta, keys)))
        return float(np.mean([runs.validation_score(x) for x in losses]))

    # ------------------------------------------------------------ checkpoints
    def _tree(self, state: TrainState) -> dict:
        return {"theta": state.theta, "outer_state": state.outer_state, "pool": state.pool}

    def _header(self, state: TrainState) -> dict:
        return {
            "config": self.config.to_dict(),
            "identity": self.config.identity(),
            "step": state.step,
            "best_score": state.best_score if np.isfinite(state.best_score) else None,
            "best_step": state.best_step,
            "elapsed_s": state.elapsed_s,
            "cpu_s": state.cpu_s,
        }

    def save(self, state: TrainState, name: str = "checkpoint.npz", theta_only=False) -> None:
        if self.out_dir is None:
            return
        tree = {"theta": state.theta} if theta_only else self._tree(state)
        # Every process joins the gather (multi-host: members live on other hosts' devices);
        # only process 0 writes.
        tree = jax.tree.map(_to_host, tree)
        if jax.process_index() == 0:
            checkpoint.save(self.out_dir / name, tree, self._header(state))

    def save_snapshot(self, state: TrainState, score: float) -> None:
        """``snapshots/step_<t>.npz``: theta alone (a few kB) at every validation, so a
        later reader can pick the best within a compute budget or plot the progress."""
        if self.out_dir is not None and jax.process_index() == 0:
            header = {**self._header(state), "val_score": score}
            path = self.out_dir / "snapshots" / f"step_{state.step:06d}.npz"
            checkpoint.save(path, {"theta": state.theta}, header)

    def restore(self, path) -> TrainState:
        """The state saved at ``path``; :class:`~.checkpoint.CheckpointError` if unusable."""
        template = self._tree(self.initial_state())
        tree, header = checkpoint.load(path, template, expect={"identity": self.config.identity()})
        best = header["best_score"]
        return TrainState(
            theta=jax.device_put(tree["theta"], self.replicated),
            outer_state=jax.device_put(tree["outer_state"], self.replicated),
            pool=jax.device_put(tree["pool"], self.by_member),
            step=int(header["step"]),
            best_score=float("inf") if best is None else float(best),
            best_step=int(header["best_step"]),
            elapsed_s=float(header["elapsed_s"]),
            cpu_s=float(header.get("cpu_s", 0.0)),
        )

    # --------------------------------------------------------------- metrics
    @property
    def metrics_path(self) -> pathlib.Path | None:
        return None if self.out_dir is None else self.out_dir / "metrics.jsonl"

    def _metrics_until(self, step: int) -> list[str]:
        """The lines of ``metrics.jsonl`` up to ``step`` (later ones were written by the
        run after its last checkpoint and are redone). A torn last line (the file is
        appended without fsync: power loss, disk full, a kill mid-write) is dropped with a
        warning; a damaged line before the last is a :class:`CheckpointError`."""
        path = self.metrics_path
        if path is None or not path.exists():
            return []
        records = read_metrics(path, raw=True)
        return [line for line, record in records if record["step"] <= step]

    def _write_metrics(self, lines: list[str]) -> None:
        """``metrics.jsonl`` := ``lines``, atomically (the records up to the checkpoint)."""
        path = self.metrics_path
        if not lines and not path.exists():
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(path)

    def _refuse_to_bury_a_run(self, resume: bool) -> None:
        """No ``checkpoint.npz`` here: starting afresh would truncate ``metrics.jsonl`` and
        overwrite ``best.npz`` and the snapshots, so refuse if any of them exists."""
        if self.out_dir is None or not self.out_dir.exists():
            return
        recorded = [
            name
            for name in ("metrics.jsonl", "best.npz", "snapshots")
            if (self.out_dir / name).exists()
        ]
        if recorded:
            verb = "cannot be resumed" if resume else "cannot start afresh"
            raise checkpoint.CheckpointError(
                f"{self.out_dir} {verb}: it has no checkpoint.npz but holds "
                f"{', '.join(recorded)} of an earlier run. To start afresh, pick another "
                "folder (or move those files away yourself); nothing was changed."
            )

    def _log(self, record: dict) -> None:
        if self.metrics_path is not None and jax.process_index() == 0:
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------- run
    def run(self, resume: bool = False, stop_at: int | None = None) -> TrainState:
        """Meta-train to ``outer_steps`` (or stop after outer step ``stop_at``, as if killed).

        ``resume``: continue from ``out_dir/checkpoint.npz``; in a folder without one,
        start afresh only if it holds no recorded data (else :class:`CheckpointError`).
        Without ``resume`` a folder holding a checkpoint is refused (no silent overwrite).

        Nothing in ``out_dir`` changes before every check has passed: a refused run
        (bad checkpoint, missing ``init_from``, ...) leaves the folder as it was.
        """
        ckpt = None if self.out_dir is None else self.out_dir / "checkpoint.npz"
        if ckpt is not None and not ckpt.exists():
            self._refuse_to_bury_a_run(resume)
        elif ckpt is not None and not resume:
            raise checkpoint.CheckpointError(
                f"{self.out_dir} already holds a checkpoint; resume it or pick another folder"
            )
        setup, setup_cpu = time.perf_counter(), time.process_time()
        if ckpt is not None and ckpt.exists():
            state = self.restore(ckpt)
            kept_metrics = self._metrics_until(state.step)
        else:
            state = self.initial_state()  # a missing init_from raises here, nothing written
            kept_metrics = []
        if self.out_dir is not None and jax.process_index() == 0:  # every check passed
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(
                json.dumps(self.config.to_dict(), indent=2) + "\n"
            )
            self._write_metrics(kept_metrics)
        # building (or restoring) the population counts as meta-training time too
        state = state._replace(
            elapsed_s=state.elapsed_s + time.perf_counter() - setup,
            cpu_s=state.cpu_s + time.process_time() - setup_cpu,
        )
        config, config_last = self.config, self.config.outer_steps
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config_last, initial=state.step, disable=not self.progress, desc="meta-train"
        )
        smoothed = None
        while state.step < config_last and (stop_at is None or state.step < stop_at):
            start, start_cpu = time.perf_counter(), time.process_time()
            state, record = self.outer_step(state)
            if config.eval_every and state.step % config.eval_every == 0:
                score = self.validate(state.theta)
                record["val_score"] = score
                self.save_snapshot(state, score)
                if score < state.best_score:
                    state = state._replace(best_score=score, best_step=state.step)
                    self.save(state, "best.npz", theta_only=True)
            state = state._replace(
                elapsed_s=state.elapsed_s + time.perf_counter() - start,
                cpu_s=state.cpu_s + time.process_time() - start_cpu,
            )
            record["elapsed_s"] = round(state.elapsed_s, 2)
            record["cpu_s"] = round(state.cpu_s, 2)
            self._log(record)
            if state.step % config.checkpoint_every == 0 or state.step == config_last:
                self.save(state)
            m = record["meta_loss"]
            smoothed = m if smoothed is None else 0.95 * smoothed + 0.05 * m
            bar.set_postfix(meta_loss=f"{smoothed:.4f}", best_val=f"{state.best_score:.3f}")
            bar.update(1)
        bar.close()
        if self.out_dir is not None and jax.process_index() == 0 and self.metrics_path.exists():
            plot_metrics(self.metrics_path, self.out_dir / "metrics.png")
        return state


def _message(err: Exception) -> str:
    """The text of an exception (a KeyError's ``str`` adds quotes)."""
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)


def _to_host(x) -> np.ndarray:
    """A numpy copy of ``x``, gathered from every host if it is sharded across hosts."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))


def load_theta(path) -> tuple[PyTree, MetaConfig]:
    """Meta-parameters and the config of the run that made them, from any of: a run
    directory (its ``best.npz``, else ``checkpoint.npz``), a checkpoint or snapshot
    ``.npz``, or exported weights (``NAME.npz`` / ``NAME.msgpack`` beside ``NAME.json``,
    whose ``meta_config`` is the run's config)."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "best.npz" if (path / "best.npz").exists() else path / "checkpoint.npz"
    if not path.exists():
        raise FileNotFoundError(f"no meta-parameters at {path}")
    if path.with_suffix(".json").exists() and not path.name.startswith(("best", "checkpoint")):
        _, theta, info = lopt_base.load_weights(path)
        if "meta_config" not in info:
            raise ValueError(f"{path.with_suffix('.json')} records no meta_config (its run)")
        return theta, MetaConfig.from_dict(info["meta_config"])
    header, _ = checkpoint.load_arrays(path)
    config = MetaConfig.from_dict(header["config"])
    lopt = lopt_base.build(config.optimizer, config.num_steps)
    template = {"theta": lopt.init_meta_params(jax.random.PRNGKey(0))}
    tree, _ = checkpoint.load(path, template, partial=True)
    return jax.tree.map(jnp.asarray, tree["theta"]), config


def read_metrics(path, raw: bool = False) -> list:
    """The records of a ``metrics.jsonl`` (``(line, record)`` pairs if ``raw``).

    A torn last line (a write cut short) is skipped with a warning; a line before it that
    is not a JSON record raises :class:`~.checkpoint.CheckpointError` naming it.
    """
    path = pathlib.Path(path)
    lines = [(i, line) for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    records = []
    for position, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("not a record with an integer 'step'")
        except ValueError as err:
            if position == len(lines) - 1:
                warnings.warn(
                    f"{path}: line {number} is torn (a write cut short: {err}); ignoring it",
                    stacklevel=2,
                )
                break
            raise checkpoint.CheckpointError(
                f"{path}: line {number} is not a metrics record ({err}): {line[:80]!r}"
            ) from None
        records.append((line, record) if raw else record)
    return records


def plot_metrics(metrics_path, figure_path) -> None:
    """Meta-loss per outer step (and its moving average) beside the validation score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    steps = np.array([r["step"] for r in records])
    meta = np.array([r["meta_loss"] for r in records])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax0.plot(steps, meta, lw=0.5, alpha=0.5, label="meta-loss")
    window = max(1, len(meta) // 20)
    if len(meta) >= window:
        smooth = np.convolve(meta, np.ones(window) / window, mode="valid")
        ax0.plot(steps[window - 1 :], smooth, label=f"moving average ({window})")
    ax0.set(xlabel="outer step", ylabel="mean log(l_t / l_0) over a segment", title="training")
    ax0.legend()
    val = [(r["step"], r["val_score"]) for r in records if "val_score" in r]
    if val:
        ax1.plot(*zip(*val), "o-")
    ax1.set(xlabel="outer step", ylabel="log(final / initial loss)", title="validation tasks")
    fig.tight_layout()
    fig.savefig(figure_path, dpi=100, metadata={"Software": None})
    plt.close(fig)

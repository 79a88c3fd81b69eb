r"""A population of inner trainings, advanced one segment per outer step, sharded.

**Tasks and shapes.** A population is ``num_tasks`` tasks sampled from a family, each run
by ``members_per_task`` persistent members. Tasks of one family can differ in shape (depth,
width, batch size), and ``jax.vmap`` needs one shape, so the population is grouped *by
task*: the members of one task (same architecture, different initialisations, minibatches
and phases of training) are vmapped; the groups are unrolled one after the other inside
one jitted program, and their meta-gradients averaged. A member keeps its task for the
whole of meta-training (a restart draws new initial weights and a new data stream), so
the compiled program never changes; diversity comes from the number of tasks.

**Families.** ``family`` is a registry name (``"mnist1d_mlp"``) or a dict that narrows
one: ``{"name": "mnist1d_mlp", "choices": {"hidden_sizes": [[32], [64]]}, "fixed":
{"batch_size": 128}}`` draws the registry's settings, then replaces each ``choices`` key
by one of its values (uniformly) and each ``fixed`` key by its value. A *list* of such
specs is a mixture: task ``i`` of :func:`sample_tasks` comes from spec ``i mod len``, so
every family gets its share of the training tasks.

**Whole episodes over a range of horizons** (``estimator="es_sign"``, the v7 recipe).
Every outer step, task ``g`` draws a horizon :math:`N_g` log-uniform on ``horizons``
(:func:`~minivelo.meta.unroll.sample_horizon`) and each of its members runs one
antithetic pair of *whole* inner trainings of :math:`N_g` steps from a fresh
initialisation, both copies with the same initial weights, minibatches, task
augmentation (:func:`minivelo.tasks.augment.sample_augmentation`, if ``augment`` is set)
and horizon; :func:`~minivelo.meta.estimators.antithetic_es_sign` turns the pairs into the
estimate. The learned optimizer is rebuilt inside the traced program for :math:`N_g`
(``learned_optimizers.build(lopt.config, N_g)``), so :math:`N_g` is data and each task
compiles once. Nothing persists between outer steps but a count of episodes per member.

**Sharding.** Every array of the population has the member axis first. With ``D`` visible
devices (``members_per_task`` a multiple of ``D``) the members are laid out over a 1-D
``jax.sharding.Mesh`` named ``"members"``; :math:`\theta`, the keys and the gradient are
replicated. ``jax.jit`` then runs each device's members locally and all-reduces the
gradient mean; nothing in the math changes, so one device and four give the same numbers
(to float rounding of the reduction).

**Multi-host with jax.distributed.** The same program runs on several hosts (e.g. 4 hosts
with 8 GPUs each): run ``python -m minivelo meta-train --distributed --config ...`` on
every host. ``--distributed`` calls ``jax.distributed.initialize()`` before anything else
touches JAX; on a SLURM cluster or Cloud TPU it finds the coordinator itself, elsewhere add
``--coordinator host0:1234 --num-processes 4 --process-id i`` on host ``i`` (from Python:
call ``jax.distributed.initialize(...)`` before building a :class:`Population`).
``jax.devices()`` then lists all 32 devices, the mesh spans them, and each host computes
its own members. Every host holds the same replicated :math:`\theta`; at a
checkpoint the members are gathered from all hosts and process 0 alone writes, so
``--out`` should be a filesystem every host sees (``--resume`` reads it on every host).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from minivelo import tasks as task_registry
from minivelo.lopt import base as learned_optimizers
from minivelo.lopt.base import LearnedOptimizer
from minivelo.meta import estimators, unroll
from minivelo.tasks import augment as task_augment
from minivelo.tasks import registry
from minivelo.tasks.base import Task, TaskFamily

PyTree = Any
MEMBERS_AXIS = "members"


# -------------------------------------------------------------------------- tasks


class FamilyMixture(TaskFamily):
    """Several families taken in turn by :func:`sample_tasks` (at random by ``sample``)."""

    def __init__(self, families: list[TaskFamily]):
        def sample(key) -> Task:
            pick = registry.rng_from_key(jax.random.fold_in(key, 7)).integers(len(families))
            return families[pick].sample(key)

        super().__init__("+".join(f.name for f in families), sample)
        object.__setattr__(self, "families", tuple(families))


def family_from_spec(spec: str | dict | list) -> TaskFamily:
    """A registry family, one narrowed by ``choices`` / ``fixed``, or a list of them."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError("a family list must name at least one family")
        return FamilyMixture([family_from_spec(s) for s in spec])
    if isinstance(spec, str):
        return task_registry.get_family(spec)
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"family must be a name or a dict with 'name', got {spec!r}")
    unknown = sorted(set(spec) - {"name", "choices", "fixed"})
    if unknown:
        raise ValueError(f"unknown family key(s) {unknown}; use name, choices, fixed")
    name = spec["name"]
    if name not in registry.ENTRIES:
        raise ValueError(f"unknown task family {name!r}; choose one of {list(registry.ENTRIES)}")
    entry = registry.ENTRIES[name]
    choices, fixed = spec.get("choices", {}), spec.get("fixed", {})
    for key, values in choices.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"family choices for {key!r} must be a non-empty list")

    def as_setting(value):
        return tuple(value) if isinstance(value, list) else value

    def sample(key) -> Task:
        rng = registry.rng_from_key(key)
        settings = entry.sample_config(rng)
        for k in sorted(choices):
            settings[k] = as_setting(choices[k][rng.integers(len(choices[k]))])
        settings.update({k: as_setting(v) for k, v in fixed.items()})
        return task_registry.build(name, **settings)

    return TaskFamily(name, sample)


def sample_tasks(family: TaskFamily, seed: int, num: int, stream: int = 0) -> list[Task]:
    """``num`` tasks, deterministic in ``(seed, stream)``; streams keep training,
    validation and test tasks apart (0, 1 and 2 by convention)."""
    base = jax.random.fold_in(jax.random.PRNGKey(seed), stream)
    families = getattr(family, "families", None)
    if families:  # a mixture: task i from family i mod len, each with its own stream
        return [families[i % len(families)].sample(jax.random.fold_in(base, i)) for i in range(num)]
    return [family.sample(jax.random.fold_in(base, i)) for i in range(num)]


# --------------------------------------------------------------------- sharding


def population_mesh(devices=None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all visible), axis ``"members"``."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (MEMBERS_AXIS,))


# -------------------------------------------------------------------- population


class Population:
    """The tasks, the learned optimizer and the estimator; ``init`` and ``step`` are jitted.

    ``step(theta, pool, key) -> (gradient, metrics, pool)``: one segment for every member,
    the meta-gradient estimate averaged over all members, restarts of finished or
    non-finite members. ``pool`` is a tuple with one entry per task: its members'
    :class:`~minivelo.meta.unroll.InnerState` (``tbptt``, ``es``) or
    :class:`~minivelo.meta.estimators.PESState` (``pes``).
    """

    def __init__(
        self,
        task_list: list[Task],
        lopt: LearnedOptimizer,
        *,
        estimator: str = "es",
        members_per_task: int = 4,
        num_steps: int = 500,
        unroll_length: int = 25,
        loss_cap: float = 1.0,
        sigma: float = 0.01,
        mesh: Mesh | None = None,
        horizons: tuple[int, int] | None = None,
        augment: dict | None = None,
        trainable: list[str] | None = None,
        episode_tail: float = unroll.TAIL_FRACTION,
    ):
        if estimator not in estimators.ESTIMATORS:
            raise ValueError(
                f"unknown estimator {estimator!r}; choose one of {estimators.ESTIMATORS}"
            )
        if num_steps % unroll_length:
            raise ValueError(
                f"num_steps {num_steps} must be a multiple of unroll_length {unroll_length}"
            )
        self.tasks, self.lopt, self.estimator = list(task_list), lopt, estimator
        self.members_per_task, self.num_steps = members_per_task, num_steps
        self.unroll_length, self.loss_cap, self.sigma = unroll_length, loss_cap, sigma
        if horizons is None:
            horizons = (num_steps, num_steps)
        shortest, longest = (int(h) for h in horizons)
        if not 1 <= shortest <= longest:
            raise ValueError(
                f"horizons must be [shortest, longest], 1 <= shortest <= longest; got {horizons}"
            )
        self.horizons = (shortest, longest)
        self.augment = None if augment is None else task_augment.AugmentSettings.from_dict(augment)
        if estimator != "es_sign" and (augment is not None or self.horizons != (num_steps,) * 2):
            raise ValueError("horizons and augment need estimator 'es_sign' (whole episodes)")
        if estimator != "es_sign" and trainable is not None:
            raise ValueError("trainable (a subspace of theta) needs estimator 'es_sign'")
        self.subspace = estimators.Subspace(trainable)
        self.episode_tail = float(episode_tail)
        self.mesh = population_mesh() if mesh is None else mesh
        num_devices = self.mesh.devices.size
        if members_per_task % num_devices:
            raise ValueError(
                f"members_per_task ({members_per_task}) must be a multiple of the "
                f"{num_devices} devices the members are sharded over"
            )
        replicated = NamedSharding(self.mesh, P())
        by_member = NamedSharding(self.mesh, P(MEMBERS_AXIS))
        # One jitted program per task (shapes differ between tasks). Separate programs
        # compile much faster than one program holding every task, and run as fast.
        self._init_group = [
            jax.jit(
                functools.partial(self._init_one, task),
                in_shardings=(replicated, replicated),
                out_shardings=by_member,
            )
            for task in self.tasks
        ]
        self._step_group = [
            jax.jit(
                functools.partial(self._step_one, task),
                in_shardings=(replicated, by_member, replicated),
                out_shardings=(replicated, replicated, replicated, by_member),
            )
            for task in self.tasks
        ]
        self._combine = jax.jit(_mean_of_trees, out_shardings=replicated)
        self._horizons = jax.jit(self.horizons_at)

    @property
    def num_members(self) -> int:
        return len(self.tasks) * self.members_per_task

    def _unroll(self, task: Task):
        return functools.partial(
            unroll.unroll_meta_loss, task, self.lopt, length=self.unroll_length, cap=self.loss_cap
        )

    def init(self, theta: PyTree, key: jax.Array) -> tuple:
        """The members of every task, staggered; one entry per task."""
        return tuple(
            init(theta, jax.random.fold_in(key, g)) for g, init in enumerate(self._init_group)
        )

    def step(self, theta: PyTree, pool: tuple, key: jax.Array) -> tuple[PyTree, dict, tuple]:
        """One segment for every member: ``(mean meta-gradient, metrics, new pool)``."""
        outs = [
            step(theta, group, jax.random.fold_in(key, g))
            for g, (step, group) in enumerate(zip(self._step_group, pool))
        ]
        gradient = self._combine([o[0] for o in outs])
        per_task = jnp.stack([o[1] for o in outs])
        metrics = {
            "meta_loss": jnp.mean(per_task),
            "meta_loss_per_task": per_task,
            "restarts": sum(o[2] for o in outs),
        }
        if self.estimator == "es_sign":
            metrics["horizons"] = self._horizons(key)
        return gradient, metrics, tuple(o[3] for o in outs)

    def horizons_at(self, key: jax.Array) -> jax.Array:
        """``es_sign``: the horizon of each task at the outer step with ``key`` ([tasks])."""
        return jnp.stack(
            [self._horizon(jax.random.fold_in(key, g)) for g in range(len(self.tasks))]
        )

    def _horizon(self, task_key: jax.Array) -> jax.Array:
        return unroll.sample_horizon(jax.random.fold_in(task_key, HORIZON_STREAM), *self.horizons)

    def _init_one(self, task: Task, theta: PyTree, key: jax.Array):
        if self.estimator == "es_sign":  # nothing persists: count each member's episodes
            return jnp.zeros((self.members_per_task,), jnp.int32)
        members = unroll.init_members(
            task, self.lopt, theta, key, self.members_per_task, self.num_steps, self.unroll_length
        )
        return estimators.pes_init(members, theta) if self.estimator == "pes" else members

    def _restart(self, task, theta, states, reset):
        restart = functools.partial(
            unroll.reset_where, task, self.lopt, theta, num_steps=self.num_steps
        )
        return jax.vmap(lambda s, r: restart(s, r))(states, reset)

    def _step_one(self, task: Task, theta: PyTree, group, key: jax.Array):
        """One task's members: ``(gradient, mean meta-loss, restarts, new group)``."""
        if self.estimator == "es_sign":
            return self._step_whole_episodes(task, theta, group, key)
        run = self._unroll(task)
        keys = jax.random.split(key, self.members_per_task)
        if self.estimator == "tbptt":
            est = estimators.truncated_backprop(run, theta, group)
        elif self.estimator == "es":
            est = estimators.antithetic_es(run, theta, group, keys, self.sigma)
        else:
            est = estimators.persistent_es(run, theta, group, keys, self.sigma)
        if self.estimator == "pes":
            new = est.states
            reset = jax.vmap(unroll.needs_reset)(new.positive) | jax.vmap(unroll.needs_reset)(
                new.negative
            )
            fresh = self._restart(task, theta, new.positive, reset)
            accumulated = jax.tree.map(
                lambda a: _where_member(reset, jnp.zeros_like(a), a), new.accumulated
            )
            negative = jax.tree.map(lambda f, n: _where_member(reset, f, n), fresh, new.negative)
            group = estimators.PESState(fresh, negative, accumulated)
        else:
            reset = jax.vmap(unroll.needs_reset)(est.states)
            group = self._restart(task, theta, est.states, reset)
        return est.gradient, jnp.mean(est.meta_losses), jnp.sum(reset), group

    def _step_whole_episodes(self, task: Task, theta: PyTree, episodes, key: jax.Array):
        """``es_sign``: one antithetic pair of whole episodes per member, horizon drawn."""
        num_steps = self._horizon(key)
        lopt = learned_optimizers.build(self.lopt.config, num_steps)
        member_keys = jax.random.split(
            jax.random.fold_in(key, MEMBER_STREAM), self.members_per_task
        )
        noise_keys = jax.random.split(jax.random.fold_in(key, NOISE_STREAM), self.members_per_task)

        def run(theta, member_key):
            aug_key, init_key, data_key = jax.random.split(member_key, 3)
            episode_task = (
                task
                if self.augment is None
                else task_augment.sample_augmentation(aug_key, task, self.augment)
            )
            loss = unroll.episode_meta_loss(
                episode_task,
                lopt,
                theta,
                num_steps,
                init_key,
                data_key,
                self.loss_cap,
                tail_fraction=self.episode_tail,
            )
            return loss, member_key

        space = self.subspace  # ES perturbs only the trainable leaves

        def run_sub(sub, member_key):
            return run(space.merge(theta, sub), member_key)

        est = estimators.antithetic_es_sign(
            run_sub, space.select(theta), member_keys, noise_keys, self.sigma
        )
        restarts = jnp.zeros((), jnp.int32)
        gradient = space.embed(theta, est.gradient)
        return gradient, jnp.mean(est.meta_losses), restarts, episodes + 1


# Streams of an outer step's per-task key (es_sign): horizon, members, perturbations.
HORIZON_STREAM, MEMBER_STREAM, NOISE_STREAM = 0, 1, 2


def _mean_of_trees(trees: list) -> PyTree:
    return jax.tree.map(lambda *xs: sum(xs) / len(xs), *trees)


def _where_member(flag: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """``where`` with a per-member flag broadcast over the member's array."""
    return jnp.where(flag.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

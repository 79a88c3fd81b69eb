"""Training tasks and task families, all offline and deterministic.

>>> import jax
>>> from minivelo import tasks
>>> task = tasks.get_task("digits_mlp")
>>> params = task.init(jax.random.PRNGKey(0))
>>> loss = task.loss(params, task.sample_batch(jax.random.PRNGKey(1)))
>>> loss.shape, bool(loss > 0)
((), True)

Fixed tasks (``list_tasks()``): digits_mlp, mnist1d_mlp, digits_cnn, text_lstm,
text_transformer, digits_autoencoder, quadratic, rosenbrock, logistic. Families
(``list_families()``) add mnist1d_autoencoder and ``mixture`` (any family).
"""

from minivelo.tasks import datasets
from minivelo.tasks.base import Task, TaskFamily
from minivelo.tasks.registry import build, get_family, get_task, list_families, list_tasks

__all__ = [
    "Task",
    "TaskFamily",
    "build",
    "datasets",
    "get_family",
    "get_task",
    "list_families",
    "list_tasks",
]

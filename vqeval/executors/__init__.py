"""Where videos are scored: this machine's process pool (default) or a Ray
cluster. Every executor takes the same work items and reports each video
exactly once, so the batch runner (progress, cache, reports) is the same for all.

    score_batch(paths, executor="local")            # process pool (default)
    score_batch(paths, executor="ray")              # local Ray cluster
    score_batch(paths, executor=RayExecutor("auto"))  # running cluster
"""

from __future__ import annotations

from vqeval.executors.base import Done, Executor, WorkItem, one_cpu, score_one, worker_died

#: Names accepted by :func:`make_executor` (and ``score_batch(executor=...)``).
EXECUTORS: tuple[str, ...] = ("local", "ray")

__all__ = [
    "EXECUTORS",
    "Done",
    "Executor",
    "WorkItem",
    "make_executor",
    "one_cpu",
    "score_one",
    "worker_died",
]


def make_executor(name: str, *, workers: int = 1) -> Executor:
    """An executor by name.

    Args:
        name: ``"local"`` (process pool, :class:`~vqeval.executors.local.LocalExecutor`)
            or ``"ray"`` (a local Ray cluster, :class:`~vqeval.executors.ray.RayExecutor`;
            construct one yourself to connect to a running cluster).
        workers: worker processes (local) or CPUs of the local Ray cluster;
            0 = one per available CPU core.

    Raises:
        ValueError: unknown name.
    """
    if name == "local":
        from vqeval.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from vqeval.executors.ray import RayExecutor

        return RayExecutor(None, workers=workers)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")

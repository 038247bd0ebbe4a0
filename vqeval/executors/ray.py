"""Score videos as Ray tasks, on an existing cluster or a local one.

Each video is one task asking for one CPU (and ``num_gpus`` when the
configuration runs a backbone on CUDA). Tasks are submitted in a bounded
window (a few per cluster CPU), so a list of millions of paths never sits in
the scheduler at once, and results come back in order of completion.

Faults: a task whose worker process or node dies is retried by Ray up to
``max_retries`` times (in a fresh worker, on any node); after that the video
is one error row saying the worker died, and the other videos continue. An
exception inside scoring is never retried (it is a property of the video):
scoring already turns it into an error row.

Paths: local paths are sent to the workers as absolute paths, so every node
must see the same files at the same place (a shared file system); URLs and
object-store paths (``s3://...``) are read by the workers through fsspec.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from vqeval.config import ScoreConfig
from vqeval.executors.base import Done, WorkItem, error_row, score_one, worker_died
from vqeval.results import ConfigError, VideoResult

#: Retries of a task whose worker process or node died (then an error row).
DEFAULT_MAX_RETRIES = 2
#: Tasks in flight per cluster CPU (keeps every CPU busy between round trips).
TASKS_PER_CPU = 2
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[^/\s:\[\]@?#]+)"  # a name, IPv4 or [IPv6]
#: ``auto``, ``local``, ``ray://HOST[:PORT]`` or ``HOST:PORT`` (PORT: digits, checked 1-65535).
_ADDRESS = re.compile(
    rf"^(?:auto|local|ray://{_HOST}(?::(?P<cport>\d{{1,5}}))?|{_HOST}:(?P<port>\d{{1,5}}))$"
)
_INSTALL = "the Ray executor needs the ray package: pip install 'vqeval[ray]'"


def check_address(address: str | None) -> str | None:
    """``address`` if it names a Ray cluster: ``None``/``"local"`` (start a
    local one), ``"auto"`` (the cluster this machine belongs to),
    ``"ray://HOST:PORT"`` (Ray Client, default port 10001) or ``"HOST:PORT"``
    (the head node's GCS, default port 6379).

    Raises:
        ConfigError: anything else, at once (e.g. a video path given right
            after ``--ray``, or ``ray://localhost:abc``: a port that is not
            1-65535, which Ray would retry for a minute).
    """
    if address is None or address == "":
        return None
    m = _ADDRESS.match(address)
    port = (m.group("cport") or m.group("port")) if m else None
    if m and (port is None or 1 <= int(port) <= 65535):
        return address
    raise ConfigError(
        f"--ray {address!r} is not a Ray address (auto, local, ray://HOST:PORT or "
        "HOST:PORT); to start a local cluster write --ray=local or put --ray after the paths"
    )


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast (one line) when nothing listens at a ``HOST:PORT`` or
    ``ray://HOST:PORT`` address; Ray itself would keep retrying for minutes.

    Raises:
        ConfigError: the TCP connection is refused or times out (``timeout_s`` seconds).
    """
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return  # e.g. "auto": Ray finds the address itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        what = (
            "Ray Client server (port 10001 by default)"
            if address.startswith("ray://")
            else ("head node's GCS (port 6379 by default)")
        )
        raise ConfigError(
            f"--ray {address}: nothing answers there ({exc.strerror or exc}); is the cluster up "
            f"and is this its {what}?"
        ) from None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(_INSTALL) from None
    return ray


def _worker_task(
    score: Callable[[str, ScoreConfig], VideoResult], path: str, config: ScoreConfig
) -> VideoResult:
    """What a Ray worker runs for one video (module-level: pickles by reference)."""
    from vqeval.executors.base import one_cpu

    one_cpu()  # one task = one CPU of the cluster
    return score(path, config)


#: Tries of a Ray Client (``ray://``) connection. The head starts a server
#: process for each client; when that start fails or misses its deadline, the
#: next try gets a new server on the next port of the head's range.
CLIENT_TRIES = 2


def _connect(ray: Any, address: str, options: dict[str, Any]) -> None:
    """``ray.init(address)``, retrying a failed Ray Client connection."""
    tries = CLIENT_TRIES if address.startswith("ray://") else 1
    for attempt in range(tries):
        try:
            ray.init(address=address, **options)
            return
        except ConnectionError:  # ConnectionAbortedError: the client's server did not start
            if attempt + 1 == tries:
                raise
            with contextlib.suppress(Exception):
                ray.shutdown()


#: Loopback address a private local cluster binds to on Linux. Ray rewrites
#: ``127.0.0.1``/``localhost`` to the host's outward address (so that other nodes
#: could join); any other address of 127.0.0.0/8 is kept, and Linux routes the
#: whole range over the loopback interface, so a local cluster's traffic never
#: leaves ``lo``.
LOCAL_NODE_IP = "127.0.0.2"


def local_cluster_options() -> dict[str, Any]:
    """``ray.init`` options that keep a single-machine cluster on loopback.

    Linux only: elsewhere Ray already uses ``127.0.0.1`` for a local cluster
    (macOS and Windows do not configure the rest of 127.0.0.0/8 by default).
    """
    return {"_node_ip_address": LOCAL_NODE_IP} if sys.platform.startswith("linux") else {}


class RayExecutor:
    """Score videos as Ray tasks.

    Args:
        address: ``None`` or ``"local"`` = start a local Ray cluster on this
            machine (stopped again at the end), ``"auto"``, ``"ray://HOST:PORT"``
            or ``"HOST:PORT"`` = connect to a running cluster (see
            :func:`check_address`). When this process is already connected
            (``ray.init`` was called), that connection is used as is.
        workers: CPUs of a local cluster (0 = all cores of this machine);
            ignored when connecting to a running cluster.
        max_retries: retries of a video whose worker process or node died
            (>= 0); it is tried at most ``max_retries + 1`` times.
        num_gpus: GPUs each task asks for; ``None`` = 1 when the
            configuration's ``device`` is CUDA, else 0.
        score: the per-video function run on the workers (must be importable
            or picklable there); the default reads local paths and URLs.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int = 0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        num_gpus: float | None = None,
        score: Callable[[str, ScoreConfig], VideoResult] = score_one,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.address = check_address(address)
        self.workers = workers
        self.max_retries = max_retries
        self.num_gpus = num_gpus
        self.score = score
        self._ray: Any = None
        self._owned = False

    def start(self, n_items: int) -> None:
        """Connect to (or start) the cluster.

        Raises:
            ConfigError: ray is not installed, or the cluster cannot be reached.
        """
        ray = _import_ray()
        self._ray = ray
        if ray.is_initialized():
            return
        quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if self.address is None or self.address == "local":
                ray.init(
                    address="local",
                    num_cpus=self.workers or None,
                    include_dashboard=False,
                    **local_cluster_options(),
                    **quiet,
                )
            else:
                _check_reachable(self.address)
                _connect(ray, self.address, quiet)
        except ConfigError:
            raise
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError, ...
            with contextlib.suppress(Exception):  # a half-made connection would block the next
                ray.shutdown()
            where = self.address or "a local cluster"
            if self.address == "auto" and "Could not find any running Ray" in str(exc):
                # Ray's own advice names an `--address` flag VQeval does not have
                raise ConfigError(
                    "--ray auto: no running Ray cluster found on this machine (none started "
                    "with `ray start --head`, RAY_ADDRESS unset); start one, give its address "
                    "(--ray HOST:6379 or --ray ray://HOST:10001), or use --ray alone for a "
                    "local cluster"
                ) from None
            raise ConfigError(
                f"--ray: cannot start or reach {where}: {error_row('', exc).error}"
            ) from None
        self._owned = True

    def _gpus(self, config: ScoreConfig) -> float:
        if self.num_gpus is not None:
            return self.num_gpus
        device = str(getattr(config, "device", "") or "")
        return 1.0 if device.startswith("cuda") else 0.0

    def run(self, items: Sequence[WorkItem], config: ScoreConfig, done: Done) -> None:
        """Score ``items`` as tasks; ``done`` is called in order of completion."""
        ray = self._ray
        task = ray.remote(_worker_task).options(
            num_cpus=1,
            num_gpus=self._gpus(config),
            max_retries=self.max_retries,
            retry_exceptions=False,
        )
        score_ref, config_ref = ray.put(self.score), ray.put(config)
        cpus = int(ray.cluster_resources().get("CPU", 1) or 1)
        window = max(4, TASKS_PER_CPU * cpus)
        queue = list(reversed(items))  # pop() from the end = first item first
        inflight: dict[Any, WorkItem] = {}
        try:
            while queue or inflight:
                while queue and len(inflight) < window:
                    it = queue.pop()
                    inflight[task.remote(score_ref, _target(it.path), config_ref)] = it
                ready, _ = ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    it = inflight.pop(ref)
                    done(it, replace(self._collect(ref, it.path), path=it.path))
        finally:
            for ref in inflight:  # Ctrl-C or an error in `done`: stop the rest
                with contextlib.suppress(Exception):  # finished, or the cluster is gone
                    ray.cancel(ref, force=True)

    def _collect(self, ref: Any, path: str) -> VideoResult:
        """The result of one task, or its error row."""
        exc_mod = self._ray.exceptions
        died = tuple(
            getattr(exc_mod, n)
            for n in ("WorkerCrashedError", "NodeDiedError", "OwnerDiedError", "ObjectLostError")
            if hasattr(exc_mod, n)
        )
        try:
            return self._ray.get(ref)
        except died:
            return error_row(path, worker_died(self.max_retries + 1))
        except exc_mod.RayTaskError as exc:  # raised by scoring itself (not a video error)
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
            return error_row(path, cause)
        except exc_mod.RayError as exc:
            return error_row(path, exc)

    def close(self) -> None:
        """Disconnect (and stop a local cluster this executor started)."""
        if self._owned and self._ray is not None:
            self._ray.shutdown()
        self._owned = False


def _target(path: str) -> str:
    """What a worker opens: URLs as they are, local paths made absolute (a
    worker's current folder is not this process's)."""
    from vqeval.remote import is_url

    return path if is_url(path) else os.path.abspath(path)

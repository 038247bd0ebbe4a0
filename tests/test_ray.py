"""`vqeval score --ray` on a real local Ray cluster: a head node and one
worker node started with `ray start` (as a user would), loopback only (127.0.0.2), one
CPU each. Scores equal a local run; a worker process killed mid-run loses no
row. Skipped when ray is not installed (`pip install -e ".[ray]"`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from vqeval.batch import score_batch
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.executors.ray import LOCAL_NODE_IP, RayExecutor
from vqeval.pipeline import score_video
from vqeval.report import jsonio
from vqeval.results import VideoResult

from .conftest import SAMPLES

ray = pytest.importorskip("ray", reason="ray not installed (pip install -e '.[ray]')")
pytestmark = [pytest.mark.ray, pytest.mark.slow]  # starts local Ray clusters (~25 s each)


DIMS = ("freeze", "repetition")
CFG = ScoreConfig(dimensions=DIMS)
NAMES = ("healthy_pan_rocket.mp4", "frozen_camera.mp4", "loop_coffee.mp4", "victim.mp4")
#: Environment of the cluster and of this process while connected: no token
#: authentication (a test cluster on loopback), no usage reporting.
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    # Ray Client's per-client server start deadline (default 30 s); a miss is retried
    # by RayExecutor on a new server (seen on a busy 2-core machine under pytest -n 2)
    "RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S": "45",
}
#: The cluster's address: loopback, but not 127.0.0.1, which Ray rewrites to the
#: host's outward address (see vqeval.executors.ray.LOCAL_NODE_IP).
HOST = LOCAL_NODE_IP


@dataclass(frozen=True)
class Cluster:
    address: str  # HOST:PORT of the head node's GCS
    client: str  # ray://HOST:PORT of its Ray Client server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _ray_start(args: list[str], env: dict[str, str]) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    cmd = [str(ray_cli) if ray_cli.exists() else "ray", "start", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _stop_cluster(temp_dir: str, gcs_port: int) -> None:
    """Stop this cluster's processes only, by pid: those whose command line
    names its temporary folder or its GCS port, and their descendants.
    (`ray stop --force` would also stop any other Ray cluster of this
    machine, e.g. a parallel test run's.)"""
    me = os.getpid()
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
    tree = {p for p in pids if temp_dir in _cmdline(p) or f":{gcs_port} " in _cmdline(p) + " "}
    grew = True
    while grew:
        children = {p for p in pids if p not in tree and _parent(p) in tree}
        tree |= children
        grew = bool(children)
    for pid in tree:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _cluster(worker_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Head + one worker node (1 CPU, 200 MB object store each) on loopback;
    ``worker_env`` is added to the worker node's environment (its raylet and
    worker processes inherit it)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the cluster fixture reads /proc to stop its processes")
    with _one_cluster_per_machine(), _started(worker_env) as c:
        yield c


_held = 0  # clusters this process runs (the lock is taken by the first)


@contextlib.contextmanager
def _one_cluster_per_machine() -> Iterator[None]:
    """Under ``pytest -n 2`` another worker may start its own cluster: two on a
    2-core machine starve each other (Ray Client's server then misses its start
    deadline). A file lock lets one worker's clusters run at a time; within one
    process it is re-entrant (the node test's cluster beside the module's)."""
    global _held
    if _held:
        _held += 1
        try:
            yield
        finally:
            _held -= 1
        return
    with open(Path(tempfile.gettempdir()) / "vqeval-ray-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _held = 1
        try:
            yield
        finally:
            _held = 0
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _started(worker_env: dict[str, str] | None) -> Iterator[Cluster]:
    # short folder: Ray's unix sockets live under it (path limit 107 bytes)
    temp_dir = tempfile.mkdtemp(prefix="vqray-", dir="/tmp")
    gcs, client = _free_port(), _free_port()
    # a dead node is declared dead after ~1.5 s instead of ~30 s
    health = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
    env = {**os.environ, **RAY_ENV, **health, "OMP_NUM_THREADS": "1"}
    node = [
        "--num-cpus=1",
        "--object-store-memory=200000000",
        f"--node-ip-address={HOST}",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    try:
        head = [f"--port={gcs}", f"--ray-client-server-port={client}", "--include-dashboard=false"]
        _ray_start(["--head", *head, *node, f"--dashboard-agent-listen-port={_free_port()}"], env)
        _ray_start(
            [f"--address={HOST}:{gcs}", *node, f"--dashboard-agent-listen-port={_free_port()}"],
            {**env, **(worker_env or {})},
        )
        yield Cluster(address=f"{HOST}:{gcs}", client=f"ray://{HOST}:{client}")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop_cluster(temp_dir, gcs)
        time.sleep(0.5)
        shutil.rmtree(temp_dir, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The module's cluster: head + one worker node on loopback."""
    with _cluster() as c:
        yield c


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("four")
    for name, src in zip(
        NAMES,
        ("healthy_pan_rocket.mp4", "frozen_camera.mp4", "loop_coffee.mp4", "decay_hubble.mp4"),
    ):
        shutil.copy(SAMPLES / src, d / name)
    return d


def same(r: VideoResult) -> tuple[object, ...]:
    """What must not change between a local and a Ray run."""
    dims = {k: (d.score, d.raw) for k, d in r.dimensions.items()}
    return (r.path, r.status, r.error, r.composite, r.verdict, r.flags, r.flag_details, dims)


def test_cluster_has_two_nodes(cluster: Cluster) -> None:
    ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        assert ray.cluster_resources().get("CPU") == 2
    finally:
        ray.shutdown()


def test_ray_run_equals_a_local_run_on_the_samples(cluster: Cluster, tmp_path: Path) -> None:
    local = score_batch([str(SAMPLES)], CFG, workers=2, cache=False, progress=False)
    js, cs = tmp_path / "ray.json", tmp_path / "ray.csv"
    args = ["score", str(SAMPLES), "-d", ",".join(DIMS), "--no-cache", "--no-progress", "-q"]
    r = CliRunner().invoke(
        main, [*args, "--ray", cluster.address, "--json", str(js), "--csv", str(cs)]
    )
    assert r.exit_code == (0 if all(x.ok for x in local) else 1), r.stderr
    remote = jsonio.read_results(js)
    assert [same(x) for x in remote] == [same(x) for x in local]
    assert len(cs.read_text().splitlines()) == len(local) + 1  # header + one row per video
    assert not ray.is_initialized()  # the CLI disconnected


@pytest.mark.parametrize("how", ["ray-client", "auto"])
def test_ray_client_and_auto_addresses(cluster: Cluster, four: Path, how: str, monkeypatch) -> None:
    if how == "auto":
        monkeypatch.setenv("RAY_ADDRESS", cluster.address)  # what `auto` finds on a node
    address = cluster.client if how == "ray-client" else "auto"
    # three local paths and one URL, read by the worker through fsspec
    inputs = [str(four / n) for n in NAMES[:3]] + [(four / NAMES[3]).as_uri()]
    rs = score_batch(inputs, CFG, executor=RayExecutor(address), cache=False, progress=False)
    local = score_batch(inputs, CFG, cache=False, progress=False)
    assert rs[-1].path.startswith("file://") and rs[-1].ok
    assert [same(x) for x in rs] == [same(x) for x in local]


def _kill_once(path: str, config: ScoreConfig) -> VideoResult:  # runs on a Ray worker
    marker = path + ".killed"
    if path.endswith("victim.mp4") and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return score_video(path, config)


def _kill_always(path: str, config: ScoreConfig) -> VideoResult:  # runs on a Ray worker
    if path.endswith("victim.mp4"):
        os.kill(os.getpid(), signal.SIGKILL)
    return score_video(path, config)


@pytest.fixture
def by_value() -> Iterator[None]:
    """Ship this module's functions to the workers by value (tests/ is not
    importable there)."""
    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)
    yield
    ray.cloudpickle.unregister_pickle_by_value(module)


def test_killed_worker_process_loses_no_row(cluster: Cluster, four: Path, by_value) -> None:
    marker = four / "victim.mp4.killed"
    marker.unlink(missing_ok=True)
    ex = RayExecutor(cluster.address, score=_kill_once)
    rs = score_batch([four], CFG, executor=ex, cache=False, progress=False)
    assert marker.exists()  # the worker scoring the victim did die
    assert sorted(Path(r.path).name for r in rs) == sorted(NAMES)
    assert all(r.ok for r in rs), [(r.path, r.error) for r in rs]


def test_a_video_that_always_kills_its_worker_is_one_error_row(
    cluster: Cluster, four: Path, by_value
) -> None:
    ex = RayExecutor(cluster.address, max_retries=1, score=_kill_always)
    rs = score_batch([four], CFG, executor=ex, cache=False, progress=False)
    by = {Path(r.path).name: r for r in rs}
    assert len(rs) == len(NAMES)
    assert by["victim.mp4"].status == "error"
    assert (
        "worker process died" in by["victim.mp4"].error and "tried 2 time" in by["victim.mp4"].error
    )
    assert all(by[n].ok for n in NAMES if n != "victim.mp4")


def _kill_node_once(path: str, config: ScoreConfig) -> VideoResult:  # runs on a Ray worker
    """On the worker node, the first task kills the node's raylet: the node dies."""
    marker = Path(path).parent / "node.killed"
    if os.environ.get("VQEVAL_TEST_NODE") == "doomed" and not marker.exists():
        marker.touch()
        os.kill(os.getppid(), signal.SIGKILL)  # a worker's parent is its node's raylet
        time.sleep(60)  # the raylet's death takes this worker down
    return score_video(path, config)


def test_a_node_that_dies_loses_no_row(four: Path, by_value) -> None:
    """Its own cluster (the module's keeps both nodes): the worker node's raylet is
    killed while it runs a task; every video still gets an OK row."""
    marker = four / "node.killed"
    marker.unlink(missing_ok=True)
    with _cluster(worker_env={"VQEVAL_TEST_NODE": "doomed"}) as c:
        ex = RayExecutor(c.address, score=_kill_node_once)
        rs = score_batch([four], CFG, executor=ex, cache=False, progress=False)
        assert marker.exists()  # a task did run on the worker node and killed it
        ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
        try:  # the head declares the node dead after a few missed health checks
            deadline = time.monotonic() + 20
            while len([n for n in ray.nodes() if n["Alive"]]) > 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len([n for n in ray.nodes() if n["Alive"]]) == 1
        finally:
            ray.shutdown()
    assert sorted(Path(r.path).name for r in rs) == sorted(NAMES)
    assert all(r.ok for r in rs), [(r.path, r.error) for r in rs]

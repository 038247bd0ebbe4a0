"""Scoring at scale without a cluster: the local pool survives a killed
worker, shards split inputs, runs resume from a results file, URLs are read
through fsspec, and the Ray options fail with one clear line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vqeval.batch import find_inputs, score_batch
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.executors import local as local_executor
from vqeval.executors import make_executor
from vqeval.report import jsonio
from vqeval.results import ResultsFormatError, VideoResult
from vqeval.resume import Checkpoint, load_resume
from vqeval.shards import in_shard, parse_shard, shard_of

from .conftest import SAMPLES

DIMS = ("freeze", "repetition")
CFG = ScoreConfig(dimensions=DIMS)
FAST = ["--dimensions", ",".join(DIMS), "--no-progress", "--no-cache"]
NAMES = ("healthy_pan_rocket.mp4", "frozen_camera.mp4", "loop_coffee.mp4", "decay_hubble.mp4")


def run(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, args, input=input, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def scores(r: VideoResult) -> tuple[object, ...]:
    """What must not change between two ways of scoring one video."""
    return (
        r.status,
        r.composite,
        r.verdict,
        r.flags,
        {k: d.score for k, d in r.dimensions.items()},
    )


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("four")
    for name in NAMES:
        shutil.copy(SAMPLES / name, d / name)
    return d


# ------------------------------------------------------------------ local pool


def test_local_pool_loses_no_row_when_a_worker_is_killed_from_outside(monkeypatch) -> None:
    """`kill -9` on one of two workers mid-run: every video still gets its row."""
    pools = []
    real_new_pool = local_executor._new_pool

    def spy(workers: int):
        pool = real_new_pool(workers)
        pools.append(pool)
        return pool

    monkeypatch.setattr(local_executor, "_new_pool", spy)
    killed: list[int] = []

    def kill_one_worker(_r: VideoResult) -> None:
        if not killed:
            pid = next(iter(pools[0]._processes))  # a live worker of the first pool
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    videos, _ = find_inputs([str(SAMPLES)])
    rs = score_batch(
        [SAMPLES], CFG, workers=2, cache=False, progress=False, on_result=kill_one_worker
    )
    assert killed and len(pools) >= 2  # the kill broke the first pool; a fresh one took over
    assert [r.path for r in rs] == videos
    assert all(r.ok for r in rs), [(r.path, r.error) for r in rs if not r.ok]


def test_executor_names() -> None:
    assert make_executor("local", workers=3).name == "local"
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("dask")


# ---------------------------------------------------------------------- shards


def test_shards_are_disjoint_and_cover_every_video() -> None:
    videos, _ = find_inputs([str(SAMPLES)])
    for n in (1, 2, 3, 7):
        parts = [[v for v in videos if in_shard(v, (i, n))] for i in range(1, n + 1)]
        assert sum(len(p) for p in parts) == len(videos)  # disjoint ...
        assert sorted(v for p in parts for v in p) == sorted(videos)  # ... and complete
    # the shard of a path depends on the path only, spelled any equivalent way
    v = videos[0]
    assert shard_of(v, 5) == shard_of(v.replace("/samples/", "/samples/.//"), 5)


@pytest.mark.parametrize(
    "text,why", [("0/4", "numbered 1..4"), ("5/4", "numbered 1..4"), ("3", "expected I/N")]
)
def test_bad_shard_is_a_usage_error(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_shard(text)
    code, _, err = run(["score", str(SAMPLES / NAMES[0]), "--shard", text])
    assert code == 2 and why in err and len(err.strip().splitlines()) == 1


def test_cli_shards_union_is_the_full_run(four: Path, tmp_path: Path) -> None:
    paths = []
    for i in (1, 2):
        js = tmp_path / f"s{i}.json"
        code, _, _ = run(["score", str(four), *FAST, "--shard", f"{i}/2", "--json", str(js), "-q"])
        assert code == 0
        paths.append([r.path for r in jsonio.read_results(js)])
    assert not set(paths[0]) & set(paths[1])
    assert sorted(paths[0] + paths[1]) == sorted(str(four / n) for n in NAMES)


def test_an_empty_shard_is_not_an_error(four: Path, tmp_path: Path) -> None:
    one = str(four / NAMES[0])
    other = next(i for i in (1, 2, 3) if shard_of(one, 3) != i)
    js = tmp_path / "empty.json"
    code, _, err = run(["score", one, *FAST, "--shard", f"{other}/3", "--json", str(js)])
    assert code == 0 and "no videos in shard" in err
    assert jsonio.read_results(js) == []


# ---------------------------------------------------------------------- resume


def test_resume_keeps_ok_rows_and_retries_errors(four: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    assert run(["score", str(four), *FAST, "--json", str(first), "-q"])[0] == 0
    doc = json.loads(first.read_text())
    rows = {Path(r["path"]).name: r for r in doc["results"]}
    rows[NAMES[0]]["composite"] = 12.345  # a mark: a kept row is not scored again
    rows[NAMES[1]].update(status="error", error="worker process died")  # retried
    del rows[NAMES[2]]  # not in the file: scored
    doc["results"] = list(rows.values())
    first.write_text(json.dumps(doc))

    second = tmp_path / "second.json"
    code, _, err = run(["score", str(four), *FAST, "--resume", str(first), "--json", str(second)])
    assert code == 0 and "2 resumed" in err
    by = {Path(r.path).name: r for r in jsonio.read_results(second)}
    assert sorted(by) == sorted(NAMES) and all(r.ok for r in by.values())
    assert by[NAMES[0]].composite == 12.345  # kept as it was
    assert by[NAMES[1]].error is None  # the error row was scored again


def test_resume_refuses_rows_scored_with_other_options(four: Path, tmp_path: Path) -> None:
    js = tmp_path / "r.json"
    assert run(["score", str(four / NAMES[0]), *FAST, "--json", str(js), "-q"])[0] == 0
    with pytest.raises(ResultsFormatError, match="other options"):
        load_resume(js, ScoreConfig(dimensions=DIMS, analysis_size=128))
    code, _, err = run(["score", str(four), *FAST, "--analysis-size", "128", "--resume", str(js)])
    assert code == 2 and "analysis_size" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = run(["score", str(four), *FAST, "--resume", str(tmp_path / "bad.json")])
    assert code == 2 and "not valid JSON" in err


def test_resume_from_a_missing_file_scores_everything(four: Path, tmp_path: Path) -> None:
    js = tmp_path / "new.json"
    code, _, err = run(["score", str(four), *FAST, "--resume", str(js), "--json", str(js)])
    assert code == 0 and "0 resumed" in err
    assert len(jsonio.read_results(js)) == len(NAMES)


def test_checkpoint_files_are_valid_partial_results(four: Path, tmp_path: Path) -> None:
    js = tmp_path / "partial.json"
    cp = Checkpoint(js, CFG, every_s=0.0, no_series=True)
    score_batch([four], CFG, cache=False, progress=False, on_result=cp.add)
    kept = load_resume(js, CFG)
    assert len(kept) == len(NAMES) and all(not r.series for r in kept.values())


def test_ctrl_c_writes_the_rows_done_so_far(four: Path, tmp_path: Path, monkeypatch) -> None:
    import vqeval.batch

    real = vqeval.batch.score_batch

    def interrupted(*args, on_result=None, **kwargs):
        def stop_after_two(r: VideoResult, seen: list[int] = []) -> None:  # noqa: B006
            on_result(r)
            seen.append(1)
            if len(seen) == 2:
                raise KeyboardInterrupt

        return real(*args, on_result=stop_after_two, **kwargs)

    monkeypatch.setattr(vqeval.batch, "score_batch", interrupted)
    js = tmp_path / "r.json"
    code, _, err = run(["score", str(four), *FAST, "-j", "1", "--json", str(js)])
    assert code == 130 and f"--resume {js}" in err
    assert len(load_resume(js, CFG)) == 2


# ------------------------------------------------------------------------ URLs


def test_memory_urls_score_like_the_local_files(four: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for name in NAMES[:2]:
        fs.pipe(f"/vqeval-test/clips/sub/{name}", (four / name).read_bytes())
    fs.pipe("/vqeval-test/clips/.hidden.mp4", b"skipped")
    fs.pipe("/vqeval-test/clips/notes.txt", b"skipped")
    try:
        rs = score_batch(
            ["memory://vqeval-test/clips/", "memory://vqeval-test/missing.mp4"],
            CFG,
            workers=1,  # memory:// lives in this process only
            cache=True,
            progress=False,
        )
    finally:
        fs.rm("/vqeval-test", recursive=True)
    local = {Path(r.path).name: r for r in score_batch([four], CFG, cache=False, progress=False)}
    found, missing = rs[:-1], rs[-1]
    assert [Path(r.path).name for r in found] == sorted(NAMES[:2])
    assert all(r.path.startswith("memory://") and not r.cached for r in found)
    assert [scores(r) for r in found] == [scores(local[Path(r.path).name]) for r in found]
    assert missing.path == "memory://vqeval-test/missing.mp4" and missing.status == "error"


def test_file_urls_in_worker_processes_and_unknown_protocols(four: Path) -> None:
    pytest.importorskip("fsspec")
    urls = [(four / n).as_uri() for n in NAMES[:2]]
    code, out, _ = run(
        ["score", *urls, "nosuchproto://bucket/a.mp4", *FAST, "-j", "2", "--json", "-"]
    )
    assert code == 1  # one error row, the rest scored
    rows = {r["path"]: r for r in json.loads(out)["results"]}
    assert all(rows[u]["status"] == "ok" for u in urls)
    assert "unknown URL protocol" in rows["nosuchproto://bucket/a.mp4"]["error"]


# ------------------------------------------------------------- Ray options


def test_ray_option_rejects_a_path_where_an_address_belongs(four: Path) -> None:
    code, _, err = run(["score", "--ray", str(four), str(four), *FAST])
    assert code == 2 and "not a Ray address" in err and len(err.strip().splitlines()) == 1


def test_ray_missing_is_one_clear_line(four: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, _, err = run(["score", str(four / NAMES[0]), *FAST, "--ray=local"])
    assert code == 2 and "pip install 'vqeval[ray]'" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "device,num_gpus,want", [("cpu", None, 0.0), ("cuda", None, 1.0), ("cuda:1", 0.25, 0.25)]
)
def test_ray_tasks_ask_for_a_gpu_when_the_backbone_runs_on_cuda(
    device: str, num_gpus: float | None, want: float
) -> None:
    from types import SimpleNamespace

    from vqeval.executors.ray import RayExecutor

    config = SimpleNamespace(device=device)  # ScoreConfig.device, read by name
    assert RayExecutor("auto", num_gpus=num_gpus)._gpus(config) == want  # type: ignore[arg-type]


@pytest.mark.ray
@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_unreachable_cluster_is_one_line_and_exit_2(four: Path, scheme: str) -> None:
    import socket

    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(["score", str(four / NAMES[0]), *FAST, "--ray", f"{scheme}127.0.0.1:{port}"])
    assert code == 2 and "nothing answers there" in err
    assert len(err.strip().splitlines()) == 1


def test_ray_client_connection_is_retried_once_other_addresses_are_not() -> None:
    from vqeval.executors import ray as ray_exec

    class FakeRay:
        def __init__(self, failures: int) -> None:
            self.failures, self.inits, self.shutdowns = failures, 0, 0

        def init(self, address: str, **_: object) -> None:
            self.inits += 1
            if self.inits <= self.failures:
                raise ConnectionAbortedError("Starting Ray client server failed")

        def shutdown(self) -> None:
            self.shutdowns += 1

    once = FakeRay(failures=1)
    ray_exec._connect(once, "ray://head:10001", {})
    assert (once.inits, once.shutdowns) == (2, 1)
    always = FakeRay(failures=ray_exec.CLIENT_TRIES)
    with pytest.raises(ConnectionAbortedError):
        ray_exec._connect(always, "ray://head:10001", {})
    assert always.inits == ray_exec.CLIENT_TRIES
    gcs = FakeRay(failures=1)  # a GCS address: Ray itself retries; no second init
    with pytest.raises(ConnectionAbortedError):
        ray_exec._connect(gcs, "head:6379", {})
    assert gcs.inits == 1


def test_one_cpu_worker_decodes_on_one_thread_with_the_same_frames() -> None:
    """A pool or Ray worker stands for one CPU: FFmpeg decodes on one thread there
    (it would start about one per core), and the frames do not change."""
    import subprocess

    code = (
        "import sys, cv2, numpy as np\n"
        "from vqeval import video\n"
        "from vqeval.executors import one_cpu\n"
        "path = sys.argv[1]\n"
        "auto = video.read_clip(path, size=96).frames\n"
        "assert video._decode_threads == 0\n"
        "one_cpu()\n"
        "assert video._decode_threads == 1 and cv2.getNumThreads() == 1\n"
        "single = video.read_clip(path, size=96).frames\n"
        "assert auto.shape == single.shape and np.array_equal(auto, single)\n"
        "print('ok', len(single))\n"
    )
    clip = str(SAMPLES / "healthy_pan_coffee.mp4")
    out = subprocess.run(
        [sys.executable, "-c", code, clip], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")


def test_decode_threads_must_not_be_negative() -> None:
    from vqeval.video import set_decode_threads

    with pytest.raises(ValueError, match="threads must be >= 0"):
        set_decode_threads(-1)

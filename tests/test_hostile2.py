"""Hostile input, round 2 (issue #27, D01-D17).

Every test builds its own input (``tests/badinputs.py``), names the defect it
guards (``test_d<nn>_...``) and checks what a user sees: videos scored, reports
written or refused with one ``error:`` line, exit codes (``docs/ci.md``). Each
failed on the code before its fix (fc3fc4e). The suite is documented in
``docs/hostile-inputs.md``. Tests that could hang or eat memory on a
regression run the CLI in a subprocess with a time and memory limit.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import badinputs as bi
from tests.cli import invoke, one_error_line
from tests.test_compare import make_result
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.report.jsonio import read_results, write_results
from vqeval.results import ConfigError

REPO = Path(__file__).resolve().parents[1]
FAST = ["-d", "freeze,repetition", "--no-progress"]
GATE = '[[rule]]\ndimension = "freeze"\nmin_each = 50\n'


def _limits() -> None:  # in the child: 2 GiB of address space at most
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_cli(
    args: list[str], *, timeout: float = 60, **kw: object
) -> subprocess.CompletedProcess[str]:
    """``python -m vqeval ARGS`` in a child with 2 GiB of memory and ``timeout`` s."""
    return subprocess.run(
        [sys.executable, "-m", "vqeval", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limits,
        **kw,
    )


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small valid clip, copied by tests where they need one."""
    d = tmp_path_factory.mktemp("clip")
    bi.make_clip(d, "clip.mp4", n=12)
    return d


def copy_clip(clip_dir: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((clip_dir / "clip.mp4").read_bytes())
    return dest


def results_json(tmp_path: Path, name: str, score_text: str) -> Path:
    """A results JSON of two videos whose first ``freeze`` score is ``score_text``
    written verbatim (``NaN``, ``Infinity``, ``1e400`` ...)."""
    rows = [make_result("a.mp4", {"freeze": 70.0}), make_result("b.mp4", {"freeze": 80.0})]
    path = write_results(tmp_path / name, rows)
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    doc["results"][0]["scores"]["freeze"] = "@@"
    path.write_text(json.dumps(doc).replace('"@@"', score_text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- D01


@pytest.mark.slow
def test_d01_sibling_names_are_all_scored(clip_dir, tmp_path) -> None:
    """`run` / `run2`, `video` / `video2.mp4`, image folders `shot` / `shot2` and
    a folder reached by a symlink: the natural-sort key compared a number
    with a text (TypeError) and nothing was written."""
    d = tmp_path / "in"
    for rel in ("run/a.mp4", "run2/a.mp4", "video/c.mp4", "video2.mp4", "elsewhere/e.mp4"):
        copy_clip(clip_dir, d / rel)
    bi.make_image_folder(d, "shot", n=6)
    bi.make_image_folder(d, "shot2", n=6)
    (d / "linked").symlink_to(d / "elsewhere", target_is_directory=True)
    (d / "linked2").symlink_to(d / "elsewhere", target_is_directory=True)
    js = tmp_path / "r.json"
    code, _, err = invoke(["score", str(d), *FAST, "--no-cache", "--json", str(js)])
    assert code == 0, err
    got = sorted(os.path.relpath(r.path, d) for r in read_results(js))
    assert got == sorted(
        ["run/a.mp4", "run2/a.mp4", "video/c.mp4", "video2.mp4", "elsewhere/e.mp4", "shot", "shot2"]
    )
    # compare and gate walk the same way
    code, _, err = invoke(["compare", str(d), str(d), *FAST, "--no-cache", "-q"])
    assert code == 0, err
    gate = tmp_path / "g.toml"
    gate.write_text('[[rule]]\nflag = "error"\nmax_rate = 0\n', encoding="utf-8")
    code, _, err = invoke(["gate", str(d), "-c", str(gate), *FAST, "--no-cache"])
    assert code == 0, err


def test_d01_natural_sort_key_orders_mixed_names() -> None:
    from vqeval.discover import natural_sort_key

    names = ["run10", "run", "Run2", "run2", "a", "2", "run2b", "run02"]
    ordered = sorted(names, key=natural_sort_key)  # no TypeError
    assert ordered.index("run") < ordered.index("run2") < ordered.index("run10")
    assert ordered[0] == "2"


# --------------------------------------------------------------------------- D06, D07


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "-0.5", "100.5"])
def test_d06_results_with_nan_or_out_of_range_scores_are_rejected(tmp_path, bad) -> None:
    js = results_json(tmp_path, "r.json", bad)
    ok = write_results(tmp_path / "ok.json", [make_result("a.mp4", {"freeze": 70.0})])
    gate = tmp_path / "g.toml"
    gate.write_text(GATE, encoding="utf-8")
    code, _, err = invoke(["gate", str(js), "-c", str(gate)])  # passed on NaN
    assert code == 2, err
    assert "scores 0-100" in one_error_line(err)
    code, _, err = invoke(["compare", str(ok), str(js), "-q"])
    assert code == 2 and "scores 0-100" in one_error_line(err)


def test_d07_huge_integer_score_is_one_line(tmp_path) -> None:
    js = results_json(tmp_path, "r.json", "1" + "0" * 400)
    ok = write_results(tmp_path / "ok.json", [make_result("a.mp4", {"freeze": 70.0})])
    code, _, err = invoke(["compare", str(ok), str(js), "-q"])  # OverflowError
    assert code == 2, err
    assert "scores 0-100" in one_error_line(err)
    # the same for any number a record holds: info, times, elapsed
    doc = json.loads(ok.read_text(encoding="utf-8"))
    doc["results"][0]["elapsed_s"] = "@@"
    ok.write_text(json.dumps(doc).replace('"@@"', "1" + "0" * 400), encoding="utf-8")
    code, _, err = invoke(["compare", str(ok), str(js), "-q"])
    assert code == 2 and "elapsed_s" in one_error_line(err)


# --------------------------------------------------------------------------- D08


def test_d08_prompts_nested_json_and_huge_csv_cell(clip_dir, tmp_path) -> None:
    clip = str(clip_dir / "clip.mp4")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, _, err = invoke(["score", clip, *FAST, "--no-cache", "--prompts", str(deep)])
    assert code == 2, err
    assert "nested too deeply" in one_error_line(err)
    wide = tmp_path / "wide.csv"
    wide.write_text("path,prompt\nclip.mp4," + "x" * 140_000 + "\n", encoding="utf-8")
    code, _, err = invoke(["score", clip, *FAST, "--no-cache", "--prompts", str(wide)])
    assert code == 2, err
    assert "not valid CSV" in one_error_line(err)


# --------------------------------------------------------------------------- D09


@pytest.mark.parametrize(
    "option", ["--prompts", "--files-from", "--resume", "gate -c", "files-from stdin"]
)
def test_d09_dev_zero_as_an_input_file_is_refused(clip_dir, tmp_path, option) -> None:
    """Each read /dev/zero without end (15.9 GB after 25 s); now one line, exit 2.
    The child has 2 GiB and 60 s: a regression fails, it does not take the host."""
    clip = str(clip_dir / "clip.mp4")
    stdin = None
    if option == "gate -c":
        args = ["gate", clip, "-c", "/dev/zero"]
    elif option == "files-from stdin":
        args = ["score", "--files-from", "-"]
        stdin = open("/dev/zero", "rb")  # noqa: SIM115 - closed below
    else:
        args = ["score", clip, option, "/dev/zero"]
    try:
        proc = run_cli([*args, *FAST, "--no-cache"], stdin=stdin)
    finally:
        if stdin is not None:
            stdin.close()
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert "not a regular file" in line or "larger than" in line


def test_d09_files_from_a_pipe_and_stdin_still_work(clip_dir, tmp_path) -> None:
    """`--files-from <(find ...)` (a pipe) and `--files-from -` keep working."""
    clip = str(clip_dir / "clip.mp4")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, (clip + "\n").encode())
    os.close(write_fd)
    try:
        proc = run_cli(
            ["score", "--files-from", f"/dev/fd/{read_fd}", *FAST, "--no-cache", "-q"],
            pass_fds=(read_fd,),
        )
    finally:
        os.close(read_fd)
    assert proc.returncode == 0, proc.stderr
    code, _, err = invoke(["score", "--files-from", "-", *FAST, "--no-cache", "-q"], input=clip)
    assert code == 0, err


def test_d09_results_reader_refuses_devices_and_fifos(tmp_path) -> None:
    """In a child (2 GiB, 30 s): a regression reads without end or blocks."""
    fifo = bi.make_fifo(tmp_path)  # opening it for reading would block forever
    code = (
        "import sys\n"
        "from vqeval.report.jsonio import read_results\n"
        "from vqeval.results import ResultsFormatError\n"
        "try:\n    read_results(sys.argv[1])\n"
        "except ResultsFormatError as e:\n    print(e)\n"
    )
    for p in ("/dev/zero", str(fifo)):
        proc = subprocess.run(
            [sys.executable, "-c", code, p],
            capture_output=True,
            text=True,
            timeout=30,
            preexec_fn=_limits,
        )
        assert "not a regular file" in proc.stdout, proc.stderr


# --------------------------------------------------------------------------- D10


def test_d10_folder_tree_600_deep(clip_dir, tmp_path) -> None:
    deep = tmp_path / "t"
    parts = ["d"] * 600
    bottom = deep.joinpath(*parts)
    bottom.mkdir(parents=True)
    copy_clip(clip_dir, bottom / "deep.mp4")
    copy_clip(clip_dir, deep / "top.mp4")
    js = tmp_path / "r.json"
    code, _, err = invoke(["score", str(deep), *FAST, "--no-cache", "--json", str(js)])
    assert code == 0, err
    assert sorted(Path(r.path).name for r in read_results(js)) == ["deep.mp4", "top.mp4"]


# --------------------------------------------------------------------------- D11, D12, D13


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "a", "b", "--alpha", "nan"],
        ["compare", "a", "b", "--tie", "nan"],
        ["score", "x.mp4", "--max-fps", "nan"],
        ["score", "x.mp4", "--fps", "nan"],
        ["gate", "x", "-c", "g.toml", "--max-fps", "nan"],
    ],
)
def test_d11_nan_option_is_a_usage_error(args) -> None:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "not a finite number" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-fps", "inf"),
        ("--max-fps", "1e-300"),
        ("--fps", "inf"),
        ("--fps", "1e-300"),
        ("--fps", "1e300"),
        ("--max-fps", "-1"),
    ],
)
def test_d12_out_of_range_frame_rates_name_the_valid_range(clip_dir, option, value) -> None:
    r = CliRunner().invoke(main, ["score", str(clip_dir), option, value, *FAST, "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "0.01<=x<=1000" in r.stderr, r.stderr


def test_d11_d12_api_config_checks_frame_rates() -> None:
    from vqeval.pipeline import validate_config

    for cfg in (
        ScoreConfig(max_fps=math.nan),
        ScoreConfig(max_fps=math.inf),
        ScoreConfig(max_fps=1e-300),
        ScoreConfig(image_fps=math.nan),
        ScoreConfig(image_fps=1e300),
    ):
        with pytest.raises(ConfigError, match="frames/s"):
            validate_config(cfg)
    validate_config(ScoreConfig(max_fps=None, image_fps=12.0))


def test_d13_negative_seed_is_a_usage_error(tmp_path) -> None:
    a = write_results(tmp_path / "a.json", [make_result("a.mp4", {"freeze": 70.0})])
    b = write_results(tmp_path / "b.json", [make_result("a.mp4", {"freeze": 60.0})])
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--seed", "-1"])
    assert r.exit_code == 2, r.output
    assert "--seed" in r.stderr and "Traceback" not in r.stderr
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--seed", str(2**70), "-q"])
    assert r.exit_code == 0, r.output


# --------------------------------------------------------------------------- D02


def _read_fifo(path: Path, out: list[bytes]) -> None:
    with open(path, "rb") as fh:
        out.append(fh.read())


def test_d02_report_into_a_fifo_is_written_through(clip_dir, tmp_path) -> None:
    import threading

    fifo = bi.make_fifo(tmp_path)
    got: list[bytes] = []
    reader = threading.Thread(target=_read_fifo, args=(fifo, got), daemon=True)
    reader.start()
    code, _, err = invoke(
        ["score", str(clip_dir / "clip.mp4"), *FAST, "--no-cache", "--json", str(fifo)]
    )
    reader.join(30)
    assert code == 0, err
    assert fifo.is_fifo()  # was replaced by a regular file
    assert json.loads(got[0].decode("utf-8"))["results"][0]["status"] == "ok"


def test_d02_fifo_without_reader_is_one_line_not_a_hang(clip_dir, tmp_path) -> None:
    fifo = bi.make_fifo(tmp_path)
    code, _, err = invoke(
        ["score", str(clip_dir / "clip.mp4"), *FAST, "--no-cache", "--csv", str(fifo)]
    )
    assert code == 2, err
    assert "no process reads" in one_error_line(err)
    assert fifo.is_fifo()


def test_d02_symlinked_report_stays_a_link(clip_dir, tmp_path) -> None:
    real = tmp_path / "real" / "report.json"
    real.parent.mkdir()
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = invoke(
        ["score", str(clip_dir / "clip.mp4"), *FAST, "--no-cache", "--json", str(link)]
    )
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert read_results(real)[0].ok  # the link's target got the report
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() != 0, reason="making device nodes needs root")
@pytest.mark.parametrize(("minor", "kind"), [(3, "null"), (7, "full")])
def test_d02_device_node_is_never_replaced(clip_dir, tmp_path, minor, kind) -> None:
    """As root, `--json /dev/full` replaced the device node with a file. A
    private node (char 1:3 = null, 1:7 = full) stands in for /dev's."""
    import stat

    node = tmp_path / f"dev_{kind}"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    code, _, err = invoke(
        ["score", str(clip_dir / "clip.mp4"), *FAST, "--no-cache", "--json", str(node)]
    )
    assert stat.S_ISCHR(os.lstat(node).st_mode)  # still the device node
    if kind == "full" or code == 2:  # ENOSPC, or a `nodev` temporary folder
        assert code == 2 and "cannot write" in one_error_line(err)
    else:
        assert code == 0, err


def test_d02_write_atomic_refuses_block_devices_and_sockets(tmp_path) -> None:
    import socket

    from vqeval.report import ReportWriteError, write_atomic

    sock_path = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(ReportWriteError, match="a socket, not a regular file"):
            write_atomic(sock_path, "{}")
        assert sock_path.is_socket()


# --------------------------------------------------------------------------- D03


def test_d03_report_over_an_input_is_refused(clip_dir, tmp_path) -> None:
    clip = copy_clip(clip_dir, tmp_path / "v" / "clip.mp4")
    before = clip.read_bytes()
    code, _, err = invoke(["score", str(clip), *FAST, "--no-cache", "--json", str(clip)])
    assert code == 2, err
    assert "one of the inputs" in one_error_line(err)
    assert clip.read_bytes() == before
    # found in a walked folder, under another spelling
    code, _, err = invoke(
        ["score", str(tmp_path / "v"), *FAST, "--no-cache", "--csv", f"{tmp_path}/v/./clip.mp4"]
    )
    assert code == 2 and "one of the inputs" in one_error_line(err)
    # a frame of an image folder
    frames = bi.make_image_folder(tmp_path, "frames", n=6)
    frame = frames / "frame_3.png"
    old = frame.read_bytes()
    code, _, err = invoke(["score", str(frames), *FAST, "--no-cache", "--html", str(frame)])
    assert code == 2 and "one of the inputs" in one_error_line(err)
    assert frame.read_bytes() == old
    assert clip.read_bytes() == before


def test_d03_path_list_and_prompts_file_are_inputs_too(clip_dir, tmp_path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(str(clip_dir / "clip.mp4") + "\n", encoding="utf-8")
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("path,prompt\nclip.mp4,a fox\n", encoding="utf-8")
    saved = {p: p.read_bytes() for p in (listing, prompts)}
    code, _, err = invoke(["score", "--files-from", str(listing), *FAST, "--json", str(listing)])
    assert code == 2 and "one of the inputs" in one_error_line(err)
    args = ["score", str(clip_dir), "--prompts", str(prompts), *FAST, "--csv", str(prompts)]
    code, _, err = invoke(args)
    assert code == 2 and "one of the inputs" in one_error_line(err)
    assert {p: p.read_bytes() for p in saved} == saved


def test_d03_compare_and_gate_never_overwrite_their_inputs(tmp_path) -> None:
    a = write_results(tmp_path / "a.json", [make_result("x.mp4", {"freeze": 70.0})])
    b = write_results(tmp_path / "b.json", [make_result("x.mp4", {"freeze": 60.0})])
    gate = tmp_path / "g.toml"
    gate.write_text(GATE, encoding="utf-8")
    saved = {p: p.read_bytes() for p in (a, b, gate)}
    code, _, err = invoke(["compare", str(a), str(b), "--json", str(a)])
    assert code == 2 and "one of the inputs" in one_error_line(err)
    code, _, err = invoke(["gate", str(b), "-c", str(gate), "--md", str(gate)])
    assert code == 2 and "one of the inputs" in one_error_line(err)
    code, _, err = invoke(["gate", str(b), "-c", str(gate), "--junit", str(b)])
    assert code == 2 and "one of the inputs" in one_error_line(err)
    assert {p: p.read_bytes() for p in saved} == saved


def test_d03_resume_from_the_json_being_written_still_works(clip_dir, tmp_path) -> None:
    js = tmp_path / "r.json"
    clip = str(clip_dir / "clip.mp4")
    for _ in range(2):  # the documented `--json F --resume F`
        code, _, err = invoke(
            ["score", clip, *FAST, "--no-cache", "--json", str(js), "--resume", str(js)]
        )
        assert code == 0, err


# --------------------------------------------------------------------------- D04


def test_d04_deeply_nested_sidecar_is_ignored_with_a_note(clip_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no CLIP download in tests
    clip = copy_clip(clip_dir, tmp_path / "v" / "clip.mp4")
    clip.with_suffix(".json").write_text(
        '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8"
    )
    js = tmp_path / "r.json"
    args = ["score", str(clip), "-d", "freeze,text_alignment", "--no-progress"]
    code, _, err = invoke([*args, "--cache-dir", str(tmp_path / "c"), "--json", str(js)])
    assert code == 0, err  # RecursionError before
    [row] = read_results(js)
    assert row.ok
    assert (
        "sidecar clip.json ignored: JSON nested too deeply"
        in row.dimensions["text_alignment"].raw["reason"]
    )


# --------------------------------------------------------------------------- D15


@pytest.mark.parametrize(
    "address", ["ray://localhost:abc", "localhost:abc", "ray://head:70000", "ray://a/b"]
)
def test_d15_malformed_ray_address_is_an_immediate_usage_error(clip_dir, address) -> None:
    import time

    t0 = time.monotonic()
    code, _, err = invoke(["score", str(clip_dir), "--ray", address, *FAST, "--no-cache"])
    assert code == 2, err
    assert "is not a Ray address" in one_error_line(err)
    assert time.monotonic() - t0 < 5  # Ray retried ray://localhost:abc for 61 s


# --------------------------------------------------------------------------- D17

_SIGTERM_ON_THIRD = """
import os, signal, sys, time
import vqeval.executors.local as local
from vqeval.cli import main

real = local.score_one
calls = []

def score_one(path, config):
    calls.append(path)
    if len(calls) == 3:  # two rows finished: terminated as a preempted job would be
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    return real(path, config)

local.score_one = score_one
main(sys.argv[1:], prog_name="vqeval")
"""


def test_d17_sigterm_checkpoints_finished_rows_like_sigint(clip_dir, tmp_path) -> None:
    vids = tmp_path / "v"
    for i in range(5):
        copy_clip(clip_dir, vids / f"c{i}.mp4")
    js = tmp_path / "r.json"
    args = ["score", str(vids), *FAST, "--no-cache", "-j", "1", "--json", str(js)]
    proc = subprocess.run(
        [sys.executable, "-c", _SIGTERM_ON_THIRD, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 143, proc.stderr  # killed by SIGTERM (-15) before
    assert proc.stderr.strip().endswith("terminated"), proc.stderr
    rows = read_results(js)
    assert len(rows) == 2 and all(r.ok for r in rows)
    # and the run continues from them
    code, _, err = invoke([*args, "--resume", str(js)])
    assert code == 0 and "2 resumed" in err, err
    assert len(read_results(js)) == 5


# --------------------------------------------------------------------------- D05


def test_d05_clip_replaced_while_scored_is_not_cached_under_the_old_key(
    clip_dir, tmp_path, monkeypatch
) -> None:
    import numpy as np

    import vqeval.executors.local as local
    from vqeval.batch import CHANGED_WHILE_SCORED, score_batch
    from vqeval.cache import ResultCache

    (tmp_path / "v").mkdir()
    clip = bi.make_clip(tmp_path / "v", "clip.mp4", n=72)  # 3 s, moving
    healthy = clip.read_bytes()
    still = np.repeat(bi.synthetic_frames(1, 48, 64), 72, axis=0)
    frozen = bi.write_video(tmp_path / "frozen.mp4", still, 24.0).read_bytes()
    cfg = ScoreConfig(dimensions=("freeze", "repetition"))
    cache = ResultCache(tmp_path / "cache")
    old_key = cache.key(clip, cfg)
    real = local.score_one

    def replaced_then_scored(path, config):  # the generator rewrote the clip meanwhile
        tmp = Path(path).with_suffix(".part")
        tmp.write_bytes(frozen)
        os.replace(tmp, path)
        return real(path, config)

    monkeypatch.setattr(local, "score_one", replaced_then_scored)
    [row] = score_batch([str(clip)], cfg, workers=1, cache=cache, progress=False)
    assert row.ok and CHANGED_WHILE_SCORED in row.analysis["warnings"]
    assert "frozen" in row.flags  # what was scored: the new content
    assert cache.get(old_key, str(clip)) is None  # held the frozen clip's result before
    # the healthy clip is back: scored afresh, never the other content's row
    monkeypatch.setattr(local, "score_one", real)
    clip.write_bytes(healthy)
    [again] = score_batch([str(clip)], cfg, workers=1, cache=cache, progress=False)
    assert not again.cached
    assert "frozen" not in again.flags
    [third] = score_batch([str(clip)], cfg, workers=1, cache=cache, progress=False)
    assert third.cached and third.composite == again.composite


# --------------------------------------------------------------------------- D16


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_network_env(hf_home: Path) -> dict[str, str]:
    """The environment of a fresh machine without network: the hub endpoint is
    a closed local port, the hub cache is ``hf_home``, no offline variable."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "VQEVAL_OFFLINE")}
    env.update(HF_HOME=str(hf_home), HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    for k in ("HF_HUB_CACHE", "VQEVAL_WEIGHTS", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        env.pop(k, None)
    return env


def test_d16_fresh_machine_without_network_fails_in_seconds(clip_dir, tmp_path) -> None:
    """54 s of download retries and ~46 warning lines before; now one line."""
    import time

    env = _no_network_env(tmp_path / "hf")  # empty: a fresh clone's machine
    for extra in (["--backbone", "dinov2-s"], ["--backbone", "clip:ViT-B-32/laion2b_s34b_b79k"]):
        t0 = time.monotonic()
        proc = run_cli(["score", str(clip_dir), *extra, "--no-cache", "--no-progress"], env=env)
        elapsed = time.monotonic() - t0
        assert proc.returncode == 2, proc.stderr
        line = one_error_line(proc.stderr)
        assert "weights missing" in line and "no connection to 127.0.0.1" in line
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert elapsed < 5, elapsed


def test_d16_text_alignment_without_network_is_one_note(clip_dir, tmp_path) -> None:
    env = _no_network_env(tmp_path / "hf")
    args = ["score", str(clip_dir), "--prompt", "a fox", "--no-cache", "-q", "--no-progress"]
    proc = run_cli(args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Retrying" not in proc.stderr and "Traceback" not in proc.stderr
    notes = [ln for ln in proc.stderr.splitlines() if "text_alignment skipped" in ln]
    assert len(notes) == 1 and "no connection to 127.0.0.1" in notes[0]


@pytest.mark.slow
def test_d16_no_retry_noise_for_any_timm_model(clip_dir, tmp_path) -> None:
    """A model whose hub repo only its library knows: timm is imported, the
    hub is probed once and the download never starts (no retry warnings)."""
    model = "timm:vit_tiny_patch16_224.augreg_in21k"
    proc = run_cli(
        ["score", str(clip_dir), "--backbone", model, "--no-cache", "--no-progress"],
        env=_no_network_env(tmp_path / "hf"),
        timeout=50,  # the old code retried for about a minute
    )
    assert proc.returncode == 2, proc.stderr
    assert "no connection to 127.0.0.1" in one_error_line(proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_d16_offline_flag(clip_dir, tmp_path, monkeypatch) -> None:
    for k in ("HF_HUB_OFFLINE", "VQEVAL_OFFLINE", "HF_HUB_CACHE", "VQEVAL_WEIGHTS"):
        monkeypatch.delenv(k, raising=False)  # restored after the test
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, _, err = invoke(["score", str(clip_dir), "--backbone", "dinov2-s", "--offline"])
    assert code == 2, err
    assert "downloads are off (--offline" in one_error_line(err)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


# --------------------------------------------------------------------------- D14


@pytest.fixture
def silent_server():
    """``http://127.0.0.1:PORT``: a server that accepts connections and never
    answers (a hung host); closed after the test."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    srv.close()


def test_d14_url_on_a_silent_host_is_a_bounded_error_row(silent_server, tmp_path, monkeypatch):
    """300 s, then only "FSTimeoutError", before; now VQEVAL_URL_TIMEOUT s and
    a row naming the host."""
    import time

    pytest.importorskip("aiohttp")  # fsspec's http client
    monkeypatch.setenv("VQEVAL_URL_TIMEOUT", "1.5")
    url = f"{silent_server}/clip.mp4"
    js = tmp_path / "r.json"
    t0 = time.monotonic()
    code, _, err = invoke(["score", url, *FAST, "--no-cache", "-j", "1", "--json", str(js)])
    assert time.monotonic() - t0 < 20
    assert code == 1, err
    [row] = read_results(js)
    host = silent_server.removeprefix("http://")
    assert row.path == url and f"no answer from {host} within 1.5 s" in row.error
    # the worker's download is bounded the same way
    from vqeval.remote import score_url

    t0 = time.monotonic()
    r = score_url(url, ScoreConfig(dimensions=("freeze",)))
    assert time.monotonic() - t0 < 20
    assert r.status == "error" and f"no answer from {host}" in r.error

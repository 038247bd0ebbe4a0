"""Hostile input, files and names (issue #14, F1-F3 and F5-F15).

Every test builds its own input, names the defect it guards (F<n>) and checks
the behaviour a user sees: reports written, one-line errors, exit codes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import badinputs as bi
from tests.cli import invoke, one_error_line
from tests.test_compare import make_result
from vqeval import batch as batch_mod
from vqeval.cache import ResultCache
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.executors import local as local_executor
from vqeval.pipeline import score_video
from vqeval.report import ReportWriteError, csvio, write_atomic
from vqeval.report.jsonio import read_results, write_results
from vqeval.safetext import csv_cell, one_line, printable, xml_text

REPO = Path(__file__).resolve().parents[1]
FAST = ["-d", "freeze,repetition", "--no-progress"]
BAD_NAME = b"bad\xff\xfe name.mp4"  # not UTF-8


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small valid clip, copied by tests under hostile names."""
    d = tmp_path_factory.mktemp("clip")
    bi.make_clip(d, "clip.mp4", n=12)
    return d


def copy_as(clip_dir: Path, dest_dir: Path, name: str | bytes) -> str:
    """Copy the fixture clip to ``dest_dir/name`` (bytes names kept exactly)."""
    data = (clip_dir / "clip.mp4").read_bytes()
    target = os.path.join(os.fsencode(dest_dir), os.fsencode(name))
    with open(target, "wb") as fh:
        fh.write(data)
    return os.fsdecode(target)


# --------------------------------------------------------------------------- F1


def test_f1_non_utf8_name_is_kept_and_every_report_is_written(clip_dir, tmp_path) -> None:
    vids = tmp_path / "v"
    vids.mkdir()
    path = copy_as(clip_dir, vids, BAD_NAME)
    out = {k: tmp_path / f"r.{k}" for k in ("json", "csv", "md", "html")}
    code, stdout, err = invoke(
        ["score", str(vids), *FAST, "--no-cache"]
        + [a for k, p in out.items() for a in (f"--{k}", str(p))]
    )
    assert code == 0, err
    for p in out.values():
        p.read_bytes().decode("utf-8")  # every report exists and is valid UTF-8
    [r] = read_results(out["json"])
    assert os.fsencode(r.path) == os.fsencode(path)  # the exact name round-trips
    assert "\\udcff\\udcfe" in out["csv"].read_text(encoding="utf-8")
    assert "\\udcff" in stdout and "\udcff" not in stdout  # the table shows it escaped
    # machine output on stdout is valid UTF-8 JSON too
    r2 = CliRunner().invoke(main, ["score", path, *FAST, "--no-cache", "--json", "-"])
    assert r2.exit_code == 0
    doc = json.loads(r2.stdout_bytes.decode("utf-8"))
    assert os.fsencode(doc["results"][0]["path"]) == os.fsencode(path)


def test_f1_write_atomic_escapes_surrogates(tmp_path) -> None:
    p = write_atomic(tmp_path / "x.txt", "a\udcffb")
    assert p.read_text(encoding="utf-8") == "a\\udcffb"


# --------------------------------------------------------------------------- F2


def test_f2_fifo_and_dev_zero_are_error_rows_not_a_hang(clip_dir, tmp_path) -> None:
    fifo = bi.make_fifo(tmp_path)
    good = copy_as(clip_dir, tmp_path, "good.mp4")
    js = tmp_path / "r.json"
    args = [str(fifo), "/dev/zero", good, *FAST, "--cache-dir", str(tmp_path / "c")]
    proc = subprocess.run(
        [sys.executable, "-m", "vqeval", "score", *args, "--json", str(js)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,  # the defect was a hang: the cache hashed the pipe first
    )
    assert proc.returncode == 1, proc.stderr
    rows = {r.path: r for r in read_results(js)}
    for p in (str(fifo), "/dev/zero"):
        assert rows[p].status == "error" and "not a regular file" in rows[p].error
    assert rows[good].ok


def test_f2_cache_refuses_to_hash_a_fifo(tmp_path) -> None:
    import threading

    fifo = bi.make_fifo(tmp_path)

    def unblock() -> None:  # without the fix the hash waits for a writer: give it EOF
        with contextlib.suppress(OSError):  # ENXIO: nobody is waiting (the fix works)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(10.0, unblock)
    timer.start()
    try:
        with pytest.raises(OSError, match="not a regular file"):
            ResultCache(tmp_path / "c").key(fifo, ScoreConfig())
    finally:
        timer.cancel()


# --------------------------------------------------------------------------- F3


def test_f3_unreadable_file_on_the_command_line_is_one_error_row(clip_dir) -> None:
    if not hasattr(os, "geteuid"):
        pytest.skip("POSIX only")
    d = Path(tempfile.mkdtemp())
    d.chmod(0o777)
    locked = copy_as(clip_dir, d, "locked.mp4")
    ok = copy_as(clip_dir, d, "ok.mp4")
    js = d / "r.json"
    args = ["score", locked, ok, *FAST, "--cache-dir", str(d / "c"), "--json", str(js)]
    # import everything the command needs while root (the child may not read site-packages)
    assert invoke(args)[0] == 0
    js.unlink()
    os.chmod(locked, 0)
    if os.geteuid() != 0:
        code, _, err = invoke(args)
        assert code == 1, err
    else:

        def as_nobody() -> None:
            r = CliRunner().invoke(main, args)
            if r.exit_code != 1:
                raise AssertionError(f"exit {r.exit_code}: {r.output}")

        assert bi.call_as_other_user(as_nobody) == "ok"
    rows = {r.path: r for r in read_results(js)}
    assert rows[locked].status == "error" and "permission denied" in rows[locked].error
    assert rows[ok].ok


# --------------------------------------------------------------------------- F5


@pytest.mark.parametrize("size", [(1000, 1), (999, 3)])
def test_f5_very_wide_clip_is_a_one_line_error_row(tmp_path, size) -> None:
    w, h = size
    path = bi.write_video(
        tmp_path / f"wide_{w}x{h}.mkv", bi.synthetic_frames(12, h, w), 24.0, "ffv1"
    )
    r = score_video(path)
    assert r.status == "error"
    assert "elongated" in r.error and "OpenCV" not in r.error and "\n" not in r.error


def test_f5_four_to_one_is_still_scored(tmp_path) -> None:
    path = bi.make_clip(tmp_path, "pano.mp4", n=12, width=256, height=64)
    assert score_video(path, ScoreConfig(dimensions=("freeze", "repetition"))).ok


# --------------------------------------------------------------------------- F6


def _kill_once(path: str, config: ScoreConfig):  # runs in a worker process
    marker = path + ".killed"
    if path.endswith("victim.mp4") and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return score_video(path, config)


def _kill_always(path: str, config: ScoreConfig):  # runs in a worker process
    if path.endswith("victim.mp4"):
        os.kill(os.getpid(), signal.SIGKILL)
    return score_video(path, config)


@pytest.fixture
def four_clips(clip_dir, tmp_path) -> Path:
    for name in ("a.mp4", "b.mp4", "victim.mp4", "z.mp4"):
        copy_as(clip_dir, tmp_path, name)
    return tmp_path


def test_f6_killed_worker_is_retried_and_no_row_is_lost(four_clips, monkeypatch) -> None:
    monkeypatch.setattr(local_executor, "_score_in_worker", _kill_once)
    cfg = ScoreConfig(dimensions=("freeze",))
    rs = batch_mod.score_batch([four_clips], cfg, workers=2, cache=False, progress=False)
    assert [Path(r.path).name for r in rs] == ["a.mp4", "b.mp4", "victim.mp4", "z.mp4"]
    assert all(r.ok for r in rs), [r.error for r in rs]
    assert (four_clips / "victim.mp4.killed").exists()  # the kill did happen


@pytest.mark.slow
def test_f6_a_video_that_always_kills_its_worker_is_one_error_row(four_clips, monkeypatch) -> None:
    monkeypatch.setattr(local_executor, "_score_in_worker", _kill_always)
    cfg = ScoreConfig(dimensions=("freeze",))
    rs = batch_mod.score_batch([four_clips], cfg, workers=2, cache=False, progress=False)
    by = {Path(r.path).name: r for r in rs}
    assert len(rs) == 4
    assert by["victim.mp4"].status == "error" and "worker process died" in by["victim.mp4"].error
    assert all(by[n].ok for n in ("a.mp4", "b.mp4", "z.mp4"))


# --------------------------------------------------------------------------- F7, F8


DANGEROUS = ["=cmd|' /C calc'!A0.mp4", "+1+1.mp4", "-2-1.mp4", "@SUM(A1).mp4", "\ttab.mp4"]


def test_f7_csv_cells_never_start_a_formula() -> None:
    rows = [make_result(n, {"repetition": 50.0}, composite=-1.5) for n in DANGEROUS]
    rows.append(make_result("err.mp4", error="=HYPERLINK(evil)"))
    text = csvio.dumps(rows)
    recs = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["path"] for r in recs[:-1]] == ["'" + n for n in DANGEROUS]
    assert recs[-1]["error"] == "'=HYPERLINK(evil)"
    assert recs[0]["composite"] == "-1.5"  # a negative number stays a number
    assert csv_cell(-2.0) == -2.0 and csv_cell("plain") == "plain"


def test_f7_f8_files_from_names_reach_the_csv_safely(clip_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["=calc.mp4", "-x.mp4", "cr\rname.mp4", "lf\nname.mp4"]
    for n in names:
        copy_as(clip_dir, tmp_path, n)
    listing = b"\0".join(os.fsencode(n) for n in names) + b"\0"  # find -print0
    code, out, err = invoke(
        ["score", "--files-from", "-", *FAST, "--no-cache", "--csv", "-"], input=listing
    )
    assert code == 0, err
    recs = list(csv.reader(io.StringIO(out, newline="")))
    assert len(recs) == 1 + len(names)  # header + one record per video, none split
    paths = sorted(r[0] for r in recs[1:])
    assert paths == sorted(["'=calc.mp4", "'-x.mp4", "cr\rname.mp4", "lf\nname.mp4"])


def test_f8_carriage_return_in_a_name_is_quoted_in_one_record() -> None:
    text = csvio.dumps([make_result("a\rb.mp4", {"repetition": 1.0}, composite=1.0)])
    assert '"a\rb.mp4"' in text
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 2


# --------------------------------------------------------------------------- F9


def test_f9_control_characters_in_names_give_valid_junit(tmp_path) -> None:
    evil = "v\x01\x1b[31m\x0c\ud8ff\ufffe.mp4"
    js = tmp_path / "r.json"
    write_results(js, [make_result(evil, {"repetition": 10.0}, composite=10.0)])
    gate = tmp_path / "g.toml"
    gate.write_text('[[rule]]\nname = "bell\\u0007"\ndimension = "composite"\nmin_each = 50\n')
    xml = tmp_path / "g.xml"
    code, _, err = invoke(["gate", str(js), "-c", str(gate), "--junit", str(xml)])
    assert code == 1, err
    root = ET.parse(xml).getroot()  # well-formed
    case = root.find(".//testcase")
    assert case is not None and case.get("name") == "bell\\x07"
    body = case.find("failure").text
    assert "v\\x01\\x1b[31m\\x0c" in body


def test_f9_xml_text_leaves_only_xml_characters() -> None:
    s = xml_text("".join(chr(c) for c in range(0x20)) + "\x7f\ud800\uffff ok")
    ET.fromstring(f"<a>{s.replace('&', '&amp;').replace('<', '&lt;')}</a>")
    assert s.endswith(" ok") and "\t" in s and "\n" in s


# --------------------------------------------------------------------------- F10


def test_f10_escape_sequences_in_names_are_shown_escaped(clip_dir, tmp_path) -> None:
    name = "esc\x1b[2J\x1b]0;pwned\x07.mp4"
    path = copy_as(clip_dir, tmp_path, name)
    missing = str(tmp_path / "gone\x1b[31m.mp4")
    code, out, err = invoke(["score", path, missing, *FAST, "--no-cache"])
    assert code == 1
    for stream in (out, err):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "esc\\x1b[2J" in out and "gone\\x1b[31m" in out
    code, _, err = invoke(["score", missing, *FAST, "--no-cache", "-q"])
    assert "\x1b" not in err and "gone\\x1b[31m.mp4" in err


def test_f10_printable_and_one_line() -> None:
    assert printable("a\x1bb\nc\td\r") == "a\\x1bb\nc\td\\r"
    assert one_line("a\nb\x9b\udcff") == "a\\nb\\x9b\\udcff"


# --------------------------------------------------------------------------- F11


def _disk_full_for(prefix: str, real_fsync):
    """An ``os.fsync`` that fails with ENOSPC for temporary files named ``prefix*``."""

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(prefix):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    return fsync


@pytest.mark.parametrize("problem", ["folder", "parent is a file", "disk full"])
def test_f11_unwritable_report_is_one_line_exit_2_and_others_are_written(
    clip_dir, tmp_path, monkeypatch, problem
) -> None:
    copy_as(clip_dir, tmp_path, "c.mp4")
    md, csvp = tmp_path / "ok.md", tmp_path / "ok.csv"
    bad = tmp_path / "bad.json"
    if problem == "folder":
        bad.mkdir()
    elif problem == "parent is a file":
        (tmp_path / "file").write_text("x")
        bad = tmp_path / "file" / "bad.json"
    else:
        bad.write_text("old report")
        monkeypatch.setattr(os, "fsync", _disk_full_for(".bad.json.", os.fsync))
    reports = ["--json", str(bad), "--md", str(md), "--csv", str(csvp)]
    code, _, err = invoke(["score", str(tmp_path / "c.mp4"), *FAST, "--no-cache", *reports])
    assert code == 2, err
    line = one_error_line(err)
    assert line.startswith("error: --json: cannot write") and "Traceback" not in err
    assert md.is_file() and csvp.is_file()  # the other reports are still written
    if problem == "disk full":
        assert bad.read_text() == "old report"  # the old file is intact
        assert not list(tmp_path.glob(".bad.json.*"))  # no temporary file left


def test_f11_unwritable_folder_for_a_normal_user(clip_dir) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    d = Path(tempfile.mkdtemp())
    d.chmod(0o755)  # nobody may read, not write
    clip = copy_as(clip_dir, d, "c.mp4")
    out = Path(tempfile.mkdtemp())
    out.chmod(0o777)
    args = ["score", clip, *FAST, "--no-cache", "--json", str(d / "r.json")]
    args += ["--md", str(out / "r.md")]
    assert invoke(args)[0] == 0  # warm imports as root
    (d / "r.json").unlink()

    def as_nobody() -> None:
        r = CliRunner().invoke(main, args)
        if r.exit_code != 2 or "cannot write" not in r.stderr:
            raise AssertionError(f"exit {r.exit_code}: {r.stderr}")

    assert bi.call_as_other_user(as_nobody) == "ok"
    assert (out / "r.md").is_file() and not (d / "r.json").exists()


def test_f11_write_atomic_raises_one_line_error(tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ReportWriteError, match=r"cannot write .*parent is not a folder"):
        write_atomic(tmp_path / "f" / "r.json", "{}")
    with pytest.raises(ReportWriteError, match="is a folder"):
        write_atomic(tmp_path, "{}")


# --------------------------------------------------------------------------- F12


@pytest.mark.parametrize(
    "damage",
    [
        {"composite": "high"},
        {"scores": [1, 2]},
        {"flags": "loop"},
        {"info": {"fps": "fast"}},
        {"series": {"motion": 3}},
        {"cached": "yes"},
    ],
)
def test_f12_cache_entry_with_wrong_types_is_a_miss_and_rewritten(
    clip_dir, tmp_path, damage
) -> None:
    clip = copy_as(clip_dir, tmp_path, "c.mp4")
    cfg = ScoreConfig(dimensions=("freeze",))
    cache = ResultCache(tmp_path / "c")
    first = batch_mod.score_batch(clip, cfg, cache=cache, progress=False)
    [rec] = list((tmp_path / "c").rglob("*.json"))
    record = json.loads(rec.read_text())
    record.update(damage)
    rec.write_text(json.dumps(record))
    again = batch_mod.score_batch(clip, cfg, cache=cache, progress=False)
    assert again[0].ok and not again[0].cached
    assert again[0].composite == first[0].composite
    assert json.loads(rec.read_text())["composite"] == first[0].composite  # rewritten
    third = batch_mod.score_batch(clip, cfg, cache=cache, progress=False)
    assert third[0].cached


# --------------------------------------------------------------------------- F13


@pytest.mark.parametrize(
    "damage",
    [
        {"composite": "high"},
        {"scores": {"repetition": "80"}},
        {"flags": "loop"},
        {"info": {"fps": "x", "frame_count": 1}},
        {"path": 7},
        {"flag_details": [{"start_s": "soon"}]},
        "not a record",
    ],
)
@pytest.mark.parametrize("command", ["gate", "compare"])
def test_f13_results_json_with_wrong_types_is_one_line_exit_2(tmp_path, damage, command) -> None:
    good = tmp_path / "good.json"
    write_results(good, [make_result("v/a.mp4", {"repetition": 70.0}, composite=70.0)])
    doc = json.loads(good.read_text())
    doc["results"][0] = damage if isinstance(damage, str) else {**doc["results"][0], **damage}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    gate = tmp_path / "g.toml"
    gate.write_text('[[rule]]\ndimension = "composite"\nmin_mean = 10\n')
    args = (
        ["gate", str(bad), "-c", str(gate)]
        if command == "gate"
        else ["compare", str(good), str(bad)]
    )
    code, _, err = invoke(args)
    assert code == 2, err
    line = one_error_line(err)
    assert "bad.json" in line and "Traceback" not in err


# --------------------------------------------------------------------------- F14


def test_f14_deeply_nested_gate_toml_is_one_line_exit_2(tmp_path) -> None:
    js = tmp_path / "r.json"
    write_results(js, [make_result("v/a.mp4", {"repetition": 70.0}, composite=70.0)])
    gate = tmp_path / "g.toml"
    gate.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, _, err = invoke(["gate", str(js), "-c", str(gate)])
    assert code == 2
    assert "nested too deeply" in one_error_line(err)
    gate.write_text("x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n")
    code, _, err = invoke(["gate", str(js), "-c", str(gate)])
    assert code == 2 and "Traceback" not in err


def test_f14_deeply_nested_results_json_is_one_line_exit_2(tmp_path) -> None:
    good = tmp_path / "good.json"
    write_results(good, [make_result("v/a.mp4", {"repetition": 70.0}, composite=70.0)])
    bad = tmp_path / "bad.json"
    bad.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = invoke(["compare", str(good), str(bad)])
    assert code == 2 and "nested too deeply" in one_error_line(err)


# --------------------------------------------------------------------------- F15


def test_f15_score_batch_accepts_a_single_path(clip_dir) -> None:
    clip = str(clip_dir / "clip.mp4")
    cfg = ScoreConfig(dimensions=("freeze",))
    for arg in (clip, Path(clip), os.fsencode(clip)):
        rs = batch_mod.score_batch(arg, cfg, cache=False, progress=False)
        assert [r.path for r in rs] == [clip] and rs[0].ok

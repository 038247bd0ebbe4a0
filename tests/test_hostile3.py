"""Hostile input, round 2 (issue #27, D18-D29 and D32-D34).

Every test builds its own input (as ``tests/test_hostile.py`` does), names the
defect it guards (D<n>) and checks what a user sees: one-line errors, exit
codes, error rows, escaped names. Each failed on the code of fc3fc4e.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from tests import badinputs as bi
from tests.cli import invoke, one_error_line
from tests.test_compare import make_result, method_results
from vqeval.batch import score_batch
from vqeval.cache import ResultCache, default_cache_dir
from vqeval.compare import Side, compare_sides
from vqeval.config import DEFAULT_MAX_DECODED_MPX, ScoreConfig
from vqeval.gate import MAX_KEY_PARTS, load_gate_config
from vqeval.pipeline import score_video
from vqeval.report import write_atomic
from vqeval.report.html import render_score_html
from vqeval.report.jsonio import write_results
from vqeval.report.markdown import md_escape, render_score_markdown
from vqeval.report.table import render
from vqeval.results import ConfigError, VideoInfo, VideoReadError
from vqeval.video import check_budget

REPO = Path(__file__).resolve().parents[1]
FAST = ["-d", "freeze,repetition", "--no-progress", "--no-cache"]
RLO = "\u202e"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small valid clip (64x48, 12 frames)."""
    return bi.make_clip(tmp_path_factory.mktemp("clip"), "clip.mp4", n=12)


# --------------------------------------------------------------------------- D18


def test_d18_json_to_full_stdout_is_one_line_exit_2(clip: Path) -> None:
    """``--json -`` with stdout on /dev/full: one ``error:`` line, exit 2, no traceback."""
    for opt in ("--json", "--csv"):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run(
                [sys.executable, "-m", "vqeval", "score", str(clip), *FAST, opt, "-"],
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=120,
                cwd=REPO,
            )
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        line = one_error_line(err)
        assert opt in line and "stdout" in line and "No space left" in line


@pytest.mark.parametrize(
    "args",
    [["dimensions"], ["dimensions", "--long"], ["dimensions", "--json"], ["score", "CLIP", *FAST]],
)
def test_d18_any_stdout_output_to_a_full_disk_is_one_line(clip: Path, args: list[str]) -> None:
    """The table, `vqeval dimensions` (all forms): one line, exit 2; reports still written."""
    args = [str(clip) if a == "CLIP" else a for a in args]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "vqeval", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            cwd=REPO,
        )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert one_error_line(err) == "error: cannot write to stdout: No space left on device"


# --------------------------------------------------------------------------- D19


def test_d19_report_name_of_250_bytes_is_written(tmp_path: Path) -> None:
    """A legal 250-byte name: the temporary file beside it must fit in 255 bytes."""
    name = "r" * 245 + ".json"
    assert len(name.encode()) == 250
    target = write_atomic(tmp_path / name, "{}")
    assert target.read_text() == "{}"
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind
    # multi-byte names: 250 bytes of "é" (2 bytes each) + ".md"
    wide = "é" * 123 + ".md"
    assert len(wide.encode()) == 249
    write_atomic(tmp_path / wide, "x")
    assert (tmp_path / wide).read_text() == "x"


def test_d19_cli_report_with_long_name(clip: Path, tmp_path: Path) -> None:
    md = tmp_path / ("m" * 247 + ".md")
    code, _, err = invoke(["score", str(clip), *FAST, "--md", str(md), "-q"])
    assert code == 0, err
    assert md.is_file()


# --------------------------------------------------------------------------- D20


def test_d20_markdown_neutralises_autolinks_and_mentions() -> None:
    name = "www.evil.example @alice bob@example.com https://x.example/a.mp4"
    md = md_escape(name)
    # what GitHub's autolink extension and mention filter look for
    assert not re.search(r"(?i)www\.", md), md
    assert not re.search(r"@[A-Za-z0-9]", md), md
    assert not re.search(r"[A-Za-z0-9]@[A-Za-z0-9]", md), md
    assert "://" not in md, md
    # the text still reads the same once the empty comments are gone
    assert md.replace("<!-- -->", "") == name
    doc = render_score_markdown([make_result(f"out/{name}.mp4", {"freeze": 80.0})])
    assert "@alice" not in doc and "www.evil" not in doc


# --------------------------------------------------------------------------- D21


def test_d21_bidi_override_is_escaped_in_terminal_html_and_markdown() -> None:
    name = f"out/clip_{RLO}gnp.mp4"
    ok = make_result(name, {"freeze": 80.0})
    bad = make_result(f"out/x_{RLO}.mp4", error=f"cannot read out/x_{RLO}.mp4")
    for text in (
        render([ok, bad], width=200),
        render_score_html([ok, bad]),
        render_score_markdown([ok, bad]),
    ):
        assert RLO not in text
        assert "\\u202e" in text
    # every bidi control, isolates too
    for ch in ("\u202a", "\u202b", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f"):
        assert ch not in render([make_result(f"a{ch}b.mp4", {"freeze": 1.0})], width=200)


def test_d21_bidi_name_in_cli_error_line(tmp_path: Path) -> None:
    for quiet in ([], ["-q"]):  # the row in the table, or an error line on stderr
        code, out, err = invoke(["score", str(tmp_path / f"x{RLO}.mp4"), *FAST, *quiet])
        assert code == 1  # a missing file is an error row
        assert RLO not in out + err and "\\u202e" in out + err


# --------------------------------------------------------------------------- D22


@pytest.mark.parametrize(("width", "height"), [(1, 1), (2, 2), (4, 1), (6, 8)])
def test_d22_tiny_frames_rejected(tmp_path: Path, width: int, height: int) -> None:
    path = bi.make_clip(tmp_path, f"c{width}x{height}.mp4", n=12, width=width, height=height)
    r = score_video(path, ScoreConfig(dimensions=("freeze", "repetition")))
    assert r.status == "error" and r.composite is None
    assert "too small" in r.error and "8x8" in r.error and "\n" not in r.error


def test_d22_smallest_accepted_size_still_scores(tmp_path: Path) -> None:
    path = bi.make_tiny(tmp_path)  # 8x8
    assert score_video(path, ScoreConfig(dimensions="freeze")).ok


# --------------------------------------------------------------------------- D23


@pytest.mark.parametrize(
    ("make_target", "kind"),
    [
        (lambda d: (os.mkfifo(d / "fifo"), d / "fifo")[1], "FIFO"),
        (lambda d: Path("/dev/null"), "character device"),
    ],
)
def test_d23_walked_symlink_to_special_file_is_named(tmp_path: Path, make_target, kind) -> None:
    vids = tmp_path / "v"
    vids.mkdir()
    target = make_target(tmp_path)
    os.symlink(target, vids / "a.mp4")
    rows = score_batch([str(vids)], ScoreConfig(dimensions="freeze"), cache=False, workers=1)
    assert len(rows) == 1 and rows[0].status == "error"
    assert "broken" not in rows[0].error
    assert kind in rows[0].error and "not a regular file" in rows[0].error


# --------------------------------------------------------------------------- D24


def _locked_tree(tmp_path: Path, clip: Path) -> Path:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.mp4").write_bytes(clip.read_bytes())
    return locked / "x.mp4"


def test_d24_file_in_unsearchable_folder_is_permission_denied_monkeypatched(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root mode 000 stops nothing, so the OS refusal is simulated: every
    stat of a path inside ``locked/`` raises EACCES, as it does for a user."""
    path = _locked_tree(tmp_path, clip)
    locked = str(path.parent) + os.sep
    real_stat, real_lstat = os.stat, os.lstat

    def deny(real):
        def fake(p, *a, **kw):
            if os.fsdecode(p).startswith(locked):
                raise PermissionError(errno.EACCES, "Permission denied", p)
            return real(p, *a, **kw)

        return fake

    monkeypatch.setattr(os, "stat", deny(real_stat))
    monkeypatch.setattr(os, "lstat", deny(real_lstat))
    rows = score_batch([str(path)], ScoreConfig(dimensions="freeze"), cache=False, workers=1)
    assert len(rows) == 1 and rows[0].status == "error"
    assert rows[0].error == "permission denied"


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads through mode 000; the monkeypatched test above covers it",
)
def test_d24_file_in_mode_000_folder_is_permission_denied(tmp_path: Path, clip: Path) -> None:
    path = _locked_tree(tmp_path, clip)
    path.parent.chmod(0)
    try:
        rows = score_batch([str(path)], ScoreConfig(dimensions="freeze"), cache=False)
    finally:
        path.parent.chmod(stat.S_IRWXU)
    assert rows[0].status == "error" and "permission denied" in rows[0].error


# --------------------------------------------------------------------------- D25


@pytest.mark.parametrize("parts", [MAX_KEY_PARTS + 1, 60_000, 100_000])
def test_d25_gate_toml_long_dotted_key_is_refused_fast(tmp_path: Path, parts: int) -> None:
    gate = tmp_path / "g.toml"
    gate.write_text("a" + ".a" * (parts - 1) + " = 1\n[[rule]]\nflag = 'any'\nmax_rate = 0\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="dotted parts"):
        load_gate_config(gate)
    assert time.perf_counter() - t0 < 2.0
    code, _, err = invoke(["gate", str(tmp_path), "-c", str(gate)])
    assert code == 2 and "dotted parts" in one_error_line(err)


def test_d25_dots_in_strings_comments_and_numbers_are_fine(tmp_path: Path) -> None:
    dots = "." * 200
    gate = tmp_path / "g.toml"
    gate.write_text(
        f'baseline = "base{dots}json"\n# comment {dots}\n[[rule]]\n'
        f"name = '''multi\n{dots}\nline'''\ndimension = \"composite\"\nmin_mean = 25.5\n"
    )
    cfg = load_gate_config(gate)
    assert cfg.rules[0].threshold == 25.5


# --------------------------------------------------------------------------- D26


def test_d26_cache_dir_tilde_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VQEVAL_CACHE_DIR", "~/vqcache")
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / "home" / "vqcache"
    assert ResultCache("~/other").root == tmp_path / "home" / "other"
    score_batch([str(clip)], ScoreConfig(dimensions="freeze"), workers=1)
    assert not (tmp_path / "~").exists()
    assert any((tmp_path / "home" / "vqcache").rglob("*.json"))


# --------------------------------------------------------------------------- D27


def test_d27_score_video_accepts_bytes_like_score_batch(clip: Path) -> None:
    cfg = ScoreConfig(dimensions="freeze")
    r = score_video(os.fsencode(clip), cfg)
    assert r.ok, r.error
    assert r.path == str(clip)
    assert score_batch([os.fsencode(clip)], cfg, cache=False, workers=1)[0].ok


# --------------------------------------------------------------------------- D28


def test_d28_dimensions_as_a_string() -> None:
    assert ScoreConfig(dimensions="freeze").dimensions == ("freeze",)
    assert ScoreConfig(dimensions="freeze, repetition").dimensions == ("freeze", "repetition")
    assert ScoreConfig(dimensions=["freeze"]).dimensions == ("freeze",)
    with pytest.raises(TypeError, match="comma-separated string"):
        ScoreConfig(dimensions=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        ScoreConfig(dimensions=" , ")


# --------------------------------------------------------------------------- D29


@pytest.mark.parametrize("shard", [(0, 0), (3, 2), (0, 2), (1, 0), (1.0, 2), (True, 1), (1,)])
def test_d29_bad_shard_is_refused(clip: Path, shard: tuple) -> None:
    with pytest.raises(ConfigError, match="1 <= i <= n"):
        score_batch([str(clip)], ScoreConfig(dimensions="freeze"), shard=shard, cache=False)


def test_d29_good_shards_cover_every_video(clip: Path) -> None:
    cfg = ScoreConfig(dimensions="freeze")
    rows = [score_batch([str(clip)], cfg, shard=(i, 2), cache=False, workers=1) for i in (1, 2)]
    assert sorted(len(r) for r in rows) == [0, 1]


# --------------------------------------------------------------------------- D32


def test_d32_compare_pairs_nfc_with_nfd_names(tmp_path: Path) -> None:
    names = ["café.mp4", "über_s0.mp4", "plain.mp4"]
    nfd = [unicodedata.normalize("NFD", n) for n in names]
    assert nfd[0] != names[0]
    a = Side("dense", "dense", method_results("out/dense", names, 0.0, 1), "out/dense")
    b = Side("lvsa", "lvsa", method_results("out/lvsa", nfd, 5.0, 2), "out/lvsa")
    cmp = compare_sides([a, b], n_boot=200)
    pr = cmp.methods[0].pairing
    assert len(pr.pairs) == 3
    assert not pr.only_baseline and not pr.only_method


# --------------------------------------------------------------------------- D33


def test_d33_all_keys_duplicated_names_the_cause(tmp_path: Path) -> None:
    base = [make_result(f"out/dense/{d}/clip.mp4", {"freeze": 70.0}) for d in ("a", "b")]
    meth = [make_result(f"out/lvsa/{d}/clip.mp4", {"freeze": 75.0}) for d in ("a", "b")]
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    write_results(a, base)
    write_results(b, meth)
    code, _, err = invoke(["compare", str(a), str(b), "--match", "name"])
    assert code == 2
    line = one_error_line(err)
    assert "e.g. - vs -" not in line
    assert "more than once" in line and "clip" in line and "--match relpath" in line


# --------------------------------------------------------------------------- D34


def test_d34_decoded_pixel_budget_default_refuses_the_bomb() -> None:
    """The file of the issue: one 8192x2048 frame then 5,999 more (212 KB)."""
    info = VideoInfo(
        fps=24.0,
        frame_count=6000,
        width=8192,
        height=2048,
        codec="h264",
        duration_s=250.0,
        rotation=0,
        variable_fps=False,
        container="mp4",
    )
    t0 = time.perf_counter()
    with pytest.raises(VideoReadError, match="decoding budget") as exc:
        check_budget(info, info.frame_count, DEFAULT_MAX_DECODED_MPX * 1e6)
    assert time.perf_counter() - t0 < 0.1
    assert "--max-decoded-mpx" in str(exc.value) and "100,663 Mpx" in str(exc.value)
    # a long ordinary clip passes: 5 min of 1080p at 30 fps
    ok = VideoInfo(30.0, 9000, 1920, 1080, "h264", 300.0, 0, False, "mp4")
    check_budget(ok, ok.frame_count, DEFAULT_MAX_DECODED_MPX * 1e6)


def test_d34_budget_is_an_error_row_and_configurable(clip: Path, tmp_path: Path) -> None:
    # clip: 64x48 x 12 frames = 0.037 Mpx
    r = score_video(clip, ScoreConfig(dimensions="freeze", max_decoded_mpx=0.01))
    assert r.status == "error" and "decoding budget" in r.error and "\n" not in r.error
    assert score_video(clip, ScoreConfig(dimensions="freeze", max_decoded_mpx=0)).ok
    code, _, err = invoke(["score", str(clip), *FAST, "--max-decoded-mpx", "0.01", "-q"])
    assert code == 1 and "decoding budget" in err
    code, _, err = invoke(["score", str(clip), *FAST, "--max-decoded-mpx", "nan"])
    assert code == 2
    with pytest.raises(ConfigError):
        score_video(clip, ScoreConfig(dimensions="freeze", max_decoded_mpx=-1.0))


def test_d34_budget_also_holds_while_decoding(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream with more or larger frames than its probe said is stopped too."""
    import vqeval.video as video

    monkeypatch.setattr(video, "check_budget", lambda *a, **k: None)
    r = score_video(clip, ScoreConfig(dimensions="freeze", max_decoded_mpx=0.01))
    assert r.status == "error" and "decoding budget" in r.error

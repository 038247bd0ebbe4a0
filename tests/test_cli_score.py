"""`vqeval score` end to end: reports, cache, workers, error rows, exit codes."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import vqeval
from vqeval.cache import ResultCache
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.report import jsonio

from .conftest import SAMPLES

FAST = ["--dimensions", "repetition,freeze", "--no-progress"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real sample clips (healthy, frozen, loop) plus one corrupt file."""
    d = tmp_path_factory.mktemp("clips")
    for name in ("healthy_pan_rocket.mp4", "frozen_camera.mp4", "loop_coffee.mp4"):
        shutil.copy(SAMPLES / name, d / name)
    (d / "corrupt.mp4").write_bytes(b"\x00\x01not a video" * 100)
    return d


def run(args: list[str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_score_writes_json_csv_and_reports_paths(folder: Path, tmp_path: Path) -> None:
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    code, out, err = run(
        [
            "score",
            str(folder),
            *FAST,
            "--json",
            str(js),
            "--csv",
            str(cs),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 1  # the corrupt file is an error row
    assert f"wrote {js}" in err and f"wrote {cs}" in err
    results = jsonio.read_results(js)
    by = {Path(r.path).name: r for r in results}
    assert set(by) == {
        "healthy_pan_rocket.mp4",
        "frozen_camera.mp4",
        "loop_coffee.mp4",
        "corrupt.mp4",
    }
    assert by["corrupt.mp4"].status == "error" and "\n" not in by["corrupt.mp4"].error
    ok = [r for r in results if r.ok]
    assert all(set(r.dimensions) == {"repetition", "freeze"} for r in ok)
    assert all(0 <= r.composite <= 100 for r in ok)
    assert by["healthy_pan_rocket.mp4"].composite > by["frozen_camera.mp4"].composite
    assert "frozen" in by["frozen_camera.mp4"].flags
    assert by["loop_coffee.mp4"].loop_period_s is not None
    rows = list(csv.DictReader(cs.open()))
    assert len(rows) == 4 and "score.repetition" in rows[0]
    assert "error" in out  # the table shows the error row


def test_cache_makes_rerun_hit_and_no_cache_skips_it(folder: Path, tmp_path: Path) -> None:
    cfg = ScoreConfig(dimensions=("freeze",))
    cache = ResultCache(tmp_path / "c")
    first = vqeval.score_batch([folder / "frozen_camera.mp4"], cfg, cache=cache, progress=False)
    again = vqeval.score_batch([folder / "frozen_camera.mp4"], cfg, cache=cache, progress=False)
    assert not first[0].cached and again[0].cached
    assert again[0].composite == first[0].composite
    other = vqeval.score_batch(
        [folder / "frozen_camera.mp4"],
        ScoreConfig(dimensions=("repetition",)),
        cache=cache,
        progress=False,
    )
    assert not other[0].cached  # another configuration is another key
    none = vqeval.score_batch([folder / "frozen_camera.mp4"], cfg, cache=False, progress=False)
    assert not none[0].cached


def test_cache_survives_a_corrupt_record(folder: Path, tmp_path: Path) -> None:
    cfg = ScoreConfig(dimensions=("freeze",))
    cache = ResultCache(tmp_path / "c")
    vqeval.score_batch([folder / "frozen_camera.mp4"], cfg, cache=cache, progress=False)
    [rec] = list((tmp_path / "c").rglob("*.json"))
    rec.write_text("{half a rec")
    r = vqeval.score_batch([folder / "frozen_camera.mp4"], cfg, cache=cache, progress=False)
    assert r[0].ok and not r[0].cached


def test_workers_give_the_same_scores_in_the_same_order(folder: Path) -> None:
    cfg = ScoreConfig(dimensions=("repetition", "freeze"))
    one = vqeval.score_batch([folder], cfg, workers=1, cache=False, progress=False)
    two = vqeval.score_batch([folder], cfg, workers=2, cache=False, progress=False)
    assert [r.path for r in one] == [r.path for r in two]
    assert [r.composite for r in one] == [r.composite for r in two]


def test_missing_path_is_an_error_row_and_the_rest_is_scored(folder: Path) -> None:
    code, out, err = run(
        ["score", str(folder / "frozen_camera.mp4"), "/no/such/file.mp4", *FAST, "--no-cache"]
    )
    assert code == 1
    assert "/no/such/file.mp4" in out and "error" in out
    assert "scored 1/2 videos" in err


def test_json_to_stdout_is_machine_readable(folder: Path) -> None:
    code, out, _ = run(
        ["score", str(folder / "frozen_camera.mp4"), *FAST, "--no-cache", "--json", "-"]
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["results"][0]["status"] == "ok"


@pytest.mark.parametrize(
    "args",
    [
        ["score"],
        ["score", ".", "--dimensions", "nope"],
        ["score", ".", "--max-fps", "-1"],
        ["score", ".", "-j", "-1"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    code, _, err = run(args)
    assert code == 2
    assert err.strip().count("\n") <= 3  # a short message, no traceback


def test_empty_folder_says_no_videos_and_exits_2(tmp_path: Path) -> None:
    code, _, err = run(["score", str(tmp_path), "--no-cache"])
    assert code == 2 and "no videos found" in err  # no input is an input error


def test_api_score_video_returns_typed_result() -> None:
    r = vqeval.score_video(SAMPLES / "healthy_pan_rocket.mp4")
    assert isinstance(r, vqeval.VideoResult) and r.ok
    assert r.info is not None and r.info.frame_count > 0
    assert r.series["thumbnails"] and r.series["thumbnails"][0].startswith("data:image/jpeg")
    assert r.verdict is not None and r.elapsed_s > 0


# --------------------------------------------------------------------------- first use (issue #14)


def test_cache_key_follows_the_scoring_code(tmp_path: Path, monkeypatch) -> None:
    """Stale results: a change to any scoring source changes the cache key."""
    from vqeval import cache as cache_mod

    src = tmp_path / "metric.py"
    src.write_text("SCALE = 1\n")
    monkeypatch.setattr(cache_mod, "scoring_sources", lambda: [src])
    cache_mod.code_fingerprint.cache_clear()
    try:
        before = cache_mod.code_fingerprint()
        src.write_text("SCALE = 2\n")
        cache_mod.code_fingerprint.cache_clear()
        assert cache_mod.code_fingerprint() != before
    finally:
        cache_mod.code_fingerprint.cache_clear()


def test_scoring_sources_cover_metrics_and_dimensions() -> None:
    from vqeval.cache import scoring_sources

    names = {f"{p.parent.name}/{p.name}" for p in scoring_sources()}
    assert {"vqeval/pipeline.py", "vqeval/scoring.py", "vqeval/video.py"} <= names
    assert any(n.startswith("dimensions/") for n in names)
    assert any(n.startswith("metrics/") for n in names)


def test_cached_record_from_other_code_is_a_miss(folder: Path, tmp_path: Path, monkeypatch) -> None:
    from vqeval import cache as cache_mod

    cfg = ScoreConfig(dimensions=("freeze",))
    cache = ResultCache(tmp_path / "c")
    clip = folder / "frozen_camera.mp4"
    monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: "old-code")
    vqeval.score_batch(clip, cfg, cache=cache, progress=False)
    assert vqeval.score_batch(clip, cfg, cache=cache, progress=False)[0].cached
    monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: "new-code")
    assert not vqeval.score_batch(clip, cfg, cache=cache, progress=False)[0].cached


def test_image_folder_row_warns_that_the_frame_rate_was_assumed(tmp_path: Path) -> None:
    from tests import badinputs as bi

    folder = bi.make_image_folder(tmp_path, n=12)
    [r] = vqeval.score_batch(folder, ScoreConfig(dimensions=("freeze",)), cache=False)
    assert r.ok and any("assumed 24 fps" in w for w in r.analysis["warnings"])


@pytest.mark.skipif(
    "image_fps" not in {f.name for f in __import__("dataclasses").fields(ScoreConfig)},
    reason="ScoreConfig.image_fps not in the scoring code yet",
)
def test_fps_option_sets_the_image_folder_rate(tmp_path: Path) -> None:
    from tests import badinputs as bi

    folder = bi.make_image_folder(tmp_path, n=12)
    js = tmp_path / "r.json"
    code, _, err = run(["score", str(folder), *FAST, "--no-cache", "--fps", "6", "--json", str(js)])
    assert code == 0, err
    [r] = jsonio.read_results(js)
    assert r.info.fps == 6 and r.info.duration_s == 2.0
    assert not any("assumed" in w for w in r.analysis["warnings"])


def test_interrupt_exits_130_with_one_line(monkeypatch) -> None:
    import vqeval.batch

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(vqeval.batch, "score_batch", interrupted)
    code, _, err = run(["score", str(SAMPLES), "--no-cache"])
    assert code == 130 and err.strip() == "interrupted"


def test_short_version_flag() -> None:
    from lvsa.generators.cli import main as generate

    for flag in ("-V", "--version"):
        code, out, _ = run([flag])
        assert code == 0 and out.startswith("vqeval, version ")
        r = CliRunner().invoke(generate, [flag])
        assert r.exit_code == 0 and r.output.startswith("lvsa-generate, version ")


def test_files_from_file_and_stdin(folder: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'frozen_camera.mp4'}\n\n{folder / 'loop_coffee.mp4'}\r\n")
    js = tmp_path / "r.json"
    code, _, err = run(
        ["score", "--files-from", str(listing), *FAST, "--no-cache", "--json", str(js)]
    )
    assert code == 0, err
    assert sorted(Path(r.path).name for r in jsonio.read_results(js)) == [
        "frozen_camera.mp4",
        "loop_coffee.mp4",
    ]
    r = CliRunner().invoke(
        main,
        ["score", "--files-from", "-", *FAST, "--no-cache", "--json", "-"],
        input=f"{folder / 'frozen_camera.mp4'}\n",
    )
    assert r.exit_code == 0 and len(json.loads(r.stdout)["results"]) == 1
    r = CliRunner().invoke(main, ["score", "--files-from", "-", "--no-cache"], input="")
    assert r.exit_code == 2 and "no paths given" in r.stderr


def test_no_series_leaves_plot_series_out_of_the_json(folder: Path, tmp_path: Path) -> None:
    full, lean = tmp_path / "full.json", tmp_path / "lean.json"
    html = tmp_path / "r.html"
    clip = str(folder / "loop_coffee.mp4")
    cache = ["--cache-dir", str(tmp_path / "c")]
    assert run(["score", clip, *FAST, *cache, "--json", str(full)])[0] == 0
    code, _, _ = run(
        ["score", clip, *FAST, *cache, "--json", str(lean), "--no-series", "--html", str(html)]
    )
    assert code == 0
    [r] = jsonio.read_results(lean)
    assert r.series == {} and r.composite == jsonio.read_results(full)[0].composite
    assert lean.stat().st_size < full.stat().st_size / 3
    assert "data:image/jpeg" in html.read_text()  # the HTML report keeps its thumbnails


def test_assumed_image_folder_rate_is_warned_on_stderr_and_in_the_csv(tmp_path: Path) -> None:
    from tests import badinputs as bi

    folder = bi.make_image_folder(tmp_path, n=12)
    cs = tmp_path / "r.csv"
    code, _, err = run(["score", str(folder), *FAST, "--no-cache", "--csv", str(cs)])
    assert code == 0
    assert f"warning: {folder}: image folder: frame rate assumed 24 fps" in err
    [row] = list(csv.DictReader(cs.open(newline="")))
    assert "assumed 24 fps" in row["warnings"]

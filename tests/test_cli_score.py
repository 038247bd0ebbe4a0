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


def test_empty_folder_says_no_videos(tmp_path: Path) -> None:
    code, _, err = run(["score", str(tmp_path), "--no-cache"])
    assert code == 1 and "no videos found" in err


def test_api_score_video_returns_typed_result() -> None:
    r = vqeval.score_video(SAMPLES / "healthy_pan_rocket.mp4")
    assert isinstance(r, vqeval.VideoResult) and r.ok
    assert r.info is not None and r.info.frame_count > 0
    assert r.series["thumbnails"] and r.series["thumbnails"][0].startswith("data:image/jpeg")
    assert r.verdict is not None and r.elapsed_s > 0

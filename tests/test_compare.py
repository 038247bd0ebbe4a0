"""`vqeval compare`: pairing, statistics per dimension, reports and bad input."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqeval.cli import main
from vqeval.compare import (
    ConfigError,
    Side,
    compare_sides,
    count_flags,
    match_key,
    pair_sides,
)
from vqeval.report.comparetext import format_table
from vqeval.report.jsonio import write_results
from vqeval.results import (
    SCHEMA_VERSION,
    STATUS_ERROR,
    DimensionScore,
    ResultsFormatError,
    VideoInfo,
    VideoResult,
)
from vqeval.sides import read_results_json
from vqeval.stats import VERDICT_BETTER, VERDICT_SAME

XSS = "<img src=x onerror=alert(1)>"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def jpeg_uri(color: tuple[int, int, int], size: tuple[int, int] = (32, 18)) -> str:
    """A tiny real JPEG as a data URI."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def make_result(
    path: str,
    scores: dict[str, float | None] | None = None,
    composite: float | None = None,
    flags: tuple[str, ...] = (),
    *,
    error: str | None = None,
    series: bool = False,
    seed: int = 0,
) -> VideoResult:
    """A hand-built result (what the pipeline would return)."""
    if error is not None:
        return VideoResult(path=path, status=STATUS_ERROR, error=error)
    scores = scores or {}
    dims = {k: DimensionScore(k, v, {"flags": []}) for k, v in scores.items()}
    if composite is None and scores:
        vals = [v for v in scores.values() if v is not None]
        composite = sum(vals) / len(vals)
    ser: dict = {}
    if series:
        rng = np.random.default_rng(seed)
        t = np.arange(24) / 12.0
        ser = {
            "times_s": t.tolist(),
            "motion": (1.0 + 0.5 * np.sin(t * 3 + seed)).tolist(),
            "ssm": np.corrcoef(rng.normal(size=(16, 8))).round(3).tolist(),
            "thumbnails": [jpeg_uri((40 * i % 255, 90, 200 - 30 * i)) for i in range(4)],
        }
    return VideoResult(
        path=path,
        info=VideoInfo(24.0, 48, 64, 36, "h264", 2.0),
        dimensions=dims,
        composite=composite,
        verdict="good" if (composite or 0) >= 60 else "poor",
        flags=flags,
        series=ser,
    )


def method_results(
    root: str, names: list[str], shift: float, seed: int, series: bool = False
) -> list[VideoResult]:
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).uniform(40, 80, len(names))
    out = []
    for i, n in enumerate(names):
        rep = float(np.clip(base[i] + shift + rng.normal(0, 1.0), 0, 100))
        mot = float(np.clip(base[i] + rng.normal(0, 1.0), 0, 100))
        flags = ("loop",) if rep < 50 else ()
        out.append(
            make_result(
                f"{root}/{n}",
                {"repetition": rep, "motion_decay": mot},
                flags=flags,
                series=series,
                seed=i,
            )
        )
    return out


NAMES = [f"clip{i:02d}.mp4" for i in range(20)]


def test_match_key_modes() -> None:
    assert match_key("out/dense/sub/a.mp4", "out/dense", "stem") == "sub/a"
    assert match_key("out/dense/sub/a.mp4", "out/dense", "relpath") == "sub/a.mp4"
    assert match_key("out/dense/sub/a.mp4", "out/dense", "name") == "a"
    assert match_key("out/dense/frames_dir", "out/dense", "stem") == "frames_dir"
    with pytest.raises(ConfigError):
        match_key("a.mp4", "", "fuzzy")


def test_pairing_lists_unmatched_and_ambiguous() -> None:
    a = Side(
        "A",
        "A",
        [
            make_result(p, {"repetition": 50})
            for p in ["A/x.mp4", "A/y.mp4", "A/only_a.mp4", "A/dup.mp4", "A/dup.webm"]
        ],
        "A",
    )
    b = Side(
        "B",
        "B",
        [
            make_result(p, {"repetition": 50})
            for p in ["B/x.webm", "B/y.mp4", "B/only_b.mp4", "B/dup.mp4"]
        ],
        "B",
    )
    pr = pair_sides(a, b, "stem")
    assert [k for k, _, _ in pr.pairs] == ["x", "y"]
    assert pr.only_baseline == ["only_a"]
    assert pr.only_method == ["only_b"]
    assert pr.ambiguous == ["dup"]
    # exact relative path: x.mp4 vs x.webm no longer pair
    pr2 = pair_sides(a, b, "relpath")
    assert [k for k, _, _ in pr2.pairs] == ["dup.mp4", "y.mp4"]


def test_compare_detects_better_dimension_and_counts_flags() -> None:
    a = Side("dense", "out/dense", method_results("out/dense", NAMES, 0.0, 1), "out/dense")
    b = Side("lvsa", "out/lvsa", method_results("out/lvsa", NAMES, 8.0, 2), "out/lvsa")
    c = Side("riflex", "out/riflex", method_results("out/riflex", NAMES, 0.0, 3), "out/riflex")
    cmp = compare_sides([a, b, c])
    assert cmp.dimensions[0] == "composite"
    assert {"repetition", "motion_decay"} <= set(cmp.dimensions)
    assert [m.side.label for m in cmp.methods] == ["lvsa", "riflex"]
    rows_b = {r.name: r.stats for r in cmp.methods[0].rows}
    rows_c = {r.name: r.stats for r in cmp.methods[1].rows}
    assert rows_b["repetition"].verdict == VERDICT_BETTER
    assert rows_b["repetition"].mean_diff == pytest.approx(8.0, abs=1.0)
    assert rows_b["motion_decay"].verdict == VERDICT_SAME
    assert rows_c["repetition"].verdict == VERDICT_SAME
    assert rows_b["repetition"].n == 20
    fb = cmp.methods[0].flags_baseline["loop"]
    assert fb == sum("loop" in r.flags for r in a.results)
    assert cmp.methods[0].flags_method["loop"] <= fb
    text = format_table(cmp)
    assert "lvsa vs dense (baseline): 20 paired videos" in text
    assert "better" in text and "bootstrap n=2000 seed=0" in text
    d = json.loads(json.dumps(cmp.to_dict()))
    assert d["methods"][0]["dimensions"]["repetition"]["verdict"] == "better"
    assert len(d["methods"][0]["videos"]) == 20


def test_compare_is_deterministic() -> None:
    a = Side("a", "a", method_results("a", NAMES, 0.0, 1), "a")
    b = Side("b", "b", method_results("b", NAMES, 1.0, 2), "b")
    x = compare_sides([a, b]).to_dict()
    y = compare_sides([a, b]).to_dict()
    assert x == y


def test_failed_videos_are_counted_not_compared() -> None:
    a = Side(
        "a",
        "a",
        [
            make_result("a/v1.mp4", {"repetition": 50}),
            make_result("a/v2.mp4", error="cannot decode"),
        ],
        "a",
    )
    b = Side(
        "b",
        "b",
        [make_result("b/v1.mp4", {"repetition": 70}), make_result("b/v2.mp4", {"repetition": 70})],
        "b",
    )
    cmp = compare_sides([a, b])
    st = {r.name: r.stats for r in cmp.methods[0].rows}["repetition"]
    assert st.n == 1
    assert cmp.methods[0].flags_baseline["error"] == 1
    assert cmp.methods[0].flags_method["error"] == 0
    assert cmp.any_errors
    assert count_flags([make_result("x", {"r": 1}, flags=("loop", "frozen"))])["any"] == 1


def test_disjoint_sets_and_unknown_dimension_are_config_errors() -> None:
    a = Side("a", "a", [make_result("a/x.mp4", {"repetition": 50})], "a")
    b = Side("b", "b", [make_result("b/y.mp4", {"repetition": 50})], "b")
    with pytest.raises(ConfigError, match="no videos in common"):
        compare_sides([a, b])
    b2 = Side("b", "b", [make_result("b/x.mp4", {"repetition": 50})], "b")
    with pytest.raises(ConfigError, match="unknown dimension"):
        compare_sides([a, b2], dimensions=["not_a_dimension"])
    with pytest.raises(ConfigError, match="at least two"):
        compare_sides([a])
    only = compare_sides([a, b2], dimensions=["repetition"])
    assert only.dimensions == ["repetition"]


# --------------------------------------------------------------------------- CLI


def _write(tmp: Path, name: str, results: list[VideoResult]) -> Path:
    p = tmp / name
    write_results(p, results)
    return p


def test_cli_compare_results_json_writes_reports(tmp_path: Path) -> None:
    a = _write(tmp_path, "dense.json", method_results("out/dense", NAMES, 0.0, 1, series=True))
    b = _write(tmp_path, "lvsa.json", method_results("out/lvsa", NAMES[:-2], 8.0, 2))
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(a),
            str(b),
            "--json",
            str(tmp_path / "c.json"),
            "--md",
            str(tmp_path / "c.md"),
            "--html",
            str(tmp_path / "c.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "lvsa vs dense (baseline): 18 paired videos" in res.output
    assert "only in dense (2): clip18, clip19" in res.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["kind"] == "compare"
    assert doc["methods"][0]["unmatched_baseline"] == ["clip18", "clip19"]
    md = (tmp_path / "c.md").read_text()
    assert "| composite" in md.lower() or "Composite" in md
    html = (tmp_path / "c.html").read_text()
    assert html.count('<tr class="pair">') == 18


def test_cli_compare_dimension_filter_and_stdout_json(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES, 0.0, 1))
    b = _write(tmp_path, "b.json", method_results("b", NAMES, 3.0, 2))
    res = CliRunner().invoke(
        main, ["compare", str(a), str(b), "--json", "-", "--dimensions", "composite"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    assert doc["dimensions"] == ["composite"]


def _one_error_line(res) -> str:  # type: ignore[no-untyped-def]
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_missing_folder_is_exit_2(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES, 0.0, 1))
    res = CliRunner().invoke(main, ["compare", str(a), str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no such folder" in _one_error_line(res)


def test_cli_one_input_is_exit_2(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES, 0.0, 1))
    res = CliRunner().invoke(main, ["compare", str(a)])
    assert res.exit_code == 2
    assert "at least two" in _one_error_line(res)


def test_cli_disjoint_sets_is_exit_2(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES[:3], 0.0, 1))
    b = _write(tmp_path, "b.json", method_results("b", ["other.mp4"], 0.0, 2))
    res = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert res.exit_code == 2
    line = _one_error_line(res)
    assert "no videos in common" in line and "--match name" in line


def test_cli_other_schema_version_is_exit_2(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES, 0.0, 1))
    doc = json.loads(a.read_text())
    doc["schema"] = SCHEMA_VERSION + 1
    for r in doc["results"]:
        r["schema"] = SCHEMA_VERSION + 1
    old = tmp_path / "future.json"
    old.write_text(json.dumps(doc))
    with pytest.raises(ResultsFormatError):
        read_results_json(old)
    res = CliRunner().invoke(main, ["compare", str(a), str(old)])
    assert res.exit_code == 2
    assert "schema" in _one_error_line(res)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(main, ["compare", str(a), str(bad)])
    assert res.exit_code == 2
    assert "JSON" in _one_error_line(res)


def test_cli_empty_folder_is_exit_2(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", method_results("a", NAMES, 0.0, 1))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no videos here")
    res = CliRunner().invoke(main, ["compare", str(a), str(empty)])
    assert res.exit_code == 2
    assert "no videos" in _one_error_line(res)


def test_cli_compare_folders_uses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clips = sorted(SAMPLES.glob("*.mp4"))[:2]
    if len(clips) < 2:
        pytest.skip("data/samples not present")
    monkeypatch.setenv("VQEVAL_CACHE_DIR", str(tmp_path / "cache"))
    for side in ("dense", "lvsa"):
        (tmp_path / side).mkdir()
        for c in clips:
            shutil.copy(c, tmp_path / side / c.name)
    args = [
        "compare",
        str(tmp_path / "dense"),
        str(tmp_path / "lvsa"),
        "--max-frames",
        "24",
        "--analysis-size",
        "64",
        "--json",
        str(tmp_path / "c.json"),
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    first = json.loads((tmp_path / "c.json").read_text())
    assert first["methods"][0]["pairs"] == 2
    # same content on both sides: every paired difference is zero
    comp = first["methods"][0]["dimensions"]["composite"]
    assert comp["mean_diff"] == pytest.approx(0.0) and comp["ties"] == 2
    # ... and the same pace: no pair is slow motion
    for v in first["methods"][0]["videos"]:
        assert v["pair_flags"] == [] and v["motion_ratio"] == pytest.approx(1.0)
        assert v["tempo"] is None or v["tempo"] == pytest.approx(1.0, abs=0.05)
    assert first["methods"][0]["pair_flags"] == {"slow_motion": 0}
    # a re-run reads every video from the cache
    from vqeval.config import ScoreConfig
    from vqeval.sides import load_side

    again = load_side(tmp_path / "lvsa", ScoreConfig(analysis_size=64, max_frames=24))
    assert len(again.results) == 2 and all(r.cached for r in again.results)
    res2 = CliRunner().invoke(main, args)
    assert res2.exit_code == 0
    assert json.loads((tmp_path / "c.json").read_text())["methods"] == first["methods"]


def test_small_sample_says_too_few_for_a_verdict(tmp_path: Path) -> None:
    names = NAMES[:3]
    a = _write(tmp_path, "dense.json", method_results("out/dense", names, 0.0, 1))
    b = _write(tmp_path, "lvsa.json", method_results("out/lvsa", names, 30.0, 2))
    md = tmp_path / "c.md"
    res = CliRunner().invoke(
        main, ["compare", str(a), str(b), "--json", str(tmp_path / "c.json"), "--md", str(md)]
    )
    assert res.exit_code == 0, res.output
    assert "only 3 paired video(s): too few for a verdict" in res.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["methods"][0]["small_sample"] is True and "too few" in doc["methods"][0]["note"]
    assert "too few for a verdict" in md.read_text()
    full_a = _write(tmp_path, "a20.json", method_results("out/dense", NAMES, 0.0, 1))
    full_b = _write(tmp_path, "b20.json", method_results("out/lvsa", NAMES, 30.0, 2))
    res = CliRunner().invoke(main, ["compare", str(full_a), str(full_b)])
    assert res.exit_code == 0 and "too few" not in res.output


def test_min_pairs_for_verdict_follows_the_test() -> None:
    from vqeval.compare import min_pairs_for_verdict, small_sample_note

    assert min_pairs_for_verdict(0.05) == 6  # smallest exact p with 5 pairs is 0.0625
    assert min_pairs_for_verdict(0.2) == 5
    assert small_sample_note(6, 0.05) is None and small_sample_note(4, 0.05)

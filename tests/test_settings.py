"""Scoring settings travel with results (issue 28): every results file and
record carries them; ``compare`` and ``gate`` warn, one line per difference,
when two sides were scored differently (``--strict-settings``: exit 2); a
file from before settings were recorded gets one "settings unknown" line."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from tests.cli import invoke
from vqeval import ScoreConfig, score_video
from vqeval.compare import Side
from vqeval.report.jsonio import write_results
from vqeval.results import DimensionScore, VideoResult
from vqeval.resultsio import read_document
from vqeval.settings import (
    KEYS,
    UNKNOWN,
    differences,
    params_hash,
    scoring_settings,
    settings_warnings,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
CLIPS = ("healthy_pan_rocket.mp4", "slow_rocket.mp4")
FAST = ["--dimensions", "freeze,motion_level", "--no-cache", "-q", "-j", "1"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        shutil.copy(SAMPLES / name, d / name)
    return d


def _score(videos: Path, out: Path, *extra: str) -> Path:
    code, _, err = invoke(["score", str(videos), "--json", str(out), *FAST, *extra])
    assert code == 0, err
    return out


def _old_file(path: Path, src: Path) -> Path:
    """``src`` as a results file from before settings were recorded."""
    doc = json.loads(src.read_text())
    doc.pop("settings")
    for r in doc["results"]:
        r["analysis"].pop("settings")
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------- recording


def test_results_file_and_records_carry_the_settings(videos: Path, tmp_path: Path) -> None:
    out = _score(videos, tmp_path / "r.json", "--analysis-size", "128")
    doc = json.loads(out.read_text())
    s = doc["settings"]
    assert list(s) == list(KEYS)
    assert s["dimensions"] == ["freeze", "motion_level"]
    assert (s["analysis_size"], s["max_fps"], s["backbone"], s["flow"]) == (
        128,
        8.0,
        "pixel",
        "dis",
    )
    assert len(s["params_hash"]) == 16 and s["code"].startswith("0.1.0+")
    assert all(r["analysis"]["settings"] == s for r in doc["results"])
    assert read_document(out).settings == s


def test_api_results_written_without_config_keep_the_settings(tmp_path: Path) -> None:
    cfg = ScoreConfig(dimensions="freeze")
    r = score_video(SAMPLES / CLIPS[0], cfg)
    assert r.analysis["settings"] == scoring_settings(cfg)
    p = write_results(tmp_path / "r.json", [r])  # no config: from the records
    assert read_document(p).settings == scoring_settings(cfg)


def test_params_hash_covers_every_other_field_generically() -> None:
    base = ScoreConfig()
    assert params_hash(base) == params_hash(ScoreConfig())
    assert params_hash(dataclasses.replace(base, max_frames=10)) != params_hash(base)
    assert params_hash(dataclasses.replace(base, stills=4)) != params_hash(base)
    # named settings are compared one by one; run-only fields are not settings
    assert params_hash(dataclasses.replace(base, analysis_size=96)) == params_hash(base)
    assert params_hash(dataclasses.replace(base, device="cuda", batch_size=8)) == params_hash(base)

    @dataclasses.dataclass(frozen=True)
    class Later(ScoreConfig):  # a field added to the config later is covered
        future_option: tuple[tuple[str, float], ...] = (("x", 0.02),)

    a, b = Later(), Later(future_option=(("x", 0.03),))
    assert params_hash(a) != params_hash(b) and params_hash(a) != params_hash(base)
    # the real decision parameters (vqeval.params) are covered the same way
    tuned = dataclasses.replace(base, params={"motion_level": {"full": 6.0}})
    assert params_hash(tuned) != params_hash(base)


def test_differences_and_warnings_name_what_differs() -> None:
    a = scoring_settings(ScoreConfig(dimensions="freeze"))
    b = {**a, "backbone": "dinov2-s", "max_fps": None}
    assert [d[0] for d in differences(a, b)] == ["max_fps", "backbone"]
    sides = [Side("base", "base.json", [], "", a), Side("new", "new.json", [], "", b)]
    lines = settings_warnings(sides)
    assert lines == [
        "settings differ: max_fps is 8.0 in base (baseline) but none in new",
        "settings differ: backbone is pixel in base (baseline) but dinov2-s in new",
    ]
    assert settings_warnings([sides[0], Side("same", "s.json", [], "", dict(a))]) == []
    unknown = settings_warnings([sides[0], Side("old", "o.json", [], "", None), sides[1]])
    assert unknown[0].startswith(f"{UNKNOWN} for old") and len(unknown) == 3


def test_old_records_without_settings_read_as_unknown(tmp_path: Path) -> None:
    r = VideoResult("a.mp4", dimensions={"freeze": DimensionScore("freeze", 70.0)})
    p = write_results(tmp_path / "old.json", [r])
    assert json.loads(p.read_text())["settings"] is None
    assert read_document(p).settings is None


# --------------------------------------------------------------------------- compare


def test_compare_warns_per_difference_and_strict_exits_2(videos: Path, tmp_path: Path) -> None:
    a = _score(videos, tmp_path / "a.json")
    b = _score(videos, tmp_path / "b.json", "--analysis-size", "128", "--flow", "farneback")
    code, _, err = invoke(["compare", str(a), str(b), "-q"])
    assert code == 0, err
    warn = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert warn == [
        "warning: settings differ: analysis_size is 160 in a (baseline) but 128 in b",
        "warning: settings differ: flow is dis in a (baseline) but farneback in b",
    ]
    code, out, err = invoke(["compare", str(a), str(b), "--strict-settings"])
    assert code == 2 and out == ""
    assert len([ln for ln in err.splitlines() if ln.startswith("error: settings differ")]) == 2
    # same settings: nothing said, strict or not
    c = _score(videos, tmp_path / "c.json")
    code, _, err = invoke(["compare", str(a), str(c), "-q", "--strict-settings"])
    assert code == 0 and "settings" not in err, err


def test_compare_json_records_each_sides_settings(videos: Path, tmp_path: Path) -> None:
    plain = ["--no-cache", "-q", "-j", "1"]  # compare scores the default set (and any asked)
    code, _, err = invoke(["score", str(videos), "--json", str(tmp_path / "a.json"), *plain])
    assert code == 0, err
    a = tmp_path / "a.json"
    code, _, err = invoke(
        ["compare", str(a), str(videos), *plain, "--json", str(tmp_path / "c.json")]
    )
    assert code == 0 and "settings" not in err, err  # the folder is scored with the same settings
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["baseline"]["scoring_settings"] == json.loads(a.read_text())["settings"]
    assert doc["methods"][0]["scoring_settings"] == doc["baseline"]["scoring_settings"]


def test_compare_old_file_gets_one_settings_unknown_line(videos: Path, tmp_path: Path) -> None:
    a = _score(videos, tmp_path / "a.json")
    old = _old_file(tmp_path / "old.json", a)
    code, _, err = invoke(["compare", str(old), str(a), "-q"])
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "settings" in ln]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {UNKNOWN} for old"), err
    code, _, err = invoke(["compare", str(old), str(a), "-q", "--strict-settings"])
    assert code == 2 and f"error: {UNKNOWN}" in err


# --------------------------------------------------------------------------- gate


def _gate_file(tmp_path: Path) -> Path:
    p = tmp_path / "gate.toml"
    p.write_text('[[rule]]\ndimension = "composite"\nmax_regression = 50\n')
    return p


def test_gate_warns_on_a_baseline_scored_differently(videos: Path, tmp_path: Path) -> None:
    base = _score(videos, tmp_path / "base.json", "--max-fps", "6")
    new = _score(videos, tmp_path / "new.json")
    gate = _gate_file(tmp_path)
    code, _, err = invoke(["gate", str(new), "-c", str(gate), "--baseline", str(base)])
    assert code == 0, err
    assert [ln for ln in err.splitlines() if ln.startswith("warning:")] == [
        "warning: settings differ: max_fps is 6.0 in base (baseline) but 8.0 in new"
    ]
    code, _, err = invoke(
        ["gate", str(new), "-c", str(gate), "--baseline", str(base), "--strict-settings"]
    )
    assert code == 2 and "error: settings differ: max_fps" in err
    code, _, err = invoke(
        ["gate", str(new), "-c", str(gate), "--baseline", str(new), "--strict-settings"]
    )
    assert code == 0 and "settings" not in err, err
    old = _old_file(tmp_path / "old.json", base)
    code, _, err = invoke(
        ["gate", str(new), "-c", str(gate), "--baseline", str(old), "--strict-settings"]
    )
    assert code == 2 and f"error: {UNKNOWN} for old" in err

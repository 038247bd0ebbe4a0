"""What a newcomer tripped on, in CI and at the terminal (issue #27, second list).

One test per rough edge: skipped dimensions said at the terminal, a verdict
summary, gate output that names the offending videos, a gate example that
catches capped failures, a missing baseline, the documented Actions example,
the path column, messages that point the right way, the resume summary, CI
log progress, ``vqeval dimensions`` and the forest plot's axis labels.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import badinputs as bi
from tests.cli import invoke
from tests.test_compare import make_result
from vqeval import batch as batch_mod
from vqeval.cli import main
from vqeval.config import ScoreConfig
from vqeval.executors import ray as ray_executor
from vqeval.report.html import render_score_html
from vqeval.report.jsonio import dumps, write_results
from vqeval.report.markdown import render_score_markdown
from vqeval.report.plots import svg_ci_forest
from vqeval.report.table import render
from vqeval.results import ConfigError, FlagDetail, VideoResult

REPO = Path(__file__).resolve().parents[1]
FAST = ["-d", "freeze,repetition", "--no-progress"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bi.make_clip(tmp_path_factory.mktemp("clip"), "clip.mp4", n=12)


def failed(path: str, flag: str, start_s: float, reason: str, composite: float) -> VideoResult:
    """A scored video with one failure flag (verdict ``failed``, capped composite)."""
    r = make_result(path, {"freeze": composite, "repetition": composite}, composite)
    return dataclasses.replace(
        r,
        verdict="failed",
        flags=(flag,),
        flag_details=(FlagDetail(flag, start_s, reason, "freeze"),),
    )


def batch() -> list[VideoResult]:
    """good 2, failed 2 (loop 1, frozen 1), errors 1."""
    return [
        make_result("out/lvsa/a_s0.mp4", {"freeze": 90.0, "repetition": 90.0}, 90.0),
        make_result("out/lvsa/b_s0.mp4", {"freeze": 85.0, "repetition": 85.0}, 85.0),
        failed("out/lvsa/c_s0.mp4", "loop", 2.5, "returns to 0.0 s every 2.5 s", 40.0),
        failed("out/lvsa/d_s0.mp4", "frozen", 4.8, "content still", 30.0),
        make_result("out/lvsa/e_s0.mp4", error="not a video"),
    ]


# --------------------------------------------------------------------------- skipped dimensions


def test_skipped_dimension_is_named_at_the_terminal(clip: Path) -> None:
    """text_alignment without CLIP weights (tests are offline): a note says so."""
    code, _, err = invoke(
        ["score", str(clip), "-d", "freeze,text_alignment", "--prompt", "a fox", "--no-cache"]
    )
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if ln.startswith("note: text_alignment skipped")]
    assert len(notes) == 1, err
    assert "1 of 1" in notes[0] and "CLIP weights unavailable" in notes[0]


# --------------------------------------------------------------------------- verdict summary


def test_verdict_summary_in_table_json_and_reports() -> None:
    rs = batch()
    want = "good 2, failed 2 (frozen 1, loop 1), errors 1"
    assert want in render(rs, width=200)
    summary = json.loads(dumps(rs))["summary"]
    assert summary["good"] == 2 and summary["failed"] == 2 and summary["errors"] == 1
    assert summary["failed_flags"] == {"frozen": 1, "loop": 1}
    md = render_score_markdown(rs)
    html = render_score_html(rs)
    for text in (md, html):
        assert want in text
        # unreadable videos are "errors"; "failed" is only the verdict
        assert "1 errors (could not be read)" in text
        assert not re.search(r"\d+ scored, \d+ failed", text)
    assert "| error |" in md  # the error row's verdict cell


def test_quiet_summary_line_has_the_verdicts(clip: Path, tmp_path: Path) -> None:
    code, _, err = invoke(["score", str(clip), *FAST, "--no-cache", "-q"])
    assert code == 0
    assert re.search(r"scored 1/1 videos .*; (good|fair|poor|failed) 1", err), err


# --------------------------------------------------------------------------- gate output


def _gate(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gate.toml"
    p.write_text(text)
    return p


def test_gate_failure_lists_videos_with_flag_reason_and_time(tmp_path: Path) -> None:
    res = tmp_path / "r.json"
    write_results(res, batch())
    gate = _gate(tmp_path, '[[rule]]\nflag = "any"\nmax_rate = 0.0\n')
    junit = tmp_path / "gate.xml"
    code, out, err = invoke(["gate", str(res), "-c", str(gate), "--junit", str(junit)])
    assert code == 1, err
    assert "out/lvsa/d_s0.mp4: frozen from 4.8 s: content still" in out
    assert "out/lvsa/c_s0.mp4: loop from 2.5 s: returns to 0.0 s every 2.5 s" in out
    assert "out/lvsa/e_s0.mp4: error: not a video" in out
    body = ET.parse(junit).getroot().find(".//failure").text
    assert "d_s0.mp4: frozen from 4.8 s: content still" in body
    assert "e_s0.mp4: error: not a video" in body


def test_gate_min_each_names_the_score_and_its_cap(tmp_path: Path) -> None:
    res = tmp_path / "r.json"
    write_results(res, batch())
    gate = _gate(tmp_path, '[[rule]]\ndimension = "composite"\nmin_each = 50\n')
    code, out, _ = invoke(["gate", str(res), "-c", str(gate)])
    assert code == 1
    assert "d_s0.mp4: composite 30.0 (frozen from 4.8 s: content still)" in out


def test_example_gate_catches_a_capped_failure(tmp_path: Path) -> None:
    """19 healthy clips and one loop capped at 40: the old example passed it."""
    rs = [
        make_result(
            f"out/lvsa/ok{i:02d}.mp4",
            {"repetition": 85.0, "motion_decay": 85.0, "freeze": 85.0},
            85.0,
        )
        for i in range(19)
    ]
    rs.append(failed("out/lvsa/loop.mp4", "loop", 3.0, "repeats", 40.0))
    res = tmp_path / "r.json"
    write_results(res, rs)
    code, out, _ = invoke(["gate", str(res), "-c", str(REPO / "data" / "gates.example.toml")])
    assert code == 1, out
    assert "loop.mp4: loop from 3.0 s: repeats" in out
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert any("any" in ln or "no failed video" in ln for ln in fails), out


def test_missing_baseline_exits_2_even_when_no_rule_needs_it(tmp_path: Path) -> None:
    res = tmp_path / "r.json"
    write_results(res, batch()[:2])
    gate = _gate(tmp_path, '[[rule]]\ndimension = "composite"\nmin_mean = 10\n')
    missing = tmp_path / "no_such_baseline.json"
    code, _, err = invoke(["gate", str(res), "-c", str(gate), "--baseline", str(missing)])
    assert code == 2
    assert "baseline results not found" in err
    # docs/ci.md says so
    assert "missing gate file / input / baseline" in (REPO / "docs" / "ci.md").read_text()
    # an existing baseline no rule reads: a note, exit 0
    write_results(tmp_path / "base.json", batch()[:2])
    code, _, err = invoke(
        ["gate", str(res), "-c", str(gate), "--baseline", str(tmp_path / "base.json")]
    )
    assert code == 0 and "not used" in err


def test_documented_actions_example_uses_no_missing_file() -> None:
    """Every results file the example passes to --baseline or compare is made by
    an earlier step of the example (--json FILE) or ships in the repository."""
    text = (REPO / "docs" / "ci.md").read_text()
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    made = set(re.findall(r"--json (\S+)", block))
    used = re.findall(r"--baseline (\S+)", block) + re.findall(r"vqeval compare (\S+\.json)", block)
    assert used
    for f in used:
        assert f in made or (REPO / f).exists(), f
    assert "gates.example.toml" in block and (REPO / "data" / "gates.example.toml").exists()


# --------------------------------------------------------------------------- path column


def test_path_column_relative_to_the_input_and_uses_the_width() -> None:
    slug = "a_red_fox_running_through_deep_snow_at_dusk_s0.mp4"
    root = "/home/ci/work/repository/out"
    rs = [make_result(f"{root}/{m}/{slug}", {"freeze": 80.0}, 80.0) for m in ("dense", "lvsa")]
    text = render(rs, width=200)
    assert f"videos in {root}/" in text
    assert f"dense/{slug}" in text and f"lvsa/{slug}" in text
    rows = [ln for ln in text.splitlines() if slug in ln]
    assert len(rows) == 2 and rows[0] != rows[1]
    assert all(len(ln) <= 200 for ln in text.splitlines())
    narrow = render(rs, width=60)  # long names lose their start, keep their end
    assert "…" in narrow and narrow.count("_s0.mp4") == 2


# --------------------------------------------------------------------------- messages


def test_flow_raft_without_weights_suggests_flow_dis(clip: Path) -> None:
    code, _, err = invoke(["score", str(clip), "--flow", "raft", "--no-cache"])
    assert code == 2
    assert "--flow dis" in err and "backbone 'pixel'" not in err


def test_ray_auto_without_cluster_gives_vqeval_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's own message names an `--address` flag VQeval does not have."""

    def init(**_: object) -> None:
        raise ConnectionError(
            "Could not find any running Ray instance. Please specify the one to connect to "
            "by setting `--address` flag or `RAY_ADDRESS` environment variable."
        )

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init, shutdown=lambda: None)
    monkeypatch.setattr(ray_executor, "_import_ray", lambda: fake)
    monkeypatch.setattr(ray_executor, "_check_reachable", lambda *a, **k: None)
    ex = ray_executor.RayExecutor("auto")
    with pytest.raises(ConfigError) as exc:
        ex.start(1)
    msg = str(exc.value)
    assert "--address" not in msg
    assert "no running Ray cluster" in msg and "--ray HOST:6379" in msg


def test_resume_summary_counts_each_row_once(clip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = tmp_path / "first.json"
    for _ in range(2):  # the second run's rows come from the cache (cached: true)
        code, _, err = invoke(
            ["score", str(clip), *FAST, "--cache-dir", str(cache), "--json", str(first), "-q"]
        )
        assert code == 0, err
    assert json.loads(first.read_text())["results"][0]["cached"] is True
    code, _, err = invoke(
        ["score", str(clip), *FAST, "--no-cache", "--resume", str(first), "--json",
         str(tmp_path / "second.json"), "-q"]
    )  # fmt: skip
    assert code == 0, err
    assert "(0 from cache, 1 resumed)" in err, err


def test_docs_do_not_point_at_a_missing_research_md() -> None:
    files = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "generators").glob("*.py")]
    offenders = [str(f) for f in files if "RESEARCH.md" in f.read_text(encoding="utf-8")]
    if not (REPO / "RESEARCH.md").exists():
        assert offenders == []


# --------------------------------------------------------------------------- CI logs


def test_progress_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        bi.make_clip(tmp_path, f"c{i}.mp4", n=12)
    monkeypatch.setattr(batch_mod, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(batch_mod, "_stderr_is_terminal", lambda: False)
    batch_mod.score_batch([str(tmp_path)], ScoreConfig(dimensions="freeze"), workers=1, cache=False)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("vqeval: ")]
    assert lines == ["vqeval: 1/3 videos (33 %), 0 s", "vqeval: 2/3 videos (66 %), 0 s"], err
    assert "\r" not in err and "it/s" not in err and "video/s" not in err


def test_dimensions_compact_by_default_and_fits_the_width() -> None:
    r = CliRunner().invoke(main, ["dimensions"], env={"COLUMNS": "80"}, catch_exceptions=False)
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert all(len(ln) <= 80 for ln in lines), [ln for ln in lines if len(ln) > 80]
    assert lines[0].split()[:3] == ["dimension", "weight", "default"]
    assert any(ln.startswith("repetition ") for ln in lines)
    assert "VBench's definition" not in r.output
    full = CliRunner().invoke(main, ["dimensions", "--long"], env={"COLUMNS": "80"})
    assert "VBench's definition" in full.output


def test_forest_plot_axis_labels_are_not_clipped() -> None:
    rows = [("Composite", 80.0, 60.0, 95.0, "better"), ("Freeze", -70.0, -90.0, -40.0, "worse")]
    svg = svg_ci_forest(rows, width=640)
    root = ET.fromstring(svg)
    width = float(root.get("width"))
    ticks = [t for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text in ("+100", "-100")]
    assert {t.text for t in ticks} == {"+100", "-100"}
    for t in ticks:  # 11 px sans-serif: at most ~7 px a character
        half = 7 * len(t.text) / 2 if t.get("text-anchor") == "middle" else 0
        assert float(t.get("x")) + half <= width, (t.text, t.get("x"))


def test_markdown_error_rows_say_error_not_failed() -> None:
    md = render_score_markdown([make_result("x.mp4", error="cannot read")])
    assert "| x.mp4 | error |" in md and "| failed |" not in md

"""`vqeval gate`: rule parsing, evaluation, exit codes, JUnit and Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_compare import XSS, make_result
from vqeval.cli import main
from vqeval.compare import Side
from vqeval.gate import evaluate_gate, load_gate_config, parse_gate_config
from vqeval.report.jsonio import write_results
from vqeval.report.junit import render_junit
from vqeval.report.markdown import render_gate_markdown
from vqeval.results import SCHEMA_VERSION, ConfigError, VideoResult

REPO = Path(__file__).resolve().parents[1]
KNOWN = {"repetition", "motion_decay"}


def results(reps: list[float], flags: list[tuple[str, ...]] | None = None) -> list[VideoResult]:
    flags = flags or [()] * len(reps)
    return [
        make_result(f"out/v{i}.mp4", {"repetition": r, "motion_decay": 70.0}, composite=r, flags=f)
        for i, (r, f) in enumerate(zip(reps, flags))
    ]


def side(rs: list[VideoResult]) -> Side:
    return Side("out", "out", rs, "out")


def gate(text: str, tmp: Path | None = None) -> object:
    if tmp is None:
        import tomllib

        return parse_gate_config(tomllib.loads(text), known_dimensions=KNOWN)
    p = tmp / "gates.toml"
    p.write_text(text)
    return load_gate_config(p, known_dimensions=KNOWN)


def test_example_config_parses() -> None:
    g = load_gate_config(REPO / "data" / "gates.example.toml", known_dimensions=KNOWN)
    checks = [(r.target, r.check) for r in g.rules]
    assert ("composite", "min_mean") in checks and ("composite", "min_each") in checks
    assert ("loop", "max_rate") in checks and ("error", "max_rate") in checks


def test_min_mean_and_min_each() -> None:
    g = gate('[[rule]]\ndimension = "repetition"\nmin_mean = 60\nmin_each = 40\n')
    ok = evaluate_gate(g, side(results([70, 65, 50])))
    assert ok.passed and [r.passed for r in ok.results] == [True, True]
    bad = evaluate_gate(g, side(results([80, 75, 30])))
    assert [r.passed for r in bad.results] == [True, False]
    assert bad.results[1].offenders == ("out/v2.mp4",)
    low = evaluate_gate(g, side(results([55, 50, 45])))
    assert not low.results[0].passed and low.results[0].value == pytest.approx(50.0)


def test_unscored_video_fails_min_each_but_not_min_mean() -> None:
    g = gate('[[rule]]\ndimension = "composite"\nmin_mean = 60\nmin_each = 10\n')
    rs = [*results([70, 80]), make_result("out/broken.mp4", error="cannot decode")]
    rep = evaluate_gate(g, side(rs))
    assert rep.results[0].passed  # mean over the 2 scored videos
    assert not rep.results[1].passed and rep.results[1].offenders == ("out/broken.mp4",)


def test_flag_rates_per_flag_any_and_error() -> None:
    g = gate(
        '[[rule]]\nflag = "loop"\nmax_rate = 0.25\n'
        '[[rule]]\nflag = "any"\nmax_rate = 0.25\n'
        '[[rule]]\nflag = "error"\nmax_rate = 0\n'
    )
    rs = results([70, 70, 70, 70], [("loop",), (), ("frozen",), ()])
    rep = evaluate_gate(g, side(rs))
    assert [r.passed for r in rep.results] == [True, False, True]
    assert rep.results[1].value == pytest.approx(0.5)
    rep2 = evaluate_gate(g, side([*rs, make_result("out/x.mp4", error="boom")]))
    assert not rep2.results[2].passed


def test_max_regression_against_baseline() -> None:
    g = gate('[[rule]]\ndimension = "composite"\nmax_regression = 2\n')
    base = Side("base", "base.json", results([70, 70, 70]), "out")
    assert evaluate_gate(g, side(results([69, 69, 69])), base).passed
    rep = evaluate_gate(g, side(results([60, 70, 70])), base)
    assert not rep.passed and rep.results[0].value == pytest.approx(10 / 3)
    assert "paired videos" in rep.results[0].message
    assert not evaluate_gate(g, side(results([70])), None).passed


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[rule]\ndimension = 'x'", "malformed TOML"),
        ('[[rule]]\ndimension = "nope"\nmin_mean = 5\n', "unknown dimension 'nope'"),
        ('[[rule]]\ndimension = "repetition"\nmin_mean = "60"\n', "must be a number"),
        ('[[rule]]\ndimension = "repetition"\nmin_mean = true\n', "must be a number"),
        ('[[rule]]\ndimension = "repetition"\nmin_mean = 160\n', "0-100"),
        ('[[rule]]\nflag = "loop"\nmax_rate = 5\n', "fraction"),
        ('[[rule]]\nflag = "wobble"\nmax_rate = 0.1\n', "unknown flag"),
        ('[[rule]]\nflag = "loop"\nmin_mean = 3\n', "unknown key"),
        ('[[rule]]\ndimension = "repetition"\n', "no check"),
        ('[[rule]]\ndimension = "repetition"\nflag = "loop"\nmin_mean = 3\n', "exactly one"),
        ('threshold = 3\n[[rule]]\nflag = "loop"\nmax_rate = 0.1\n', "unknown key"),
        ("# nothing\n", "no [[rule]]"),
        ("rule = 3\n", "array of tables"),
    ],
)
def test_bad_configs_raise_one_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        gate(text, tmp_path)
    msg = str(ei.value)
    assert needle in msg and "\n" not in msg.strip()
    assert "gates.toml" in msg


def test_junit_has_one_testcase_per_rule_and_escapes() -> None:
    g = gate(
        '[[rule]]\nname = "q <&> \\"x\\""\ndimension = "repetition"\nmin_mean = 60\nmin_each = 40\n'
        '[[rule]]\nflag = "loop"\nmax_rate = 0\n'
    )
    rs = results([95, 30], [(), ("loop",)])
    rs[1] = make_result(f"out/{XSS}.mp4", {"repetition": 30.0}, composite=30, flags=("loop",))
    rep = evaluate_gate(g, side(rs))
    root = ET.fromstring(render_junit(rep).split("\n", 1)[1])
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 3
    assert root.get("failures") == "2"
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 2
    assert any(XSS in (c.find("failure").text or "") for c in failed)  # type: ignore[union-attr]
    assert cases[0].get("name", "").startswith('q <&> "x"')


def test_markdown_summary_escapes_names() -> None:
    g = gate('[[rule]]\ndimension = "repetition"\nmin_each = 40\n')
    rs = [make_result(f"out/{XSS}|x.mp4", {"repetition": 10.0}, composite=10)]
    md = render_gate_markdown(evaluate_gate(g, side(rs)))
    assert "FAILED" in md and "| rule |" in md
    assert XSS not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\|x" in md  # a pipe in a name cannot split the table row


# --------------------------------------------------------------------------- CLI


def _files(tmp: Path, reps: list[float], toml: str) -> tuple[Path, Path]:
    res = tmp / "results.json"
    write_results(res, results(reps))
    cfg = tmp / "gates.toml"
    cfg.write_text(toml)
    return res, cfg


def test_cli_pass_fail_junit_md(tmp_path: Path) -> None:
    toml = (
        '[[rule]]\ndimension = "composite"\nmin_mean = 60\n[[rule]]\nflag = "error"\nmax_rate = 0\n'
    )
    res, cfg = _files(tmp_path, [70, 80], toml)
    r = CliRunner().invoke(
        main,
        [
            "gate",
            str(res),
            "--config",
            str(cfg),
            "--junit",
            str(tmp_path / "j.xml"),
            "--md",
            str(tmp_path / "s.md"),
            "--json",
            str(tmp_path / "g.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "gate passed: 2/2 rules passed" in r.output
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "0"
    assert "passed" in (tmp_path / "s.md").read_text()
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["passed"] is True
    # headed like the score and compare documents
    assert doc["schema"] == SCHEMA_VERSION and doc["kind"] == "gate" and doc["vqeval"]
    res2, _ = _files(tmp_path, [50, 55], toml)
    r2 = CliRunner().invoke(main, ["gate", str(res2), "--config", str(cfg)])
    assert r2.exit_code == 1
    assert "FAIL  mean composite >= 60" in r2.output


def test_cli_appends_to_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res, cfg = _files(tmp_path, [70], '[[rule]]\ndimension = "composite"\nmin_mean = 60\n')
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = CliRunner().invoke(main, ["gate", str(res), "-c", str(cfg), "--md", str(summary)])
    assert r.exit_code == 0
    text = summary.read_text()
    assert text.startswith("# earlier step") and "VQeval gate passed" in text


def test_cli_regression_with_baseline_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write_results(tmp_path / "base" / "baseline.json", results([80, 80]))
    res, cfg = _files(
        tmp_path,
        [70, 70],
        'baseline = "base/baseline.json"\n[[rule]]\ndimension = "composite"\nmax_regression = 2\n',
    )
    r = CliRunner().invoke(main, ["gate", str(res), "-c", str(cfg)])
    assert r.exit_code == 1, r.output
    assert "-10.0 points" in r.output
    r2 = CliRunner().invoke(main, ["gate", str(res), "-c", str(cfg), "--baseline", str(res)])
    assert r2.exit_code == 0, r2.output


def test_cli_slow_motion_rule_needs_and_reads_a_baseline(tmp_path: Path) -> None:
    """A `flag = "slow_motion"` rule loads the baseline (exit 2 without one)
    and passes when every video keeps the baseline's pace."""
    rule = '[[rule]]\nflag = "slow_motion"\nmax_rate = 0\n'
    res, cfg = _files(tmp_path, [70, 70], rule)
    r = CliRunner().invoke(main, ["gate", str(res), "-c", str(cfg)])
    assert r.exit_code == 2 and "slow_motion" in r.output, r.output
    r2 = CliRunner().invoke(main, ["gate", str(res), "-c", str(cfg), "--baseline", str(res)])
    assert r2.exit_code == 0, r2.output
    assert "0/2 videos paired with the baseline flagged slow_motion" in r2.output


def _one_error_line(r) -> str:  # type: ignore[no-untyped-def]
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[[rule]\n", "malformed TOML"),
        ('[[rule]]\ndimension = "no_such_dim"\nmin_mean = 1\n', "unknown dimension"),
        ('[[rule]]\ndimension = "composite"\nmin_mean = [1]\n', "must be a number"),
        ('[[rule]]\ndimension = "composite"\nmax_regression = 1\n', "need a baseline"),
    ],
)
def test_cli_config_errors_exit_2(tmp_path: Path, toml: str, needle: str) -> None:
    res, cfg = _files(tmp_path, [70], toml)
    r = CliRunner().invoke(main, ["gate", str(res), "--config", str(cfg)])
    assert r.exit_code == 2
    assert needle in _one_error_line(r)


def test_cli_bad_inputs_exit_2(tmp_path: Path) -> None:
    res, cfg = _files(tmp_path, [70], '[[rule]]\ndimension = "composite"\nmin_mean = 1\n')
    r = CliRunner().invoke(main, ["gate", str(tmp_path / "missing"), "--config", str(cfg)])
    assert r.exit_code == 2 and "no such folder" in _one_error_line(r)
    r = CliRunner().invoke(main, ["gate", str(res), "--config", str(tmp_path / "nope.toml")])
    assert r.exit_code == 2 and "cannot read gate file" in _one_error_line(r)
    doc = json.loads(res.read_text())
    doc["schema"] = SCHEMA_VERSION + 7
    res.write_text(json.dumps(doc))
    r = CliRunner().invoke(main, ["gate", str(res), "--config", str(cfg)])
    assert r.exit_code == 2 and "schema" in _one_error_line(r)

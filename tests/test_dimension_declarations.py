"""One declaration per dimension: range, raw value, unit, direction, flags,
backbone and VBench relation live on the ``Dimension``, and compare, gate,
the reports and ``vqeval dimensions`` read them from there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import vqeval.dimensions as dims
from tests.test_vbench import _clip, _gain, _pan
from vqeval.analysis import Analysis
from vqeval.cli import main
from vqeval.compare import Side, compare_sides, count_flags, known_flags
from vqeval.config import ScoreConfig
from vqeval.dimensions import (
    DIRECTIONS,
    VBENCH_APPROX,
    VBENCH_NONE,
    VBENCH_RELATIONS,
    VBENCH_SAME,
    Dimension,
    registry,
)
from vqeval.gate import evaluate_gate, format_report, parse_gate_config
from vqeval.report.comparetext import format_table
from vqeval.report.html import render_compare_html, render_score_html
from vqeval.report.jsonio import dumps
from vqeval.report.markdown import (
    render_compare_markdown,
    render_gate_markdown,
    render_score_markdown,
)
from vqeval.report.table import render
from vqeval.results import ConfigError, DimensionScore, VideoInfo, VideoResult
from vqeval.scoring import FLAG_CAPS


def _result(path: str, dims_: dict[str, tuple[float | None, str | None]], flags=()) -> VideoResult:
    ds = {k: DimensionScore(k, v, {"flags": []}, bb) for k, (v, bb) in dims_.items()}
    vals = [v for v, _ in dims_.values() if v is not None]
    return VideoResult(
        path=path,
        info=VideoInfo(24.0, 48, 64, 36, "h264", 2.0),
        dimensions=ds,
        composite=sum(vals) / len(vals) if vals else None,
        verdict="failed" if flags else "good",
        flags=tuple(flags),
    )


# ------------------------------------------------------------ the declarations


def test_every_registered_dimension_declares_its_contract() -> None:
    for name, d in registry().items():
        assert d.raw_key and d.raw_unit, name
        assert d.direction in DIRECTIONS, name
        assert d.backbone_for(ScoreConfig()), name
        assert d.vbench_for(None) in VBENCH_RELATIONS, name
        assert len(d.short_name) <= 6, name
        lo, hi = d.raw_range
        assert lo is None or hi is None or lo < hi, name
        if d.family == "vbench":
            assert d.vbench_for(None) != VBENCH_NONE and d.vbench_definition, name


def test_declared_flags_are_the_flags_the_composite_caps() -> None:
    assert set(known_flags()) == set(FLAG_CAPS)
    assert "collapse" in known_flags()  # was missing from compare's hand-kept list


def _clips() -> list[Analysis]:
    gains = np.where(np.arange(36) % 2 == 0, 1.0, 1.15)
    return [
        Analysis(_clip(_pan(36, 2.0)), ScoreConfig()),
        Analysis(_clip(np.repeat(_pan(1, 0.0), 36, axis=0)), ScoreConfig()),
        Analysis(_clip(_gain(_pan(36, 3.0, noise=1.0), gains)), ScoreConfig()),
        Analysis(_clip(_pan(80, 1.0), fps=12.0), ScoreConfig()),  # 6.7 s: VBench-Long
    ]


def test_declarations_match_what_the_dimensions_compute() -> None:
    raised: set[str] = set()
    for a in _clips():
        for name, d in registry().items():
            s = d.compute(a)
            if s.score is not None:
                assert d.score_range[0] <= s.score <= d.score_range[1], name
            v = s.raw.get(d.raw_key)
            lo, hi = d.raw_range
            if isinstance(v, (int, float)):
                assert (lo is None or v >= lo - 1e-9) and (hi is None or v <= hi + 1e-9), name
            assert set(s.raw.get("flags") or ()) <= set(d.flags), name
            raised |= set(s.raw.get("flags") or ())
            assert s.backbone == d.backbone_for(a.config), name
    assert {"frozen", "flicker"} <= raised  # the check above saw real flags


def test_vbench_relation_follows_the_backbone_used() -> None:
    reg = registry()
    assert reg["subject_consistency"].vbench_for("dino") == VBENCH_SAME
    assert reg["subject_consistency"].vbench_for("pixel") == VBENCH_APPROX
    assert reg["background_consistency"].vbench_for("border-ring") == VBENCH_APPROX
    assert reg["dynamic_degree"].vbench_for("raft") == VBENCH_SAME
    assert reg["dynamic_degree"].vbench_for("dis") == VBENCH_APPROX
    assert reg["imaging_quality"].vbench_for("heuristic") == VBENCH_APPROX
    assert reg["freeze"].vbench_for("content") == VBENCH_NONE


def test_a_dimension_without_declarations_still_works(monkeypatch) -> None:
    bare = Dimension("wobble", "Wobble", "test only", 1.0, False, lambda a: None)  # type: ignore[arg-type,return-value]
    assert bare.backbone_for() == "" and bare.vbench_for("x") == VBENCH_NONE
    assert bare.direction == "higher" and bare.flags == () and bare.score_range == (0.0, 100.0)
    assert bare.short_name == "wobble"
    monkeypatch.setitem(dims._REGISTRY, "wobble", bare)
    rs = [_result(f"v{i}.mp4", {"wobble": (50.0 + i, None)}) for i in range(3)]
    assert "wobble" in render_score_markdown(rs)
    assert "wobble" in render_score_html(rs)
    assert "wobble" in render(rs, width=200)
    with pytest.raises(ValueError, match="direction"):
        Dimension("x", "X", "", 1.0, False, lambda a: None, direction="up")  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="vbench"):
        Dimension("x", "X", "", 1.0, False, lambda a: None, vbench="maybe")  # type: ignore[arg-type,return-value]


# ------------------------------------------------------------ consumers read them


@pytest.fixture()
def wobble(monkeypatch) -> Dimension:
    """A registered test dimension declaring flag ``wobbly``, score range 0-1,
    direction "neither" and backbone ``gyro``."""
    d = Dimension(
        "wobble", "Wobble", "test only", 0.0, False, lambda a: None,  # type: ignore[arg-type,return-value]
        score_range=(0.0, 1.0), raw_key="amp", raw_unit="px", direction="neither",
        flags=("wobbly",), backbone="gyro",
    )  # fmt: skip
    monkeypatch.setitem(dims._REGISTRY, "wobble", d)
    return d


def test_flags_come_from_the_declarations(wobble) -> None:
    assert "wobbly" in known_flags()
    rs = [_result("a.mp4", {"freeze": (10.0, "content")}, flags=("wobbly", "collapse"))]
    counts = count_flags(rs)
    assert counts["wobbly"] == 1 and counts["collapse"] == 1
    cfg = parse_gate_config({"rule": [{"flag": "wobbly", "max_rate": 0.0}]})
    assert cfg.rules[0].target == "wobbly"
    with pytest.raises(ConfigError, match="wobbly"):  # the known list names it
        parse_gate_config({"rule": [{"flag": "shaky", "max_rate": 0.0}]})
    out = CliRunner().invoke(main, ["dimensions", "--json"])
    assert out.exit_code == 0, out.output
    listed = {d["name"]: d for d in json.loads(out.output)}
    assert listed["wobble"]["flags"] == ["wobbly"] and listed["wobble"]["backbone"] == "gyro"
    assert listed["subject_consistency"]["vbench"] in VBENCH_RELATIONS


def test_gate_checks_thresholds_against_the_declared_score_range(wobble) -> None:
    parse_gate_config({"rule": [{"dimension": "wobble", "min_mean": 0.5}]})
    with pytest.raises(ConfigError, match="0-1"):
        parse_gate_config({"rule": [{"dimension": "wobble", "min_mean": 50}]})
    parse_gate_config({"rule": [{"dimension": "freeze", "min_mean": 50}]})


def test_compare_says_higher_lower_for_a_neutral_direction() -> None:
    base = [_result(f"v{i}.mp4", {"motion_level": (20.0 + i, "dis"),
                                  "repetition": (20.0 + i, "pixel")}) for i in range(8)]  # fmt: skip
    meth = [_result(f"v{i}.mp4", {"motion_level": (80.0 + i, "dis"),
                                  "repetition": (80.0 + i, "pixel")}) for i in range(8)]  # fmt: skip
    cmp = compare_sides([Side("a", "a", base, ""), Side("b", "b", meth, "")], n_boot=200)
    rows = {r.name: r for r in cmp.methods[0].rows}
    assert rows["motion_level"].stats.verdict == "higher"
    assert rows["repetition"].stats.verdict == "better"
    assert rows["repetition"].backbone == "pixel" and rows["repetition"].vbench == VBENCH_NONE


# ------------------------------------------------------------ every report names the backbone


def test_every_report_names_each_dimensions_backbone() -> None:
    heur = [
        _result(f"v{i}.mp4", {"subject_consistency": (97.0, "pixel"), "freeze": (90.0, "content")})
        for i in range(6)
    ]
    learned = [
        _result(f"v{i}.mp4", {"subject_consistency": (95.0, "dino"), "freeze": (91.0, "content")})
        for i in range(6)
    ]
    md = render_score_markdown(heur)
    row = next(line for line in md.splitlines() if "(subject\\_consistency)" in line)
    assert "| pixel | approximation |" in row
    row = next(
        line
        for line in render_score_markdown(learned).splitlines()
        if "(subject\\_consistency)" in line
    )
    assert "| dino | same formula |" in row
    # one heuristic video makes the mean not VBench's
    mixed = render_score_markdown([*learned, heur[0]])
    row = next(line for line in mixed.splitlines() if "(subject\\_consistency)" in line)
    assert "dino, pixel" in row and "approximation" in row
    html = render_score_html(heur)
    assert "<td>pixel</td><td>approximation</td>" in html
    assert "subj=pixel (approx.)" in render(heur, width=200)
    doc = json.loads(dumps(heur))
    assert doc["dimensions"]["subject_consistency"]["backbones_used"] == ["pixel"]
    assert doc["dimensions"]["subject_consistency"]["vbench_used"] == VBENCH_APPROX

    cmp = compare_sides([Side("a", "a", heur, ""), Side("b", "b", learned, "")], n_boot=100)
    for text in (render_compare_markdown(cmp), render_compare_html(cmp), format_table(cmp)):
        assert "pixel, dino (approx.)" in text and "content" in text
    row = cmp.to_dict()["methods"][0]["dimensions"]["subject_consistency"]
    assert row["backbone"] == "pixel, dino" and row["vbench"] == VBENCH_APPROX

    gate = parse_gate_config({"rule": [{"dimension": "subject_consistency", "min_mean": 50}]})
    rep = evaluate_gate(gate, Side("a", "a", heur, ""))
    assert rep.results[0].backbone == "pixel" and rep.results[0].vbench == VBENCH_APPROX
    assert "pixel (approx.)" in render_gate_markdown(rep)
    assert "[backbone pixel (approx.)]" in format_report(rep)

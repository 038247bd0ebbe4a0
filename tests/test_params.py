"""The decision parameters (vqeval/params.py): validation with one line
naming the key, TOML round trip, the cache key, the scoring path reading the
tree, ``--params`` and ``[tool.vqeval]``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import vqeval
from tests.cli import invoke, one_error_line
from tests.conftest import SAMPLES
from vqeval.config import ScoreConfig
from vqeval.params import Params, TailRule, load_params, project_params
from vqeval.results import ConfigError

CLIP = SAMPLES / "frozen_camera.mp4"


# ----------------------------------------------------------- defaults


def test_defaults_equal_the_metric_functions_defaults() -> None:
    """The library defaults of the metric functions (for direct callers) are
    the tree's defaults: a value changed in one place only fails here."""
    from vqeval.metrics import consistency, detail, drift, motion, repetition, replay, scenes
    from vqeval.metrics import tempo as mt
    from vqeval.metrics.stillness import Thresholds

    p = Params()
    assert p.freeze.thresholds() == Thresholds()
    assert p.drift.thresholds() == drift.DriftThresholds()
    pairs = {
        "collapse.dissolve_ratio": detail.DISSOLVE_RATIO,
        "collapse.featureless": detail.FEATURELESS,
        "collapse.blur_ratio": detail.BLUR_RATIO,
        "collapse.tail.min_s": detail.MIN_S,
        "collapse.tail.fraction": detail.MIN_FRACTION,
        "loop.min_away": repetition.MIN_AWAY,
        "loop.strength": repetition.LOOP_STRENGTH_THRESHOLD,
        "loop.turn_strength": repetition.TURN_STRENGTH,
        "loop.return_threshold": repetition.RETURN_THRESHOLD,
        "loop.min_period_s": repetition.MIN_PERIOD_S,
        "loop.tight_ratio": replay.TIGHT_RATIO,
        "loop.neighbour_step_s": replay.NEIGHBOUR_STEP_S,
        "loop.match_distance": replay.MATCH_DISTANCE,
        "loop.min_run_s": replay.MIN_RUN_S,
        "loop.jump_factor": replay.JUMP_FACTOR,
        "loop.back_ratio": replay.BACK_RATIO,
        "loop.min_jumps": replay.MIN_JUMPS,
        "loop.return_ratio": scenes.RETURN_RATIO,
        "loop.min_returns": scenes.MIN_RETURNS,
        "loop.min_shot_s": scenes.MIN_SHOT_S,
        "motion_decay.established_motion": motion.ESTABLISHED_MOTION,
        "flicker.levels": consistency.FLICKER_LEVELS,
        "flicker.fraction": consistency.FLICKER_FRACTION,
        "slow_motion.min_confidence": mt.MIN_CONFIDENCE,
        "slow_motion.slow_tempo": mt.SLOW_TEMPO,
        "slow_motion.slow_ratio": mt.SLOW_MOTION_RATIO,
        "slow_motion.min_baseline_motion": mt.MIN_BASELINE_MOTION,
    }
    for key, lib in pairs.items():
        assert p.get(key) == lib, f"params {key} = {p.get(key)} but the library default is {lib}"
    assert replay.MIN_PERIOD_S == repetition.MIN_PERIOD_S  # one loop.min_period_s for both


def test_scoring_constants_are_views_of_the_defaults() -> None:
    from vqeval import scoring

    assert Params().caps() == scoring.FLAG_CAPS
    assert scoring.FLAG_CAPS == {
        "frozen": 30.0,
        "collapse": 30.0,
        "loop": 40.0,
        "motion_decay": 50.0,
        "drift": 50.0,
        "flicker": 60.0,
    }
    assert (scoring.VERDICT_GOOD, scoring.VERDICT_FAIR, scoring.DEFAULT_FLAG_CAP) == (70, 50, 50)


def test_one_tail_rule() -> None:
    from vqeval.metrics.stats import required_span_s

    assert required_span_s(3.0, 1.0, 0.2) == 1.0
    assert required_span_s(20.0, 1.0, 0.2) == 4.0
    assert TailRule().need(20.0) == 4.0 and Params().drift.tail.need(10.0) == 2.0


# ----------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"drift": {"cap": "x"}}, 'params: drift.cap: expected a number in [0, 100], got "x"'),
        ({"drift": {"cap": 120}}, "params: drift.cap: expected a number in [0, 100], got 120"),
        ({"drift": {"cap": True}}, "params: drift.cap: expected a number in [0, 100], got True"),
        ({"freeze": {"chnage_floor": 0.1}}, "params: freeze.chnage_floor: unknown key"),
        ({"freez": {}}, "params: freez: unknown section"),
        ({"loop": {"min_jumps": 2.5}}, "params: loop.min_jumps: expected an integer in [1, 10000]"),
        ({"loop": {"tight_ratio": 0}}, "params: loop.tight_ratio: expected a number in (0, 1]"),
        ({"freeze": {"tail": {"fraction": -0.1}}}, "params: freeze.tail.fraction: expected"),
        ({"freeze": {"tail": 3}}, "params: freeze.tail: expected a table, got 3"),
        ({"freeze": 0.3}, "params: freeze: expected a table, got 0.3"),
        ({"drift": {"cast": float("nan")}}, "params: drift.cast: expected a number"),
        ({"composite": {"fair": 80}}, "params: composite.fair: must not exceed composite.good"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        Params.from_dict(data)
    text = str(e.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: change_floor, snr_floor"):
        Params.from_dict({"freeze": {"nope": 1}})


def test_partial_tables_keep_the_other_defaults() -> None:
    p = Params.from_dict({"drift": {"tail": {"fraction": 0.2}}, "loop": {"strength": 0.9}})
    assert p.drift.tail == TailRule(2.0, 0.2)  # drift's own min_s, not TailRule's
    assert p.loop.strength == 0.9 and p.loop.min_away == Params().loop.min_away
    assert p.freeze == Params().freeze
    assert Params.from_dict({}) == Params() and Params().is_default()


def test_replace_by_dotted_keys() -> None:
    p = Params().replace({"freeze.change_floor": 0.02, "loop.min_jumps": 4})
    assert p.freeze.change_floor == 0.02 and p.loop.min_jumps == 4
    with pytest.raises(ConfigError, match=r"params: freeze\.nope"):
        Params().replace({"freeze.nope": 1})


# ----------------------------------------------------------- TOML


def test_toml_round_trip(tmp_path: Path) -> None:
    p = Params().replace(
        {"freeze.change_floor": 0.025, "loop.min_jumps": 4, "drift.tail.min_s": 3.0}
    )
    f = tmp_path / "p.toml"
    f.write_text(p.to_toml(header="written by a test\nsecond line"))
    assert Params.from_toml(f) == p
    text = f.read_text()
    assert text.startswith("# written by a test\n# second line\n")
    assert "[drift.tail]" in text and "min_jumps = 4" in text
    f.write_text(p.to_toml(only_changed=True))
    assert Params.from_toml(f) == p
    assert len(f.read_text().splitlines()) < 12
    assert Params.from_toml(_write(tmp_path, Params().to_toml())) == Params()


def _write(tmp_path: Path, text: str, name: str = "q.toml") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    for text, want in [
        ("[freeze\nx = 1", "malformed TOML"),
        ("[loop]\nstrength = 'high'", 'loop.strength: expected a number in [0, 1], got "high"'),
        ("a" + ".b" * 100 + " = 1", "more than 64 dots"),
    ]:
        with pytest.raises(ConfigError) as e:
            Params.from_toml(_write(tmp_path, text))
        assert want in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        Params.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"\(in .*q\.toml\)"):
        Params.from_toml(_write(tmp_path, "[freeze]\nshare = 2"))


def test_load_params_accepts_tree_mapping_and_path(tmp_path: Path) -> None:
    f = _write(tmp_path, "[flicker]\nlevels = 3.0\n")
    assert load_params(f).flicker.levels == 3.0
    assert load_params(str(f)) == load_params({"flicker": {"levels": 3}})
    assert load_params(None) == Params()
    with pytest.raises(ConfigError, match=r"expected a vqeval\.params\.Params"):
        load_params(3)  # type: ignore[arg-type]


def test_pyproject_table(tmp_path: Path) -> None:
    assert project_params(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert project_params(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[project\nname = broken\n")
    assert project_params(tmp_path) is None  # not ours: not parsed
    (tmp_path / "pyproject.toml").write_text("[tool.vqeval.freeze]\ncap = 25\n")
    got = project_params(tmp_path)
    assert got is not None and got[0].freeze.cap == 25.0
    (tmp_path / "pyproject.toml").write_text("[tool.vqeval.freeze]\ncapp = 25\n")
    with pytest.raises(ConfigError, match=r"params: tool\.vqeval\.freeze\.capp: unknown key"):
        project_params(tmp_path)


# ----------------------------------------------------------- config and cache


def test_config_takes_params_and_keys_them(tmp_path: Path) -> None:
    base = ScoreConfig()
    assert base.params == Params()
    changed = ScoreConfig(params={"loop": {"strength": 0.9}})
    assert changed.params.loop.strength == 0.9
    assert changed.key() != base.key()
    assert ScoreConfig(params=Params()).key() == base.key()
    f = _write(tmp_path, "[loop]\nstrength = 0.9\n")
    assert ScoreConfig(params=str(f)).key() == changed.key()
    with pytest.raises(ConfigError, match=r"params: loop\.strength"):
        ScoreConfig(params={"loop": {"strength": 2}})


def test_cache_key_changes_with_params_and_backbone_distances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vqeval import cache, weights

    rc = cache.ResultCache()
    k0 = rc.key(CLIP, ScoreConfig())
    assert rc.key(CLIP, ScoreConfig(params={"freeze": {"cap": 20}})) != k0
    cache.code_fingerprint.cache_clear()
    monkeypatch.setitem(weights.BACKBONE_DISTANCES, "timm", (0.06, 0.01))
    try:
        assert rc.key(CLIP, ScoreConfig()) != k0
    finally:
        monkeypatch.undo()
        cache.code_fingerprint.cache_clear()
    assert rc.key(CLIP, ScoreConfig()) == k0


# ----------------------------------------------------------- scoring


def _summary(r: vqeval.VideoResult) -> str:
    d = r.to_dict()
    keep = ("composite", "verdict", "flags", "loop_period_s", "flag_details", "dimensions")
    return json.dumps({k: d.get(k) for k in keep}, sort_keys=True, default=str)


def test_default_params_score_like_no_params() -> None:
    plain = vqeval.score_video(CLIP, raise_errors=True)
    explicit = vqeval.score_video(CLIP, params=Params(), raise_errors=True)
    via_config = vqeval.score_video(CLIP, ScoreConfig(params={}), raise_errors=True)
    assert _summary(plain) == _summary(explicit) == _summary(via_config)
    assert "frozen" in plain.flags


def test_params_reach_the_decisions() -> None:
    base = vqeval.score_video(CLIP, raise_errors=True)
    assert "frozen" in base.flags
    capped = vqeval.score_video(CLIP, params={"freeze": {"cap": 12.5}}, raise_errors=True)
    assert capped.composite == 12.5
    # a change floor of 0 counts every block as visibly changed: no freeze
    never = vqeval.score_video(
        CLIP,
        params={"freeze": {"change_floor": 0.0, "snr_floor": 0.0, "lively_change": 0.0}},
        raise_errors=True,
    )
    assert "frozen" not in never.flags


def test_summarize_reads_caps_and_verdict_words() -> None:
    from vqeval.results import DimensionScore
    from vqeval.scoring import summarize

    scores = {"a": DimensionScore("a", 90.0, {"flags": ["loop"]})}
    assert summarize(scores, {"a": 1.0}).composite == 40.0
    p = Params().replace({"loop.cap": 35.0, "composite.good": 95.0})
    assert summarize(scores, {"a": 1.0}, params=p).composite == 35.0
    clean = {"a": DimensionScore("a", 90.0, {})}
    assert summarize(clean, {"a": 1.0}).verdict == "good"
    assert summarize(clean, {"a": 1.0}, params=p).verdict == "fair"


def test_score_batch_takes_params(tmp_path: Path) -> None:
    rows = vqeval.score_batch([CLIP], workers=1, cache=False, params={"freeze": {"cap": 11}})
    assert rows[0].composite == 11.0


# ----------------------------------------------------------- CLI


def test_cli_params_file(tmp_path: Path) -> None:
    f = _write(tmp_path, "[freeze]\ncap = 12.0\n")
    out = tmp_path / "r.json"
    code, _, err = invoke(["score", str(CLIP), "--params", str(f), "--no-cache", "-j", "1",
                           "--json", str(out)])  # fmt: skip
    assert code == 0, err
    assert json.loads(out.read_text())["results"][0]["composite"] == 12.0


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("[drift]\ncap = 'x'\n", 'params: drift.cap: expected a number in [0, 100], got "x"'),
        ("[drift]\ncapp = 1\n", "params: drift.capp: unknown key"),
        ("[drift\n", "malformed TOML"),
    ],
)
def test_cli_bad_params_exit_2_with_one_line(tmp_path: Path, text: str, want: str) -> None:
    f = _write(tmp_path, text)
    code, _, err = invoke(["score", str(CLIP), "--params", str(f), "--no-cache"])
    assert code == 2
    assert want in one_error_line(err)


def test_cli_reads_pyproject_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.vqeval.freeze]\ncap = 13\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.json"
    code, _, err = invoke(["score", str(CLIP), "--no-cache", "-j", "1", "--json", str(out)])
    assert code == 0, err
    assert json.loads(out.read_text())["results"][0]["composite"] == 13.0
    # --params wins over the project's table
    f = _write(tmp_path, "[freeze]\ncap = 14\n")
    code, _, err = invoke(["score", str(CLIP), "--params", str(f), "--no-cache", "-j", "1",
                           "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["results"][0]["composite"] == 14.0
    (tmp_path / "pyproject.toml").write_text("[tool.vqeval.freeze]\ncap = -1\n")
    code, _, err = invoke(["score", str(CLIP), "--no-cache"])
    assert code == 2 and "tool.vqeval.freeze.cap" in one_error_line(err)


def test_dataclass_fields_carry_unit_and_range() -> None:
    def walk(obj: object, prefix: str) -> list[str]:
        out = []
        for f in dataclasses.fields(obj):  # type: ignore[arg-type]
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v):
                out += walk(v, f"{prefix}{f.name}.")
            else:
                assert f.metadata.get("unit") and "range" in f.metadata, prefix + f.name
                out.append(prefix + f.name)
        return out

    keys = walk(Params(), "")
    assert len(keys) >= 54

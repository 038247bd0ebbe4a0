"""text_alignment: prompts from sidecars, --prompt and --prompts, CLIP similarity
over time, skipped (not failed) without a prompt or weights; in score and compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from vqeval.metrics.alignment import clip_score, text_alignment

from tests.badinputs import make_clip
from vqeval.config import ScoreConfig
from vqeval.prompts import load_prompts, prompt_for
from vqeval.results import ConfigError

# ------------------------------------------------------------------- metrics


def test_alignment_mean_and_drift_away_from_the_prompt() -> None:
    t = np.array([1.0, 0.0, 0.0])
    angles = np.linspace(0.2, 1.4, 12)  # frames turn away from the prompt
    f = np.stack([np.cos(angles), np.sin(angles), np.zeros(12)], axis=1)
    a = text_alignment(f, t)
    np.testing.assert_allclose(a.per_frame, np.cos(angles), atol=1e-12)
    assert a.early == pytest.approx(np.cos(angles[:4]).mean())
    assert a.late == pytest.approx(np.cos(angles[-4:]).mean())
    assert a.drift < -0.5 and a.mean == pytest.approx(np.cos(angles).mean())
    steady = text_alignment(np.repeat(f[:1], 6, axis=0), t)
    assert steady.drift == pytest.approx(0.0)
    with pytest.raises(ValueError):
        text_alignment(f, np.ones(4) / 2)


def test_clip_score_mapping() -> None:
    assert clip_score(0.4) == pytest.approx(100.0)
    assert clip_score(0.2) == pytest.approx(50.0)
    assert clip_score(-0.3) == 0.0 and clip_score(0.9) == 100.0


# ------------------------------------------------------------------- prompts


def test_prompt_priority_and_files(tmp_path: Path) -> None:
    video = tmp_path / "a-fox_s0.mp4"
    video.write_bytes(b"")
    assert prompt_for(video, ScoreConfig())[0] is None
    (tmp_path / "a-fox_s0.json").write_text(json.dumps({"prompt": "a  fox\nin snow", "seed": 0}))
    assert prompt_for(video, ScoreConfig()) == ("a fox in snow", "sidecar a-fox_s0.json")

    csv_file = tmp_path / "p.csv"
    csv_file.write_text('path,prompt\na-fox_s0.mp4,"a red fox, running"\n')
    table = load_prompts(csv_file)
    assert prompt_for(video, ScoreConfig(prompts=table)) == ("a red fox, running", "--prompts")
    js = tmp_path / "p.json"
    js.write_text(json.dumps({str(video): "from json"}))
    assert prompt_for(video, ScoreConfig(prompts=load_prompts(js)))[0] == "from json"
    cfg = ScoreConfig(prompt="one for all", prompts=table)
    assert prompt_for(video, cfg) == ("one for all", "--prompt")

    bad = tmp_path / "bad.csv"
    bad.write_text("file,text\nx,y\n")
    with pytest.raises(ConfigError, match="'path' and 'prompt'"):
        load_prompts(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_prompts(tmp_path / "none.csv")


def test_cache_key_follows_the_sidecar_prompt(tmp_path: Path) -> None:
    """A sidecar edited after scoring must not return the old prompt's cached row."""
    from vqeval.cache import ResultCache

    video = tmp_path / "a-fox_s0.mp4"
    video.write_bytes(b"not really a video, only hashed")
    cache, cfg = ResultCache(tmp_path / "cache"), ScoreConfig(dimensions=("text_alignment",))
    other = ScoreConfig(dimensions=("freeze",))  # reads no sidecar: its key ignores the prompt
    bare, bare_other = cache.key(video, cfg), cache.key(video, other)
    side = tmp_path / "a-fox_s0.json"
    side.write_text(json.dumps({"prompt": "a fox"}))
    fox = cache.key(video, cfg)
    side.write_text(json.dumps({"prompt": "a wolf"}))
    wolf = cache.key(video, cfg)
    assert len({bare, fox, wolf}) == 3
    assert cache.key(video, other) == bare_other
    side.write_text(json.dumps({"prompt": "a  fox"}))  # the same prompt once normalised
    assert cache.key(video, cfg) == fox


# ------------------------------------------------------------------ end to end


def _cli(args: list[str]) -> tuple[int, str]:
    from vqeval.cli import main

    r = CliRunner().invoke(main, args)
    return r.exit_code, r.output


def _generated_out(tmp_path: Path) -> Path:
    """``out/<method>/<slug>_s<seed>.mp4`` + sidecars, as lvsa-generate lays them out."""
    from lvsa.generators.output import clip_paths, write_json

    out = tmp_path / "out"
    for method in ("dense", "lvsa"):
        for prompt in ("a red fox", "a blue car"):
            mp4, side = clip_paths(out, method, prompt, 0)
            mp4.parent.mkdir(parents=True, exist_ok=True)
            make_clip(mp4.parent, mp4.name, n=12, width=64, height=48, fps=8.0)
            write_json(side, {"prompt": prompt, "seed": 0, "method": method})
    make_clip(out / "dense", "no-sidecar.mp4", n=12, width=64, height=48, fps=8.0)
    return out


@pytest.fixture
def tiny_clip_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_weights import LAION_REPO, _hf_cache_file, _tiny_clip_as_vitb32

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    from vqeval import weights
    from vqeval.dimensions import alignment

    weights.clear_cache()
    alignment._tried.clear()
    model = _tiny_clip_as_vitb32(monkeypatch)
    _hf_cache_file(LAION_REPO, "open_clip_model.safetensors", model.state_dict())
    yield
    weights.clear_cache()
    alignment._tried.clear()


def test_score_generator_output_picks_up_sidecar_prompts(tmp_path: Path, tiny_clip_cached) -> None:
    pytest.importorskip("open_clip")
    out = _generated_out(tmp_path)
    js = tmp_path / "r.json"
    # the default CLIP model is in the cache: text_alignment joins the defaults
    code, text = _cli(["score", str(out), "--no-cache", "-j", "1", "--json", str(js)])
    assert code == 0, text
    rows = {Path(r["path"]).name: r for r in json.loads(js.read_text())["results"]}
    fox = rows["a-red-fox_s0.mp4"]
    assert fox["raw"]["text_alignment"]["prompt"] == "a red fox"
    assert fox["raw"]["text_alignment"]["prompt_source"] == "sidecar a-red-fox_s0.json"
    assert 0.0 <= fox["scores"]["text_alignment"] <= 100.0
    assert fox["backbones"]["text_alignment"] == "clip:ViT-B-32/laion2b_s34b_b79k"
    assert "freeze" in fox["scores"]  # the defaults still run
    lone = rows["no-sidecar.mp4"]
    assert lone["status"] == "ok" and lone["scores"]["text_alignment"] is None
    assert "no prompt" in lone["raw"]["text_alignment"]["reason"]

    # --prompt wins over the sidecars
    code, text = _cli(["score", str(out / "dense"), "--no-cache", "-j", "1", "-d",
                       "text_alignment", "--prompt", "a green tree", "--json", str(js)])  # fmt: skip
    assert code == 0, text
    raws = [r["raw"]["text_alignment"] for r in json.loads(js.read_text())["results"]]
    assert {r["prompt"] for r in raws} == {"a green tree"}

    # compare pairs the methods by file name and reports text_alignment
    cj = tmp_path / "c.json"
    code, text = _cli(["compare", str(out / "dense"), str(out / "lvsa"), "--no-cache", "-j", "1",
                       "-d", "text_alignment", "--json", str(cj)])  # fmt: skip
    assert code == 0, text
    assert "text_alignment" in cj.read_text()


def test_without_weights_text_alignment_is_skipped_not_failed(tmp_path: Path) -> None:
    from vqeval.dimensions import alignment

    alignment._tried.clear()
    out = _generated_out(tmp_path)
    js = tmp_path / "r.json"
    code, text = _cli(["score", str(out / "dense"), "--no-cache", "-j", "1", "-d",
                       "text_alignment,freeze", "--json", str(js)])  # fmt: skip
    assert code == 0, text
    for r in json.loads(js.read_text())["results"]:
        assert r["status"] == "ok" and r["scores"]["text_alignment"] is None
        assert r["scores"]["freeze"] is not None
    reasons = [r["raw"]["text_alignment"]["reason"] for r in json.loads(js.read_text())["results"]]
    assert any("CLIP weights unavailable" in x and "hf download" in x for x in reasons)
    alignment._tried.clear()


def test_dimensions_lists_text_alignment() -> None:
    code, text = _cli(["dimensions"])
    assert code == 0 and "text_alignment" in text

"""generators: specs, horizon arithmetic, names, method parsing and CLI argument errors.

No model is built here; the end-to-end sweeps with a tiny Wan model are in
test_generators_pipeline.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from click.testing import CliRunner
from lvsa.generators import models
from lvsa.generators.cli import main, parse_option, parse_seeds
from lvsa.generators.encoding import encode_stand_in
from lvsa.generators.errors import GeneratorError
from lvsa.generators.horizon import (
    check_frames,
    check_resolution,
    frames_for_horizon,
    latent_frames,
    parse_horizon,
    snap_frames,
)
from lvsa.generators.methods import METHODS, parse_methods
from lvsa.generators.models import ModelSpec, get_model, resolve_model
from lvsa.generators.output import clip_paths, slugify


def test_horizon_multiples_follow_training_intervals_for_wan():
    wan = get_model("wan2.1-t2v-1.3b")
    frames = {h: frames_for_horizon(wan, h) for h in (1, 2, 4, 6)}
    assert frames == {1: 81, 2: 161, 4: 321, 6: 481}
    assert [latent_frames(wan, f) for f in frames.values()] == [21, 41, 81, 121]
    # 6x at 480p is 188,760 tokens (RESEARCH.md section 3)
    assert wan.tokens_per_latent_frame(480, 832) * 121 == 188_760
    assert wan.tokens_per_latent_frame(720, 1280) == 3600


def test_hunyuanvideo15_geometry_and_fractional_horizon():
    hy = get_model("hunyuanvideo-1.5-480p")
    assert hy.tokens_per_latent_frame(hy.height, hy.width) == 1590
    assert hy.reference_frames == 33
    assert frames_for_horizon(hy, parse_horizon("1.5x")) == 181
    assert latent_frames(hy, 181) == 46


def test_frames_snap_to_4k_plus_1():
    assert snap_frames(100, 4) == 101
    assert snap_frames(81, 4) == 81
    assert snap_frames(1, 4) == 1
    assert check_frames(get_model("wan2.1-t2v-1.3b"), 33) == 33
    with pytest.raises(GeneratorError, match="4k\\+1"):
        check_frames(get_model("wan2.1-t2v-1.3b"), 32)


@pytest.mark.parametrize("bad", ["abc", "0x", "7x", "-2x", ""])
def test_bad_horizon_is_rejected_with_the_accepted_range(bad):
    with pytest.raises(GeneratorError, match=r"1x\.\.6x|outside"):
        parse_horizon(bad)


def test_resolution_must_fit_vae_and_patch():
    wan = get_model("wan2.1-t2v-1.3b")
    assert check_resolution(wan, 480, 832) == (480, 832)
    with pytest.raises(GeneratorError, match="multiple of 16"):
        check_resolution(wan, 480, 830)


def test_wan22_has_two_experts_and_second_guidance():
    spec = get_model("wan2.2-t2v-a14b")
    assert spec.experts == ("transformer", "transformer_2")
    assert spec.guidance_2 is not None
    assert get_model("wan2.1-t2v-14b").experts == ("transformer",)


def test_preset_can_be_found_by_hub_id_and_unknown_names_fail(monkeypatch, tmp_path):
    assert resolve_model("Wan-AI/Wan2.1-T2V-1.3B-Diffusers").name == "wan2.1-t2v-1.3b"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(GeneratorError, match=r"nobody/nothing is not in the local cache"):
        resolve_model("nobody/nothing")
    with pytest.raises(GeneratorError, match=r"unknown model.*existing local diffusers folder"):
        resolve_model("./no/such/folder")


def test_registry_is_pluggable_and_can_change_the_default(monkeypatch):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    monkeypatch.setattr(models, "_DEFAULT", list(models._DEFAULT))
    tiny = dataclasses.replace(get_model("wan2.1-t2v-1.3b"), name="tiny-test", repo="x/tiny")
    models.register_model(tiny, default=True)
    assert models.default_model() == "tiny-test"
    assert resolve_model(None) is tiny
    assert "tiny-test" in models.model_names()
    with pytest.raises(GeneratorError, match="already registered"):
        models.register_model(tiny, replace_existing=False)


def test_spec_rejects_training_length_off_the_vae_grid():
    with pytest.raises(GeneratorError, match="4k\\+1"):
        dataclasses.replace(get_model("wan2.1-t2v-1.3b"), train_frames=80)


def test_slugs_are_file_safe_and_long_prompts_stay_distinct():
    assert slugify("A red fox, running through SNOW!") == "a-red-fox-running-through-snow"
    a = slugify("a very long prompt " * 5 + "ending one")
    b = slugify("a very long prompt " * 5 + "ending two")
    assert a != b and len(a) <= 48 + 7
    video, sidecar = clip_paths("out", "lvsa", "A cat", 3)
    assert (str(video), str(sidecar)) == ("out/lvsa/a-cat_s3.mp4", "out/lvsa/a-cat_s3.json")


def test_methods_parse_from_repeats_and_comma_lists():
    assert parse_methods(["dense,lvsa", "riflex", "lvsa"]) == ["dense", "lvsa", "riflex"]
    assert set(METHODS) == {"dense", "lvsa", "riflex", "ultravico", "lvsa+riflex"}
    assert METHODS["lvsa+riflex"].sparse and not METHODS["riflex"].sparse
    with pytest.raises(GeneratorError, match=r"unknown method 'sparse'.*dense"):
        parse_methods("dense,sparse")


def test_seed_and_option_parsing():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5, 1,5") == [5, 1]
    with pytest.raises(GeneratorError, match="--seeds"):
        parse_seeds("a-b")
    assert parse_option("window=3") == ("window", 3)
    assert parse_option("scale=1.5") == ("scale", 1.5)
    assert parse_option("rotate=false") == ("rotate", False)


def test_stand_in_encoder_is_deterministic_per_prompt():
    spec = dataclasses.replace(get_model("wan2.1-t2v-1.3b"), text_encoder="stand-in", text_dim=8)
    cpu = torch.device("cpu")
    one = encode_stand_in(None, spec, "a fox", "", cpu, torch.float32)
    two = encode_stand_in(None, spec, "a fox", "", cpu, torch.float32)
    other = encode_stand_in(None, spec, "a dog", "", cpu, torch.float32)
    assert one["prompt_embeds"].shape == (1, 16, 8)
    assert torch.equal(one["prompt_embeds"], two["prompt_embeds"])
    assert not torch.equal(one["prompt_embeds"], other["prompt_embeds"])
    hy = dataclasses.replace(
        get_model("hunyuanvideo-1.5-480p"), text_encoder="stand-in", text_dim=8, text_dim_2=4
    )
    out = encode_stand_in(None, hy, "a fox", "", cpu, torch.float32)
    assert out["prompt_embeds_2"].shape == (1, 16, 4)
    assert out["negative_prompt_embeds_mask"].shape == (1, 16)


def _run(args, env=None):
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.output


def test_cli_unknown_method_fails_with_one_line(tmp_path):
    code, text = _run(["--prompt", "a fox", "--method", "dense,magic", "--out", str(tmp_path)])
    assert code == 2
    assert text.strip().count("\n") == 0 and "unknown method 'magic'" in text


def test_cli_bad_horizon_fails(tmp_path):
    code, text = _run(["--prompt", "a fox", "--horizon", "9x", "--out", str(tmp_path)])
    assert code == 2 and "outside 1x..6x" in text


def test_cli_missing_prompt_file_and_no_prompt_fail(tmp_path):
    code, text = _run(["--prompts", str(tmp_path / "none.txt"), "--out", str(tmp_path)])
    assert code == 2 and "cannot read prompt file" in text
    code, text = _run(["--out", str(tmp_path)])
    assert code == 2 and "no prompt given" in text


def test_cli_missing_weights_offline_names_the_model_and_how_to_download(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    code, text = _run(
        ["--model", "wan2.1-t2v-1.3b", "--prompt", "a fox", "--out", str(tmp_path / "o")], env
    )
    assert code == 2
    line = text.strip().splitlines()[-1]
    assert line.startswith("error: weights for wan2.1-t2v-1.3b (Wan-AI/Wan2.1-T2V-1.3B-Diffusers)")
    assert "hf download Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in line
    assert not (tmp_path / "o" / "dense").exists()


def test_cli_dry_run_prints_frames_and_tokens(tmp_path):
    args = ["--model", "wan2.1-t2v-1.3b", "--prompt", "a fox", "--horizon", "6x", "--dry-run"]
    code, text = _run([*args, "--method", "dense,lvsa"])
    assert code == 0
    assert "481 frames = 121 latent frames" in text and "188760 tokens" in text
    assert "2 clips" in text


def test_cli_lists_presets():
    code, text = _run(["--list-models"])
    assert code == 0
    for name in ("wan2.1-t2v-1.3b", "wan2.2-t2v-a14b", "hunyuanvideo-1.5-720p"):
        assert name in text


def test_spec_fields_are_plain_data():
    spec: ModelSpec = get_model("wan2.1-t2v-1.3b")
    d = spec.to_dict()
    assert d["train_latent_frames"] == 21 and d["vae_stride"] == [4, 8, 8]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]


def test_cli_compile_flag_reaches_the_sweep(tmp_path, monkeypatch):
    from lvsa.generators import runner

    seen = []

    def fake_sweep(prompts, *, config, **kwargs):
        seen.append(config)
        return runner.SweepReport()

    monkeypatch.setattr(runner, "sweep", fake_sweep)
    for flag, want in (([], False), (["--compile"], True)):
        code, text = _run(["--prompt", "a fox", "--out", str(tmp_path), "-q", *flag])
        assert code == 0, text
        assert seen[-1].compile is want

"""Tiny video DiT: procedural data, shipped weights, pipeline glue, generator preset."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from lvsa.generators.tinydit import (  # noqa: E402
    CONDITIONS,
    DEFAULT_FOLDER,
    DataConfig,
    ProceduralVideos,
    TinyDiTConfig,
    TinyDiTPipeline,
    condition_for_prompt,
    load,
)
from lvsa.generators.tinydit.pipeline import sigma_schedule  # noqa: E402

SHIPPED = (DEFAULT_FOLDER / "model.safetensors").is_file()
needs_weights = pytest.mark.skipif(not SHIPPED, reason="data/tinydit weights not present")


@pytest.fixture(scope="module")
def videos() -> ProceduralVideos:
    return ProceduralVideos(DataConfig(size=24, frames=16))


@pytest.fixture(scope="module")
def pipe() -> TinyDiTPipeline:
    if not SHIPPED:
        pytest.skip("data/tinydit weights not present")
    torch.set_num_threads(2)
    return TinyDiTPipeline.from_pretrained()


def test_procedural_batch_shape_range_and_labels(videos: ProceduralVideos) -> None:
    labels = torch.tensor([0, 3, 5, 7])
    v, y = videos.sample(4, labels=labels, generator=torch.Generator().manual_seed(0))
    assert v.shape == (4, 3, 16, 24, 24)
    assert v.dtype == torch.float32
    assert float(v.min()) >= -1.0 and float(v.max()) <= 1.0
    assert torch.equal(y, labels)
    assert videos.num_classes == len(CONDITIONS) == 8


def test_procedural_is_seeded(videos: ProceduralVideos) -> None:
    a, _ = videos.sample(2, generator=torch.Generator().manual_seed(1))
    b, _ = videos.sample(2, generator=torch.Generator().manual_seed(1))
    c, _ = videos.sample(2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_procedural_motion_is_continuous_and_not_static(videos: ProceduralVideos) -> None:
    v, _ = videos.sample(8, frames=48, generator=torch.Generator().manual_seed(3))
    step = (v[:, :, 1:] - v[:, :, :-1]).abs().mean(dim=(1, 3, 4))  # (B, T-1) in [-1,1] units
    assert float(step.min()) > 0.0  # every frame pair changes
    assert float(step.mean()) < 0.25  # small steps: continuous, not cuts
    # camera keeps travelling: late frames differ from early ones more than neighbours do
    far = (v[:, :, -1] - v[:, :, 0]).abs().mean()
    assert float(far) > 2 * float(step.mean())


def test_camera_travels_in_the_condition_direction(videos: ProceduralVideos) -> None:
    # coffee-pan-right: content moves left in the frame; compare shifted frames
    cfg = DataConfig(size=24, frames=12, sprite_radius=(0.0, 0.0))
    plain = ProceduralVideos(cfg, photos=videos.photos)
    v, _ = plain.sample(
        16, labels=torch.zeros(16, dtype=torch.long), generator=torch.Generator().manual_seed(4)
    )
    a, b = v[:, :, 0], v[:, :, 8]  # about 4-8 px of travel to the right

    def err(dx: int) -> float:  # b(x) ~ a(x + dx) for dx > 0 when the camera pans right
        return float((b[..., : 24 - 6] - a[..., dx : dx + 24 - 6]).abs().mean())

    assert min(err(dx) for dx in range(3, 7)) < err(0)


def test_condition_for_prompt_mapping() -> None:
    assert condition_for_prompt("coffee-pan-right") == 0
    assert condition_for_prompt(3) == 3
    assert condition_for_prompt("5") == 5
    cat_up = condition_for_prompt("a cat, camera moving up")
    assert CONDITIONS[cat_up].name == "chelsea-pan-up"
    free = condition_for_prompt("a red fox running through snow")
    assert free == condition_for_prompt("a red fox running through snow")
    assert 0 <= free < 8
    with pytest.raises(ValueError):
        condition_for_prompt(8)


def test_sigma_schedule_endpoints_and_monotone() -> None:
    s = sigma_schedule(10, 2.0)
    assert s.shape == (11,)
    assert float(s[0]) == pytest.approx(1.0) and float(s[-1]) == pytest.approx(0.0)
    assert bool((s[1:] < s[:-1]).all())


def test_config_round_trip() -> None:
    cfg = TinyDiTConfig()
    assert TinyDiTConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.null_class == cfg.num_classes == 8


@needs_weights
def test_shipped_files_are_small_and_described() -> None:
    w = DEFAULT_FOLDER / "model.safetensors"
    assert w.stat().st_size <= 16 * 1024 * 1024
    meta = json.loads((DEFAULT_FOLDER / "config.json").read_text())
    assert meta["transformer"]["in_channels"] == 3
    assert meta["tinydit"]["reference_frames"] == 16
    assert (DEFAULT_FOLDER / "train_log.txt").is_file()


@needs_weights
def test_shipped_weights_load_into_wan_transformer() -> None:
    from diffusers import WanTransformer3DModel

    model = load()
    assert isinstance(model.transformer, WanTransformer3DModel)
    assert model.class_embedding.weight.shape[0] == 9
    assert all(torch.isfinite(p).all() for p in model.parameters())


@needs_weights
def test_pipeline_generates_finite_frames(pipe: TinyDiTPipeline) -> None:
    out = pipe(
        ["coffee-pan-right", "chelsea-pan-up"],
        num_frames=16,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
    )
    frames = out.frames
    assert frames.shape == (2, 16, 24, 24, 3)
    assert np.isfinite(frames).all()
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    assert frames.std() > 0.01  # not a constant image


@pytest.mark.slow
@needs_weights
def test_pipeline_is_reproducible_and_longer_than_horizon(pipe: TinyDiTPipeline) -> None:
    kw = {"num_inference_steps": 2, "output_type": "pt"}
    a = pipe(1, num_frames=32, generator=torch.Generator().manual_seed(5), **kw).frames
    b = pipe(1, num_frames=32, generator=torch.Generator().manual_seed(5), **kw).frames
    assert a.shape == (1, 3, 32, 24, 24)
    assert torch.equal(a, b)


@needs_weights
def test_pipeline_rejects_wrong_resolution(pipe: TinyDiTPipeline) -> None:
    with pytest.raises(ValueError, match="24 px"):
        pipe(0, height=32, num_frames=16, num_inference_steps=1)


@needs_weights
def test_lvsa_at_training_horizon_equals_dense(pipe: TinyDiTPipeline) -> None:
    lvsa = pytest.importorskip("lvsa")
    kw = {"num_frames": 16, "num_inference_steps": 2, "output_type": "pt"}
    dense = pipe(2, generator=torch.Generator().manual_seed(0), **kw).frames
    lvsa.apply(pipe, lvsa.LVSAConfig(reference_frames=16, window=3, backend="portable"))
    try:
        sparse = pipe(2, generator=torch.Generator().manual_seed(0), **kw).frames
        assert lvsa.density(pipe) == pytest.approx(1.0)
    finally:
        lvsa.remove(pipe)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=0)


@needs_weights
def test_tiny_registers_itself_as_the_default_generator_preset() -> None:
    import lvsa.generators.tinydit as tinydit
    from lvsa.generators import models

    previous = models.get_model(models.default_model())
    try:
        tinydit._register()
        assert models.default_model() == "tiny"
    finally:
        models.register_model(previous, default=True)
    spec = models.get_model("tiny")
    assert spec.reference_frames == 16 and spec.patch == (1, 4, 4)
    assert spec.height == spec.width == 24


@needs_weights
def test_generators_sweep_writes_a_tiny_clip(tmp_path) -> None:
    import lvsa.generators as generators

    report = generators.sweep(
        ["a cat, camera moving up"],
        methods="dense",
        out=tmp_path,
        progress=False,
        model="tiny",
        steps=2,
        device="cpu",
    )
    assert report.failed == 0 and report.generated == 1
    mp4s = list((tmp_path / "dense").glob("*.mp4"))
    assert len(mp4s) == 1 and mp4s[0].stat().st_size > 0
    sidecar = json.loads(mp4s[0].with_suffix(".json").read_text())
    assert sidecar["model"] == "tiny" and sidecar["frames"] == 16
    # what `vqeval score out/` reads for text_alignment: the generator's own sidecar
    from vqeval.config import ScoreConfig
    from vqeval.prompts import prompt_for

    assert prompt_for(mp4s[0], ScoreConfig()) == (
        "a cat, camera moving up",
        f"sidecar {mp4s[0].with_suffix('.json').name}",
    )

"""LVSAConfig: per-model defaults (one table), explicit values win, describe() says why,
and the FlashInfer query layout is a config field that reaches the kernel call."""

from __future__ import annotations

import pytest
import torch

import lvsa
from lvsa.config import MODEL_DEFAULTS

diffusers = pytest.importorskip("diffusers")

from tests.test_lvsa_diffusers import hunyuan_inputs, tiny_hunyuan, tiny_wan, wan_inputs  # noqa: E402


def test_model_defaults_are_the_reference_rules() -> None:
    assert MODEL_DEFAULTS["wan"].reference_frames == 21
    assert MODEL_DEFAULTS["hunyuan15"].reference_frames == 33
    cfg = lvsa.LVSAConfig()
    assert cfg.reference_frames is None and cfg.query_layout == "auto"
    # no model known yet: Wan's 21, and describe() says it is a fallback
    assert cfg.effective_reference_frames == 21
    text = cfg.describe(121)
    assert "reference_frames=21" in text and "no model detected" in text
    assert "kfi=9" in text  # Wan 6x at the reference rule


def test_apply_takes_the_detected_models_default() -> None:
    wan, hy = tiny_wan(), tiny_hunyuan()
    s_wan = lvsa.apply(wan)
    s_hy = lvsa.apply(hy, lvsa.LVSAConfig())
    assert s_wan.options.model == "wan" and s_wan.options.effective_reference_frames == 21
    assert s_hy.options.model == "hunyuan15" and s_hy.options.effective_reference_frames == 33
    text = s_hy.options.describe(65)
    assert "reference_frames=33" in text and "HunyuanVideo 1.5" in text
    assert "detected by lvsa.apply" in text
    # 65 latent frames = 2x of HunyuanVideo 1.5: the reference's kfi and density
    ref33 = lvsa.frame_pattern(65, 0, reference_frames=33)
    assert s_hy.options.pattern(65) == ref33
    assert s_hy.options.pattern(65) != lvsa.frame_pattern(65, 0, reference_frames=21)
    # the forward really uses it
    with torch.no_grad():
        hy(**hunyuan_inputs(frames=40), return_dict=False)
    assert s_hy.last_density == pytest.approx(
        lvsa.frame_pattern(40, 0, reference_frames=33).density
    )
    lvsa.remove(wan)
    lvsa.remove(hy)


def test_explicit_reference_frames_wins() -> None:
    hy = tiny_hunyuan()
    s = lvsa.apply(hy, lvsa.LVSAConfig(reference_frames=21))
    assert s.options.effective_reference_frames == 21
    assert "set explicitly" in s.options.describe(65)
    with torch.no_grad():
        hy(**hunyuan_inputs(frames=40), return_dict=False)
    assert s.last_density == pytest.approx(lvsa.frame_pattern(40, 0, reference_frames=21).density)
    lvsa.remove(hy)


def test_ultravico_takes_the_models_default() -> None:
    hy = tiny_hunyuan()
    s = lvsa.ultravico.apply(hy)
    assert s.options.reference_frames == 33
    lvsa.ultravico.remove(hy)
    s = lvsa.ultravico.apply(tiny_wan(), reference_frames=5)
    assert s.options.reference_frames == 5


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        lvsa.LVSAConfig(query_layout="tiles")
    with pytest.raises(ValueError):
        lvsa.LVSAConfig(reference_frames=0)
    with pytest.raises(ValueError):
        lvsa.LVSAConfig(model="sora")


@pytest.mark.parametrize("layout", ["auto", "aligned", "runs"])
def test_query_layout_reaches_the_flashinfer_call(layout, monkeypatch) -> None:
    """The layout is a config field (no module global): a stand-in FlashInfer kernel
    records what the installed processor passes."""
    import lvsa.backends as backends

    seen: list[str] = []

    def fake_fi(q, k, v, plan, text_valid=None, scale=None, tile=None, layout="?"):
        seen.append(layout)
        return backends.portable_attention(q, k, v, plan, text_valid, scale)

    monkeypatch.setattr(backends, "resolve_backend", lambda *a, **k: "flashinfer")
    monkeypatch.setattr(backends, "flashinfer_attention", fake_fi)
    monkeypatch.setattr(
        lvsa.api.fi_backend, "prepare", lambda *a, layout="?", **k: seen.append(layout)
    )
    model = tiny_wan()
    x, t, text = wan_inputs(frames=30)
    lvsa.apply(model, lvsa.LVSAConfig(reference_frames=4, query_layout=layout))
    with torch.no_grad():
        model(x, t, text, return_dict=False)
    lvsa.remove(model)
    assert seen and set(seen) == {layout}


def test_flashinfer_plans_every_offset_on_the_first_call(monkeypatch) -> None:
    """The first call of a geometry plans all ``kfi`` anchor offsets (a stand-in records
    the FlashInfer ``prepare`` calls); later steps plan nothing new."""
    import lvsa.api as api
    import lvsa.backends as backends

    prepared: list[int] = []
    monkeypatch.setattr(backends, "resolve_backend", lambda *a, **k: "flashinfer")
    monkeypatch.setattr(
        api.fi_backend, "prepare", lambda plan, q, tv, **kw: prepared.append(plan.pattern.offset)
    )
    monkeypatch.setattr(
        backends,
        "flashinfer_attention",
        lambda q, k, v, plan, tv=None, scale=None, **kw: backends.portable_attention(
            q, k, v, plan, tv, scale
        ),
    )
    model = tiny_wan()
    x, _, text = wan_inputs(frames=30)
    sess = lvsa.apply(model, lvsa.LVSAConfig(reference_frames=4))
    kfi = sess.options.pattern(30).anchor_interval
    assert kfi > 2
    with torch.no_grad():
        for t in (900.0, 800.0, 700.0):
            model(x, torch.tensor([t]), text, return_dict=False)
    lvsa.remove(model)
    assert sorted(prepared) == list(range(kfi))

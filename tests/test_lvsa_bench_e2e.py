"""benchmarks/bench_e2e.py at tiny shapes on the CPU, so the GPU benchmark cannot rot.

No timing is asserted: only that every stage is recorded, the formula is the stated
arithmetic, LVSA is really sparse at 2x, and the reports are written.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_script

pytest.importorskip("diffusers")
pytest.importorskip("tokenizers")


@pytest.mark.slow
def test_bench_e2e_tiny_runs_every_stage(tmp_path) -> None:
    bench = load_script("benchmarks/bench_e2e.py", "bench_e2e")
    argv = ["--tiny", "--out", str(tmp_path), "--modes", "eager", "--horizons", "1", "2"]
    argv += ["--steps", "2", "--full-steps", "3", "--check", "lvsa:2", "--vae-check", "1"]
    assert bench.main(argv) == 0
    res = json.loads((tmp_path / "e2e.json").read_text())
    md = (tmp_path / "e2e.md").read_text()
    assert "Tiny CPU models" in md and "end-to-end speed-up" in md
    rows = res["rows"]
    # 2 horizons x (dense, lvsa) with 2 steps, then the whole 3-step LVSA check
    assert [(r["horizon"], r["method"], r["steps"]) for r in rows] == [
        (1.0, "dense", 2),
        (1.0, "lvsa", 2),
        (2.0, "dense", 2),
        (2.0, "lvsa", 2),
        (2.0, "lvsa", 3),
    ]
    for r in rows:
        assert "error" not in r, r.get("error")
        assert r["finite"]
        assert len(r["steps_s"]) == r["steps"]
        for k in ("text_s", "decode_s", "denoise_s", "total_s"):
            assert r[k] > 0
        parts = r["text_s"] + r["denoise_s"] + r["decode_s"] + r["other_s"]
        assert parts == pytest.approx(r["total_s"])
        pred = r["text_s"] + 3 * r["step_s"] + r["decode_s"] + r["other_s"]
        assert r["pred_3_s"] == pytest.approx(pred)
        if r["steps"] == 2:
            assert r["step_s"] == r["steps_s"][-1]  # the later step
        assert r["pred_3_cold_s"] == pytest.approx(pred + r["first_step_s"] - r["step_s"])
    # 1x is dense inside the horizon; 2x is sparse (the tiny reference is 9 latent frames)
    assert rows[1]["density"] == 1.0
    assert rows[3]["density"] < 0.9
    assert rows[0]["density"] is None  # dense: no LVSA session
    assert [(s["mode"], s["horizon"]) for s in res["summary"]] == [("eager", 1.0), ("eager", 2.0)]
    (check,) = res["checks"]
    assert check["method"] == "lvsa" and check["measured_s"] == rows[-1]["total_s"]
    assert check["predicted_s"] == rows[3]["pred_3_s"]
    (vae,) = res["vae"]
    assert vae["untiled"]["s"] > 0 and vae["tiled"]["s"] > 0

"""``text_alignment``: does the video show its prompt, to the end?

CLIP similarity between the prompt and every analysis frame
(:func:`metrics.alignment.text_alignment`): the score is CLIPScore of the mean
cosine (``100 * min(1, 2.5 * max(cos, 0))``, Hessel et al. 2021), and the raw
values add the trend, late third vs first third (long videos drift away from
their prompt).

The prompt comes from ``--prompt``, a ``--prompts`` file or the generator's
sidecar JSON (:func:`vqeval.prompts.prompt_for`); without one the dimension is
skipped for that video (score ``None`` with the reason). The CLIP model is
``--backbone`` when that is ``clip:MODEL/TAG``, else
:data:`vqeval.weights.DEFAULT_TEXT_CLIP`; when its weights cannot be had
(offline, no cache) the dimension is skipped with the reason, it does not
fail the video.

A default dimension that applies (:func:`applies`, the ``Dimension.applies``
hook) only when a prompt is given (``--prompt`` / ``--prompts``), when
``--backbone`` is a CLIP model, or when the default CLIP model is already on
disk (local file or cache): the API and the CLI then both score it without
being asked; ``-d text_alignment`` asks for it explicitly. For one video it
applies when that video has a prompt (else its CLIP embeddings are not
computed and the score is ``None`` with the reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vqeval import weights
from vqeval.dimensions import VBENCH_NONE, Dimension, register
from vqeval.metrics import alignment as ma
from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.params import Params

NAME = "text_alignment"
#: (spec, weights folder, device) -> None (loadable) or the one-line reason it is not.
_tried: dict[tuple[str, str, str], str | None] = {}


def text_backbone(config: Any) -> str:
    """The CLIP model ``text_alignment`` uses under ``config``: ``--backbone``
    when it is ``clip:MODEL/TAG``, else :data:`vqeval.weights.DEFAULT_TEXT_CLIP`."""
    b = str(config.backbone)
    return b if b.startswith("clip:") else weights.DEFAULT_TEXT_CLIP


def _unavailable(config: Any) -> str | None:
    """None when the CLIP model loads (downloading it if allowed), else why not."""
    spec = text_backbone(config)
    key = (spec, str(weights.weights_root(config.weights_dir)), str(config.device))
    if key not in _tried:
        try:
            weights.get_backbone(
                spec, config.weights_dir, device=config.device, batch_size=config.batch_size
            )
            _tried[key] = None
        except ConfigError as e:
            _tried[key] = str(e)
    return _tried[key]


def _needs(config: Any) -> tuple[str, ...]:
    if _unavailable(config) is not None:
        return ()
    return (f"embeddings:{text_backbone(config)}",)


def applies(config: Any, path: str | None) -> bool:
    """Whether ``text_alignment`` has something to measure: for ``path``, when
    the video has a prompt; in general (``path`` ``None``, choosing the
    default set), when a prompt is given, ``--backbone`` is a CLIP model or
    the default CLIP model is on disk (never downloaded to decide this)."""
    if path is not None:
        from vqeval.prompts import prompt_for

        return prompt_for(path, config)[0] is not None
    if config.prompt is not None or config.prompts is not None:
        return True
    if str(config.backbone).startswith("clip:"):
        return True
    return weights.available(weights.DEFAULT_TEXT_CLIP, config.weights_dir)


def compute_text_alignment(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """CLIPScore of the prompt vs the frames, with the early/late trend."""
    from vqeval.prompts import prompt_for

    config = analysis.config
    spec = text_backbone(config)
    prompt, source = prompt_for(analysis.path, config)
    if prompt is None:
        return DimensionScore(NAME, None, {"reason": source}, spec)
    why = _unavailable(config)
    if why is not None:
        return DimensionScore(NAME, None, {"reason": f"CLIP weights unavailable: {why}"}, spec)
    bb = weights.get_backbone(
        spec, config.weights_dir, device=config.device, batch_size=config.batch_size
    )
    frames = analysis.embeddings_of(spec)
    if len(frames) == 0:
        return DimensionScore(NAME, None, {"reason": "no frames"}, spec)
    a = ma.text_alignment(frames, bb.embed_text([prompt])[0])
    raw = {
        "mean_similarity": round(a.mean, 5),
        "early_similarity": round(a.early, 5),
        "late_similarity": round(a.late, 5),
        "drift": round(a.drift, 5),
        "late_score": round(ma.clip_score(a.late), 2),
        "prompt": prompt,
        "prompt_source": source,
    }
    return DimensionScore(NAME, round(ma.clip_score(a.mean), 2), raw, spec)


register(
    Dimension(
        name=NAME,
        title="Text alignment",
        description=(
            "CLIP cosine between the prompt and each frame: score = CLIPScore of the mean, "
            f"100 * min(1, {ma.CLIPSCORE_W:g} * max(cos, 0)) (cos >= 0.4 scores 100); raw: mean, "
            "first-third and last-third cosine and their drift (late - early, negative = "
            "drifting away from the prompt). Prompt from --prompt, --prompts or the "
            "generator's sidecar JSON; skipped without one. Reported, not in the composite."
        ),
        weight=0.0,
        default=True,
        compute=compute_text_alignment,
        family="alignment",
        needs=_needs,
        raw_key="mean_similarity",
        raw_range=(-1.0, 1.0),
        raw_unit="cosine (CLIP image-text)",
        direction="higher",
        flags=(),
        backbone=text_backbone,
        vbench=VBENCH_NONE,
        short="text",
        applies=applies,
        uses_prompt=True,
    )
)

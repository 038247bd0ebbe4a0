"""Configuration, construction and (de)serialisation of the tiny video DiT.

The denoiser is diffusers' :class:`~diffusers.WanTransformer3DModel` in a small
configuration working directly in pixel space (``in_channels=3``, patch
(1, 4, 4): one token per 4x4 pixel cell of one frame, so latent frames =
frames). The "text" conditioning is a learned embedding per condition class
(:data:`generators.tinydit.data.CONDITIONS`) of ``text_tokens`` x ``text_dim``
values fed as ``encoder_hidden_states``; one extra row is the null (unconditional)
embedding used for classifier-free guidance.

Files of a model folder (``data/tinydit``):

- ``config.json``: ``{"transformer": <WanTransformer3DModel config>, "tinydit": {...}}``
- ``model.safetensors``: transformer weights under ``transformer.*`` and the class
  embedding table under ``class_embedding.weight`` (float16 on disk).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from lvsa.generators.tinydit.data import CONDITIONS
from torch import nn


def _default_folder() -> Path:
    """The shipped weights: package data ``lvsa/generators/tinydit/weights`` in an
    installed wheel (mapped from ``data/tinydit``), else ``data/tinydit`` of the
    source checkout."""
    installed = Path(__file__).resolve().parent / "weights"
    if (installed / "config.json").is_file():
        return installed
    return Path(__file__).resolve().parents[2] / "data" / "tinydit"


#: Folder of the shipped weights (package data, or the repository's data/tinydit).
DEFAULT_FOLDER = _default_folder()


@dataclass(frozen=True)
class TinyDiTConfig:
    """Everything needed to rebuild the model and sample from it.

    Attributes:
        size: frame side in pixels (square frames).
        reference_frames: training horizon in frames (= latent frames, patch t = 1).
        fps: playback frame rate of generated clips, frames per second.
        text_tokens: tokens per class embedding.
        conditions: class names, index = class id; the null class is ``len(conditions)``.
        sample_shift: timestep shift of the sampler (sigma' = s*sigma / (1 + (s-1)*sigma)).
        default_steps: default number of Euler steps.
        transformer: keyword arguments of ``WanTransformer3DModel``.
    """

    size: int = 24
    reference_frames: int = 16
    fps: float = 8.0
    text_tokens: int = 4
    conditions: tuple[str, ...] = tuple(c.name for c in CONDITIONS)
    sample_shift: float = 2.0
    default_steps: int = 20
    transformer: dict[str, Any] = field(
        default_factory=lambda: {
            "patch_size": [1, 4, 4],
            "num_attention_heads": 4,
            "attention_head_dim": 32,
            "in_channels": 3,
            "out_channels": 3,
            "text_dim": 64,
            "freq_dim": 64,
            "ffn_dim": 512,
            "num_layers": 4,
            "cross_attn_norm": True,
            "qk_norm": "rms_norm_across_heads",
            "eps": 1e-6,
            "rope_max_seq_len": 1024,
        }
    )

    @property
    def num_classes(self) -> int:
        """Number of real condition classes (the null class is extra)."""
        return len(self.conditions)

    @property
    def null_class(self) -> int:
        """Index of the unconditional (null) embedding row."""
        return len(self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        d = asdict(self)
        d["conditions"] = list(self.conditions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TinyDiTConfig:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "conditions" in known:
            known["conditions"] = tuple(known["conditions"])
        return cls(**known)


class TinyDiT(nn.Module):
    """The Wan transformer plus the class-embedding table (the "text encoder").

    Args:
        config: model configuration.
    """

    def __init__(self, config: TinyDiTConfig) -> None:
        super().__init__()
        from diffusers import WanTransformer3DModel

        self.config = config
        tcfg = dict(config.transformer)
        tcfg["patch_size"] = tuple(tcfg["patch_size"])
        self.transformer = WanTransformer3DModel(**tcfg)
        dim = int(tcfg["text_dim"])
        self.class_embedding = nn.Embedding(config.num_classes + 1, config.text_tokens * dim)
        nn.init.normal_(self.class_embedding.weight, std=1.0)

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        """Class ids (B,) int -> encoder_hidden_states (B, text_tokens, text_dim)."""
        e = self.class_embedding(labels)
        return e.view(labels.shape[0], self.config.text_tokens, -1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Predict the flow velocity (noise - clean) for pixels ``x`` (B, 3, T, H, W).

        Args:
            x: noisy clip in the [-1, 1] pixel scale.
            sigma: noise level per sample (B,) in [0, 1] (0 clean, 1 pure noise).
            labels: class ids (B,); ``null_class`` for unconditional.
        """
        out = self.transformer(
            hidden_states=x,
            timestep=sigma * 1000.0,
            encoder_hidden_states=self.embed(labels).to(x.dtype),
            return_dict=False,
        )[0]
        return out


def save(model: TinyDiT, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (float16) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    meta = {"tinydit": model.config.to_dict(), "transformer": model.config.transformer}
    if extra:
        meta["training"] = extra
    (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def load(
    folder: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TinyDiT:
    """Load a saved model folder (default: the shipped ``data/tinydit``).

    Raises:
        FileNotFoundError: the folder lacks ``config.json`` or ``model.safetensors``.
    """
    from safetensors.torch import load_file

    folder = Path(folder) if folder is not None else DEFAULT_FOLDER
    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise FileNotFoundError(f"tiny DiT folder {folder} has no {p.name}")
    meta = json.loads(cfg_path.read_text())
    cfg = TinyDiTConfig.from_dict({**meta["tinydit"], "transformer": meta["transformer"]})
    model = TinyDiT(cfg)
    state = {k: v.float() for k, v in load_file(str(w_path)).items()}
    model.load_state_dict(state)
    return model.to(device=device, dtype=dtype).eval()

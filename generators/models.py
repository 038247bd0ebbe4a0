"""Model specs as plain data and a pluggable registry of presets.

A :class:`ModelSpec` says where the weights live (hub id or local folder), which diffusers
pipeline class runs them, the token geometry (VAE strides and patch size), the training horizon
and the defaults a clip is generated with. Geometry and horizons: docs/generation.md.

Other packages add presets with :func:`register_model` (for example ``generators/tinydit``);
modules listed in :data:`PLUGINS` are imported the first time the registry is read, so a plugin
registers itself without ``generators`` importing it eagerly.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lvsa.generators.errors import GeneratorError

#: Text-encoder modes of a spec: the pipeline's own encoder, or the deterministic stand-in
#: from :mod:`generators.encoding` (tiny test models without a text encoder).
TEXT_ENCODERS = ("pipeline", "stand-in")


@dataclass(frozen=True)
class ModelSpec:
    """Everything :mod:`generators` needs to know about one video model.

    Attributes:
        name: preset name used on the command line (``--model``) and in sidecars.
        repo: hub id (``org/name``) or local folder with a diffusers ``model_index.json``.
        pipeline: diffusers pipeline class name (``WanPipeline``, ``HunyuanVideo15Pipeline``)
            or ``"module:Class"`` for a pipeline defined outside diffusers.
        family: ``"wan"``, ``"hunyuanvideo15"`` or ``"cogvideox"`` (selects the encoder
            stand-in and guidance handling); plugins may use their own family name.
        vae_stride: VAE compression (t, h, w) in frames / pixels per latent cell.
        patch: transformer patch size (t, h, w) in latent cells per token.
        train_frames: training horizon in video frames (Wan 81, HunyuanVideo 1.5 121).
        reference_frames: LVSA reference horizon in latent frames (Wan 21, HunyuanVideo 1.5 33,
            docs/lvsa.md; CogVideoX 1.5: 11 token frames of patch_size_t 2).
        height: default height in pixels.
        width: default width in pixels.
        fps: frame rate the model was trained at, frames per second (used for the mp4).
        steps: default number of denoising steps.
        guidance: default classifier-free guidance scale (``None``: the pipeline's default).
        guidance_2: guidance of the second expert (Wan 2.2 A14B), ``None`` for one expert.
        experts: attribute names of the denoising transformers on the pipeline.
        text_encoder: ``"pipeline"``, ``"stand-in"`` or ``"module:function"``: the encode hook
            (see :mod:`generators.encoding`).
        text_dim: width of the stand-in prompt embedding (``text_dim`` of the transformer).
        text_dim_2: width of the second stand-in embedding (HunyuanVideo 1.5 byT5), 0 if none.
        vae_dtype: dtype the VAE is loaded in (Wan's VAE is kept in float32).
        negative_prompt: default negative prompt ("" for none).
        loader: ``"module:function"`` that builds the pipeline itself, called as
            ``loader(spec, dtype=..., device=...)``; ``None`` uses diffusers ``from_pretrained``.
            A relative ``repo`` folder is looked up from the working directory, then from the
            project root (so presets can ship small checkpoints under ``data/``).
    """

    name: str
    repo: str
    pipeline: str
    family: str
    vae_stride: tuple[int, int, int]
    patch: tuple[int, int, int]
    train_frames: int
    reference_frames: int
    height: int
    width: int
    fps: float
    steps: int = 50
    guidance: float | None = None
    guidance_2: float | None = None
    experts: tuple[str, ...] = ("transformer",)
    text_encoder: str = "pipeline"
    text_dim: int = 4096
    text_dim_2: int = 0
    vae_dtype: str | None = None
    negative_prompt: str = ""
    loader: str | None = None

    def __post_init__(self) -> None:
        if self.text_encoder not in TEXT_ENCODERS and ":" not in self.text_encoder:
            raise GeneratorError(
                f"model {self.name!r}: text_encoder must be one of {TEXT_ENCODERS} or "
                f"'module:function', got {self.text_encoder!r}"
            )
        if self.train_frames < 1 or (self.train_frames - 1) % self.vae_stride[0]:
            raise GeneratorError(
                f"model {self.name!r}: train_frames={self.train_frames} is not "
                f"{self.vae_stride[0]}k+1"
            )

    @property
    def train_latent_frames(self) -> int:
        """Training horizon in latent frames: ``(train_frames - 1) / t_stride + 1``."""
        return (self.train_frames - 1) // self.vae_stride[0] + 1

    @property
    def spatial_multiple(self) -> int:
        """Height and width must be multiples of this many pixels (VAE stride x patch)."""
        return max(self.vae_stride[1] * self.patch[1], self.vae_stride[2] * self.patch[2])

    def token_frames(self, latent_frames: int) -> int:
        """Frames of tokens the transformer sees: ``ceil(latent / patch_t)`` (CogVideoX 1.5
        packs 2 latent frames into one; its pipeline pads the latents to a multiple)."""
        return -(-latent_frames // self.patch[0])

    def tokens_per_latent_frame(self, height: int, width: int) -> int:
        """Video tokens in one latent frame at ``height`` x ``width`` pixels."""
        h = height // (self.vae_stride[1] * self.patch[1])
        w = width // (self.vae_stride[2] * self.patch[2])
        return h * w

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (used in sidecars)."""
        return {
            "name": self.name,
            "repo": self.repo,
            "pipeline": self.pipeline,
            "family": self.family,
            "vae_stride": list(self.vae_stride),
            "patch": list(self.patch),
            "train_frames": self.train_frames,
            "train_latent_frames": self.train_latent_frames,
            "reference_frames": self.reference_frames,
            "fps": self.fps,
        }


# ---------------------------------------------------------------------------------------------
# Presets (docs/generation.md; hub ids as published by Wan-AI and the diffusers docs)

_WAN = {
    "pipeline": "WanPipeline",
    "family": "wan",
    "vae_stride": (4, 8, 8),
    "patch": (1, 2, 2),
    "train_frames": 81,
    "reference_frames": 21,
    "height": 480,
    "width": 832,
    "fps": 16.0,
    "text_dim": 4096,
    "vae_dtype": "float32",
}
_HY15 = {
    "pipeline": "HunyuanVideo15Pipeline",
    "family": "hunyuanvideo15",
    "vae_stride": (4, 16, 16),
    "patch": (1, 1, 1),
    "train_frames": 121,
    "reference_frames": 33,
    "fps": 24.0,
    "text_dim": 3584,
    "text_dim_2": 1472,
}

_COG15 = {
    "pipeline": "CogVideoXPipeline",
    "family": "cogvideox",
    "vae_stride": (4, 8, 8),
    "patch": (2, 2, 2),
    "train_frames": 81,
    # LVSA works on token frames: 81 frames = 21 latent frames = 11 frames of
    # patch_size_t = 2 (lvsa.integrations.install.model_reference_frames)
    "reference_frames": 11,
    "height": 768,
    "width": 1360,
    "fps": 16.0,
    "text_dim": 4096,
}

#: Built-in presets. A plugin may also be added here directly (one line per spec).
PRESETS: list[ModelSpec] = [
    ModelSpec(
        name="wan2.1-t2v-1.3b", repo="Wan-AI/Wan2.1-T2V-1.3B-Diffusers", guidance=5.0, **_WAN
    ),
    ModelSpec(name="wan2.1-t2v-14b", repo="Wan-AI/Wan2.1-T2V-14B-Diffusers", guidance=5.0, **_WAN),
    ModelSpec(
        name="wan2.2-t2v-a14b",
        repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        guidance=4.0,
        guidance_2=3.0,
        experts=("transformer", "transformer_2"),
        **_WAN,
    ),
    ModelSpec(
        name="hunyuanvideo-1.5-480p",
        repo="hunyuanvideo-community/HunyuanVideo-1.5-480p_t2v",
        height=480,
        width=848,
        **_HY15,
    ),
    ModelSpec(
        name="hunyuanvideo-1.5-720p",
        repo="hunyuanvideo-community/HunyuanVideo-1.5-720p_t2v",
        height=720,
        width=1280,
        **_HY15,
    ),
    ModelSpec(name="cogvideox1.5-5b", repo="THUDM/CogVideoX1.5-5B", guidance=6.0, **_COG15),
]

#: Modules imported on first registry access; each calls :func:`register_model` itself.
#: ``generators.tinydit`` registers the "tiny" preset (and makes it the default) when present.
PLUGINS: tuple[str, ...] = ("lvsa.generators.tinydit",)

_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in PRESETS}
_DEFAULT: list[str] = ["wan2.1-t2v-1.3b"]
_PLUGINS_LOADED: list[bool] = [False]


def register_model(
    spec: ModelSpec, *, default: bool = False, replace_existing: bool = True
) -> None:
    """Add ``spec`` to the registry under ``spec.name``.

    Args:
        spec: the model spec.
        default: make it the model used when ``--model`` is not given.
        replace_existing: overwrite a preset of the same name (otherwise raise).
    """
    if not replace_existing and spec.name in _REGISTRY:
        raise GeneratorError(f"model preset {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    if default:
        _DEFAULT[0] = spec.name


def _load_plugins() -> None:
    if _PLUGINS_LOADED[0]:
        return
    _PLUGINS_LOADED[0] = True
    for module in PLUGINS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise


def model_names() -> list[str]:
    """Names of all registered presets, sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def default_model() -> str:
    """Name of the preset used when no model is given."""
    _load_plugins()
    return _DEFAULT[0]


def get_model(name: str) -> ModelSpec:
    """Return the registered preset ``name`` (raises :class:`GeneratorError` if unknown)."""
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise GeneratorError(
            f"unknown model preset {name!r}; known: {', '.join(sorted(_REGISTRY))} "
            "(or pass a hub id / local diffusers folder)"
        ) from None


# ---------------------------------------------------------------------------------------------
# Resolving --model


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or os.sep in text.strip("/").split("/", 1)[-1]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GeneratorError(f"cannot read {path}: {exc}") from None


def spec_from_folder(folder: str | Path, name: str | None = None) -> ModelSpec:
    """Build a spec for a local diffusers folder (``model_index.json`` + component folders).

    A folder whose name equals a preset's hub repository name (``Wan2.1-T2V-1.3B-Diffusers``)
    takes that preset with ``repo`` pointing at the folder. Otherwise the family defaults apply
    (Wan: 81 training frames, 480x832, 16 fps; HunyuanVideo 1.5: 121 frames, 24 fps), and
    geometry, expert count and text-encoder presence come from the component configs. A folder
    without a text encoder uses the deterministic stand-in encoder.
    """
    folder = Path(folder).expanduser()
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise GeneratorError(
            f"{folder} is not a diffusers model folder (no model_index.json); "
            "save one with pipe.save_pretrained(folder) or download it with "
            "`hf download <repo> --local-dir <folder>`"
        )
    _load_plugins()
    for spec in _REGISTRY.values():
        if spec.repo.rsplit("/", 1)[-1] == folder.name:
            return replace(spec, repo=str(folder))
    index = _read_json(index_path)
    pipeline = str(index.get("_class_name", ""))
    if pipeline.startswith("Wan"):
        base: dict[str, Any] = dict(_WAN)
        base["guidance"] = 5.0
    elif pipeline.startswith("HunyuanVideo15"):
        base = dict(_HY15)
        base.update(height=480, width=848)
    elif pipeline.startswith("CogVideoX"):
        base = dict(_COG15)
        base["guidance"] = 6.0
    else:
        raise GeneratorError(
            f"{folder}: pipeline {pipeline or '?'} is not supported "
            "(supported: WanPipeline, HunyuanVideo15Pipeline, CogVideoXPipeline)"
        )
    base["pipeline"] = pipeline
    tcfg_path = folder / "transformer" / "config.json"
    tcfg = _read_json(tcfg_path) if tcfg_path.is_file() else {}
    vcfg_path = folder / "vae" / "config.json"
    vcfg = _read_json(vcfg_path) if vcfg_path.is_file() else {}
    if base["family"] == "cogvideox":
        pt = int(tcfg.get("patch_size_t") or 1)
        ps = int(tcfg.get("patch_size", 2))
        base["patch"] = (pt, ps, ps)
        base["text_dim"] = int(tcfg.get("text_embed_dim", base["text_dim"]))
        t_ratio = int(vcfg.get("temporal_compression_ratio", 4))
        s_ratio = 2 ** (len(vcfg.get("block_out_channels", (0, 0, 0, 0))) - 1)
        base["vae_stride"] = (t_ratio, s_ratio, s_ratio)
        sample = int(tcfg.get("sample_frames", 49))
        base["train_frames"] = sample
        base["reference_frames"] = -(-((sample - 1) // t_ratio + 1) // pt)
        base["height"] = int(tcfg.get("sample_height", 60)) * s_ratio
        base["width"] = int(tcfg.get("sample_width", 90)) * s_ratio
    elif base["family"] == "wan":
        patch = tcfg.get("patch_size", base["patch"])
        base["patch"] = tuple(int(p) for p in patch)
        base["text_dim"] = int(tcfg.get("text_dim", base["text_dim"]))
        downs = vcfg.get("temperal_downsample")
        if downs is not None:
            t_stride = 2 ** sum(bool(d) for d in downs)
            s_stride = 2 ** len(downs)
            base["vae_stride"] = (t_stride, s_stride, s_stride)
    else:
        base["patch"] = (
            int(tcfg.get("patch_size_t", 1)),
            int(tcfg.get("patch_size", 1)),
            int(tcfg.get("patch_size", 1)),
        )
        base["text_dim"] = int(tcfg.get("text_embed_dim", base["text_dim"]))
        base["text_dim_2"] = int(tcfg.get("text_embed_2_dim", base["text_dim_2"]))
        s = int(vcfg.get("spatial_compression_ratio", 16))
        base["vae_stride"] = (int(vcfg.get("temporal_compression_ratio", 4)), s, s)
    t_stride = base["vae_stride"][0]
    if (base["train_frames"] - 1) % t_stride:
        base["train_frames"] = (base["train_frames"] - 1) // t_stride * t_stride + 1
    two = index.get("transformer_2")
    if isinstance(two, list) and two[0] is not None:
        base["experts"] = ("transformer", "transformer_2")
    encoder = index.get("text_encoder")
    if not (isinstance(encoder, list) and encoder[0] is not None):
        base["text_encoder"] = "stand-in"
    return ModelSpec(name=name or folder.name, repo=str(folder), **base)


def resolve_model(model: str | ModelSpec | None) -> ModelSpec:
    """Turn a ``--model`` value into a :class:`ModelSpec`.

    Accepts a spec, a preset name, an existing local folder, a preset's hub id
    (``Wan-AI/Wan2.1-T2V-1.3B-Diffusers``) or any other ``org/name`` hub id of a Wan or
    HunyuanVideo 1.5 diffusers repository (see :func:`spec_from_hub`). ``None`` gives
    :func:`default_model`.
    """
    if isinstance(model, ModelSpec):
        return model
    _load_plugins()
    if model is None:
        return get_model(default_model())
    if model in _REGISTRY:
        return _REGISTRY[model]
    path = Path(model).expanduser()
    if path.is_dir():
        return spec_from_folder(path)
    for spec in _REGISTRY.values():
        if spec.repo == model:
            return spec
    if _looks_like_path(model) or path.suffix or model.count("/") != 1:
        raise GeneratorError(
            f"unknown model {model!r}: not a preset ({', '.join(sorted(_REGISTRY))}), "
            "an existing local diffusers folder, or an org/name hub id"
        )
    return spec_from_hub(model)


def spec_from_hub(repo_id: str) -> ModelSpec:
    """Spec of a hub repository that is not a preset, from its JSON configs only.

    The configs are read from the local cache first; they are downloaded (a few kB) only when
    missing and ``HF_HUB_OFFLINE`` is not set. The geometry rules of :func:`spec_from_folder`
    apply; ``repo`` stays the hub id so the weights load through the hub cache.
    """
    from huggingface_hub import snapshot_download
    from lvsa.generators.hub import cache_dir, hub_errors, offline

    patterns = ["model_index.json", "*/config.json"]
    how = f"download it with `hf download {repo_id}` or pass a local folder"
    try:
        folder = snapshot_download(
            repo_id, allow_patterns=patterns, local_files_only=True, cache_dir=cache_dir()
        )
    except hub_errors():
        if offline():
            raise GeneratorError(
                f"model {repo_id} is not in the local cache and HF_HUB_OFFLINE is set; {how}"
            ) from None
        try:
            folder = snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir())
        except hub_errors() as exc:
            raise GeneratorError(
                f"cannot read model {repo_id} from the hub ({type(exc).__name__}); {how}"
            ) from None
    spec = spec_from_folder(folder, name=repo_id.rsplit("/", 1)[-1])
    return replace(spec, repo=repo_id)

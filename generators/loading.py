"""Loading diffusers pipelines from hub ids or local folders, offline-first.

Weights are looked up in the local cache first (``local_files_only=True``), so cached or
local weights never touch the network. Only when they are missing and ``HF_HUB_OFFLINE`` is not
set does diffusers try to download them. Any failure becomes one :class:`GeneratorError` line
that names the model and says how to get the weights.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from lvsa.generators.errors import GeneratorError
from lvsa.generators.hub import cache_dir, hub_errors, offline
from lvsa.generators.models import ModelSpec

#: Accepted ``--dtype`` names.
DTYPES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "float32": torch.float32,
    "fp32": torch.float32,
}

#: Accepted ``--cpu-offload`` modes (``None``: keep the whole pipeline on the device).
OFFLOAD_MODES = ("model", "sequential")


def resolve_device(device: str | None) -> torch.device:
    """``None``/``"auto"`` -> cuda if available else cpu; otherwise ``torch.device(device)``."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise GeneratorError(f"bad --device {device!r}: {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise GeneratorError(
                f"--device {device}: CUDA is not available (torch {torch.__version__}, "
                f"{build}); use --device cpu or auto"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GeneratorError(
                f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible"
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise GeneratorError(f"--device {device}: MPS is not available; use --device cpu")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``/``"auto"`` -> bfloat16 on accelerators, float32 on CPU; else a :data:`DTYPES` name."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    try:
        return DTYPES[str(dtype).lower()]
    except KeyError:
        raise GeneratorError(
            f"bad --dtype {dtype!r}; use one of auto, {', '.join(DTYPES)}"
        ) from None


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def pipeline_class(spec: ModelSpec) -> type:
    """The pipeline class named by ``spec.pipeline`` (diffusers name or ``module:Class``)."""
    name = spec.pipeline
    try:
        if ":" in name:
            module, _, attr = name.partition(":")
            return getattr(importlib.import_module(module), attr)
        return getattr(importlib.import_module("diffusers"), name)
    except (ImportError, AttributeError) as exc:
        raise GeneratorError(
            f"model {spec.name}: pipeline class {name} is not available ({exc}); "
            "upgrade diffusers (pip install -e '.[gen]')"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _absent_components(folder: Path) -> dict[str, None]:
    """Components saved as ``[null, null]`` (no text encoder in tiny test models) -> ``None``."""
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return {}
    return {
        k: None
        for k, v in index.items()
        if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[1] is None
    }


def load_pipeline(
    spec: ModelSpec,
    *,
    dtype: torch.dtype,
    device: torch.device,
    cpu_offload: str | None = None,
    progress: bool = True,
) -> Any:
    """Load the pipeline of ``spec`` and place it on ``device``.

    Args:
        spec: model spec; ``spec.repo`` is a hub id or a local folder.
        dtype: dtype of the transformer(s) and text encoder; the VAE uses ``spec.vae_dtype`` when set.
        device: where denoising runs.
        cpu_offload: ``None`` (all on ``device``), ``"model"`` (components moved to the device one
            at a time) or ``"sequential"`` (layer by layer; slowest, least memory).
        progress: show diffusers' component-loading progress bar.

    Raises:
        GeneratorError: weights missing (offline or no network), broken folder, bad offload mode.
    """
    if cpu_offload not in (None, *OFFLOAD_MODES):
        raise GeneratorError(f"bad --cpu-offload {cpu_offload!r}; use one of {OFFLOAD_MODES}")
    if spec.loader is not None:
        module, _, attr = spec.loader.partition(":")
        try:
            build = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise GeneratorError(
                f"model {spec.name}: cannot import loader {spec.loader}: {exc}"
            ) from None
        return _place(build(spec, dtype=dtype, device=device), device, cpu_offload)
    cls = pipeline_class(spec)
    dtypes: dict[str, torch.dtype] | torch.dtype = dtype
    if spec.vae_dtype is not None:
        dtypes = {"default": dtype, "vae": DTYPES[spec.vae_dtype]}
    from diffusers.utils import logging as diffusers_logging

    if progress:
        diffusers_logging.enable_progress_bar()
    else:
        diffusers_logging.disable_progress_bar()
    local = local_folder(spec.repo)
    errors = hub_errors()
    kwargs: dict[str, Any] = {"dtype": dtypes}
    if local is not None:
        kwargs.update(_absent_components(local))
        try:
            pipe = cls.from_pretrained(str(local), **kwargs)
        except errors as exc:
            raise GeneratorError(
                f"cannot load model {spec.name} from folder {local}: {_first_line(exc)}"
            ) from None
    else:
        cache = cache_dir()
        if cache:
            kwargs["cache_dir"] = cache
        how = (
            f"download it first with `hf download {spec.repo}` (or "
            f"`hf download {spec.repo} --local-dir <folder>` and pass --model <folder>)"
        )
        try:
            pipe = cls.from_pretrained(spec.repo, local_files_only=True, **kwargs)
        except errors as cached_exc:
            if offline():
                raise GeneratorError(
                    f"weights for {spec.name} ({spec.repo}) are not in the local cache and "
                    f"HF_HUB_OFFLINE is set; {how}"
                ) from None
            try:
                pipe = cls.from_pretrained(spec.repo, **kwargs)
            except errors as exc:
                raise GeneratorError(
                    f"cannot get weights for {spec.name} ({spec.repo}): {_first_line(exc)} "
                    f"(cache: {_first_line(cached_exc)}); no network? {how}"
                ) from None
    return _place(pipe, device, cpu_offload)


def _place(pipe: Any, device: torch.device, cpu_offload: str | None) -> Any:
    method = {"model": "enable_model_cpu_offload", "sequential": "enable_sequential_cpu_offload"}
    if cpu_offload is not None and not hasattr(pipe, method[cpu_offload]):
        raise GeneratorError(f"{type(pipe).__name__} does not support --cpu-offload {cpu_offload}")
    if cpu_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif cpu_offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


#: Project root (the folder holding ``generators/``): relative preset folders resolve here too.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def local_folder(repo: str) -> Path | None:
    """The local folder ``repo`` names (as given, or relative to :data:`PROJECT_ROOT`), if any."""
    path = Path(repo).expanduser()
    if path.is_dir():
        return path
    if not path.is_absolute() and (PROJECT_ROOT / path).is_dir():
        return PROJECT_ROOT / path
    return None

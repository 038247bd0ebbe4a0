"""The one owner of learned weights: finds, loads and caches every model.

Backbone names (``--backbone``):

=============================  =================================================
``pixel``                      weight-free descriptor (default)
``clip:MODEL/TAG``             open_clip ``create_model_and_transforms(MODEL,
                               pretrained=TAG)``, e.g.
                               ``clip:ViT-B-32/laion2b_s34b_b79k``; TAG may also
                               be a checkpoint file path
``dino-s``, ``dino-b``         timm ``vit_{small,base}_patch16_224.dino``
``dinov2-s/-b/-l/-g``          timm ``vit_{small,base,large,giant}_patch14_dinov2.lvd142m``
``dinov2``                     = ``dinov2-s``
``timm:NAME``                  any timm model, pooled features
``dino``, ``clip``             VBench's models: a local ``dino_vitb16`` /
                               ``clip_vitb32`` file (small local
                               implementation), else timm
                               ``vit_base_patch16_224.dino`` / open_clip
                               ``ViT-B-32/openai``
=============================  =================================================

Where weights come from, first hit wins:

1. the local weights folder (``--weights DIR``, else ``$VQEVAL_WEIGHTS``):
   ``<stem>.safetensors`` (or ``.pt/.pth/.bin``) with the stems of
   :func:`local_stems` (e.g. ``vit_small_patch14_dinov2.lvd142m.safetensors``);
2. the library's standard cache: the Hugging Face hub cache
   (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)
   for open_clip and timm, the torch hub cache (``$TORCH_HOME/hub/checkpoints``)
   for torchvision's RAFT;
3. a download into that cache by the library itself, unless ``HF_HUB_OFFLINE``
   or ``VQEVAL_OFFLINE`` is set (``--offline``). Before a download from the
   Hugging Face hub, one TCP connection to the hub (``$HF_ENDPOINT``, or the
   proxy that reaches it) must open within :data:`HUB_CONNECT_TIMEOUT_S`
   seconds; if it does not (no network, a firewall), the model is missing at
   once, and downloads in the next minute fail the same way without trying:
   no minute of retries. The hub library's retry warnings are silenced.

When none works the error is one :class:`~vqeval.results.ConfigError` line
naming the weights, the cache path they would have and how to place them by
hand. Models are built once per (name, source, device) and kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqeval.metrics.features import (
    Backbone,
    ClipBackbone,
    DinoBackbone,
    LibraryBackbone,
    PixelBackbone,
)
from vqeval.results import ConfigError

#: The change and novelty distances (cosine distance 0-2) of every backbone
#: family: ``change_distance`` (above it two frames show different content:
#: the loop and scene-return detectors) and ``novelty_distance`` (the smallest
#: distance that counts as new content: ``progression``). They belong to the
#: backbone, not to :mod:`vqeval.params`, and are hashed into the result cache
#: key (:func:`vqeval.cache.code_fingerprint`) next to it. ``pixel`` was
#: calibrated on the dev data (docs/metrics.md, Backbones); the learned ones
#: are first guesses (no weights offline to calibrate them on).
BACKBONE_DISTANCES: dict[str, tuple[float, float]] = {
    "pixel": (PixelBackbone.change_distance, PixelBackbone.novelty_distance),
    "dino": (DinoBackbone.change_distance, DinoBackbone.novelty_distance),
    "clip": (ClipBackbone.change_distance, ClipBackbone.novelty_distance),
    "open_clip": (0.03, 0.005),
    "timm": (0.05, 0.01),
}

__all__ = [
    "DEFAULT_TEXT_CLIP",
    "ModelSpec",
    "aesthetic_model",
    "available",
    "available_backbones",
    "clear_cache",
    "find_weights",
    "get_backbone",
    "hf_cache_dir",
    "hub_endpoint",
    "hub_unreachable",
    "is_clip",
    "load_raft",
    "offline",
    "parse_backbone",
    "torch_hub_dir",
    "validate_device",
    "weights_path",
    "weights_root",
]

#: CLIP model text_alignment uses when ``--backbone`` is not a CLIP model.
DEFAULT_TEXT_CLIP = "clip:ViT-B-32/laion2b_s34b_b79k"

#: Short names of timm models.
TIMM_ALIASES: dict[str, str] = {
    "dino-s": "vit_small_patch16_224.dino",
    "dino-b": "vit_base_patch16_224.dino",
    "dinov2": "vit_small_patch14_dinov2.lvd142m",
    "dinov2-s": "vit_small_patch14_dinov2.lvd142m",
    "dinov2-b": "vit_base_patch14_dinov2.lvd142m",
    "dinov2-l": "vit_large_patch14_dinov2.lvd142m",
    "dinov2-g": "vit_giant_patch14_dinov2.lvd142m",
}
#: Extra ``timm.create_model`` keyword arguments per timm model name (empty for
#: the released models; tests register tiny variants of a name here).
TIMM_KWARGS: dict[str, dict[str, Any]] = {}
#: Legacy names: (local file stems for the small local implementation, library spec).
LEGACY: dict[str, tuple[tuple[str, ...], str]] = {
    "dino": (("dino_vitb16",), "timm:vit_base_patch16_224.dino"),
    "clip": (("clip_vitb32",), "clip:ViT-B-32/openai"),
}
_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_HOW_HF = "on a machine with network run `hf download {repo}` and copy {cache} over"
_cache: dict[tuple[str, ...], Any] = {}
_lock = threading.RLock()
#: Seconds a TCP connection to the Hugging Face hub (or its proxy) may take to
#: open before a download is tried; none within it = no network, fail at once.
HUB_CONNECT_TIMEOUT_S = 3.0
#: Seconds a failed hub probe is remembered: later models fail at once
#: instead of probing again (a run that loads several), until it expires.
HUB_DOWN_MEMORY_S = 60.0
#: ``(host, port)`` -> (monotonic time, why it could not be reached).
_hub_down: dict[tuple[str, int], tuple[float, str]] = {}


# ----------------------------------------------------------------- environment


def weights_root(weights_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The local weights folder: ``weights_dir``, else ``$VQEVAL_WEIGHTS``, else ``None``."""
    root = weights_dir if weights_dir is not None else os.environ.get("VQEVAL_WEIGHTS")
    return Path(root).expanduser() if root else None


def offline() -> bool:
    """True when downloads are off (``HF_HUB_OFFLINE`` or ``VQEVAL_OFFLINE`` set to 1/true/yes)."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("VQEVAL_OFFLINE", "HF_HUB_OFFLINE")
    )


def hub_endpoint() -> str:
    """The Hugging Face hub open_clip and timm download from (``$HF_ENDPOINT``,
    else ``https://huggingface.co``)."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"


def hub_unreachable() -> str | None:
    """``None`` when a TCP connection to the hub (:func:`hub_endpoint`), or to
    the proxy that reaches it (``$HTTPS_PROXY`` ...), opens within
    :data:`HUB_CONNECT_TIMEOUT_S` seconds; else the reason in words (one
    line). A failure is remembered for :data:`HUB_DOWN_MEMORY_S` seconds."""
    url = urllib.parse.urlsplit(hub_endpoint())
    host = url.hostname or "huggingface.co"
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:  # a port that is not a number
        return f"HF_ENDPOINT {hub_endpoint()!r} is not a URL"
    target, via = (host, port), ""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        with contextlib.suppress(ValueError):
            if p.hostname:
                target, via = (p.hostname, p.port or 80), " (the proxy)"
    seen = _hub_down.get(target)
    if seen is not None and time.monotonic() - seen[0] < HUB_DOWN_MEMORY_S:
        return seen[1]
    try:
        with socket.create_connection(target, timeout=HUB_CONNECT_TIMEOUT_S):
            return None
    except OSError as e:
        if isinstance(e, TimeoutError):
            why = f"no answer within {HUB_CONNECT_TIMEOUT_S:g} s"
        else:
            why = e.strerror or str(e) or type(e).__name__
        reason = f"no connection to {target[0]}:{target[1]}{via}: {why}"
        _hub_down[target] = (time.monotonic(), reason)
        return reason


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """Silence the hub library's warnings (one "Retrying in 8s" line per
    retry) while a library loads a model; its failure is our one line."""
    hub = logging.getLogger("huggingface_hub")
    level = hub.level
    hub.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub.setLevel(level)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache open_clip and timm download into (read now,
    so a changed ``$HF_HUB_CACHE`` / ``$HF_HOME`` counts)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def torch_hub_dir() -> Path:
    """The torch hub checkpoint folder torchvision downloads weights into."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch"
    )
    return Path(home).expanduser() / "hub" / "checkpoints"


def validate_device(device: str) -> None:
    """Check that torch can use ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    Raises:
        ConfigError: malformed, or not available on this machine.
    """
    if device == "cpu":
        return
    try:
        import torch

        dev = torch.device(device)
    except Exception as e:
        raise ConfigError(f"--device {device!r}: not a torch device ({e})") from e
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (dev.index is not None and dev.index >= n):
            raise ConfigError(
                f"--device {device}: torch sees {n} CUDA device(s) (torch {torch.__version__}); "
                "install a CUDA build of torch or use --device cpu"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: MPS is not available; use --device cpu")


# ------------------------------------------------------------------------ names


@dataclass(frozen=True)
class ModelSpec:
    """A parsed backbone name.

    Attributes:
        name: the name as given (the key of ``embeddings:<name>`` and reports).
        library: ``"pixel"``, ``"local"`` (legacy file), ``"open_clip"`` or ``"timm"``.
        model: open_clip architecture or timm model name (with its tag).
        tag: open_clip pretrained tag, or a checkpoint path.
        family: ``"clip"``, ``"dino"`` or ``"pixel"`` / ``"other"``.
    """

    name: str
    library: str
    model: str = ""
    tag: str = ""
    family: str = "other"


def parse_backbone(name: str) -> ModelSpec:
    """Parse a backbone name (see the module table).

    Raises:
        ConfigError: unknown name or malformed ``clip:`` / ``timm:`` name.
    """
    n = (name or "").strip()
    if n == "pixel":
        return ModelSpec(n, "pixel", family="pixel")
    if n in LEGACY:
        return ModelSpec(n, "local", family=n)
    if n in TIMM_ALIASES:
        return ModelSpec(n, "timm", TIMM_ALIASES[n], family="dino")
    if n.startswith("timm:") and len(n) > 5:
        model = n[5:]
        return ModelSpec(n, "timm", model, family="dino" if "dino" in model else "other")
    if n.startswith("clip:"):
        model, _, tag = n[5:].partition("/")
        if not model or not tag:
            raise ConfigError(
                f"backbone {n!r}: write clip:MODEL/TAG, e.g. {DEFAULT_TEXT_CLIP} "
                "(open_clip.list_pretrained() lists the pairs)"
            )
        return ModelSpec(n, "open_clip", model, tag, family="clip")
    raise ConfigError(
        f"unknown backbone {name!r}; known: {', '.join(available_backbones())}, "
        "clip:MODEL/TAG (open_clip), timm:NAME"
    )


def available_backbones() -> tuple[str, ...]:
    """Named backbones, weight-free first (``clip:MODEL/TAG`` and ``timm:NAME`` come on top)."""
    return ("pixel", *LEGACY, *TIMM_ALIASES)


def is_clip(name: str) -> bool:
    """True when backbone ``name`` is a CLIP model (``clip`` or ``clip:MODEL/TAG``)."""
    try:
        return parse_backbone(name).family == "clip"
    except ConfigError:
        return False


def local_stems(spec: ModelSpec) -> tuple[str, ...]:
    """File stems looked for in the local weights folder for ``spec``."""
    if spec.library == "local":
        return LEGACY[spec.name][0]
    if spec.library == "timm":
        return (spec.model,)
    if spec.library == "open_clip":
        return (f"{spec.model}.{spec.tag}",)
    return ()


def find_weights(
    stems: tuple[str, ...], weights_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """First existing ``<stem><suffix>`` in the local weights folder (stems in
    order, ``.safetensors`` before torch files), or ``None``."""
    root = weights_root(weights_dir)
    if root is None:
        return None
    for stem in stems:
        for suf in _SUFFIXES:
            p = root / f"{stem}{suf}"
            try:
                if p.is_file():
                    return p
            except OSError:  # a folder this user may not read
                return None
    return None


def weights_path(name: str, weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """Local weight file of a legacy backbone (``dino``, ``clip``).

    Raises:
        ConfigError: unknown name, or no file in the local folder.
    """
    if name not in LEGACY:
        raise ConfigError(f"no local weight file layout for backbone {name!r}")
    found = find_weights(LEGACY[name][0], weights_dir)
    if found is None:
        where = weights_root(weights_dir) or Path("$VQEVAL_WEIGHTS")
        raise ConfigError(f"no {where / (LEGACY[name][0][0] + '.safetensors')}")
    return found


def _local_hint(stems: tuple[str, ...], weights_dir: str | os.PathLike[str] | None) -> str:
    where = weights_root(weights_dir) or Path("$VQEVAL_WEIGHTS")
    return f"{where / (stems[0] + '.safetensors')} (or .pt/.pth) via --weights or VQEVAL_WEIGHTS"


def _missing(what: str, cache: Path | str, how: str, local: str, cause: str = "") -> ConfigError:
    why = (
        "downloads are off (--offline, HF_HUB_OFFLINE or VQEVAL_OFFLINE)"
        if offline()
        else "download failed"
    )
    if cause:
        why += f" ({' '.join(cause.split())[:160]})"
    return ConfigError(
        f"{what} weights missing: not in {cache} and {why}; to place them by hand: {how}, "
        f"or save them as {local}; or use the weight-free backbone 'pixel'"
    )


# ---------------------------------------------------------------- hub cache


def _load_failed(
    what: str, file: Path | None, cache: Path | str, how: str, local: str, e: BaseException
) -> ConfigError:
    """The error of a library loader that raised ``e``: a local ``file`` that
    does not load, else weights neither cached nor downloadable."""
    if file is not None:
        return ConfigError(f"cannot load {what} from {file}: {_short(e)}")
    return _missing(what, cache, how, local, _short(e))


def _hf_repo_dir(repo: str) -> Path:
    return hf_cache_dir() / ("models--" + repo.replace("/", "--"))


def _hf_cached(repo: str, filenames: tuple[str, ...]) -> Path | None:
    """A file of ``repo`` already in the HF hub cache (never touches the network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except Exception:
        return None
    for fn in filenames:
        try:
            p = try_to_load_from_cache(repo, fn, cache_dir=str(hf_cache_dir()))
        except Exception:
            p = None
        if isinstance(p, str) and os.path.isfile(p):
            return Path(p)
    return None


def _import(module: str) -> Any:
    """Import a backbone library, with one line saying what to install."""
    try:
        return __import__(module, fromlist=["_"])
    except Exception as e:
        if "torchvision::" in str(e):  # its compiled extension does not fit this torch
            raise ConfigError(
                f"importing {module} failed: torchvision's compiled extension does not fit "
                "this torch build (a CPU torch beside the CUDA torchvision wheel?); install "
                "the torchvision built for this torch (torch 2.13 <-> torchvision 0.28 from "
                "the same index), or put the repository's tests/bootstrap on PYTHONPATH "
                "(docs/metrics.md)"
            ) from e
        pkg = {"open_clip": "open_clip_torch", "timm": "timm"}.get(module.split(".")[0], module)
        raise ConfigError(
            f"learned backbones need {pkg} (pip install 'vqeval[backbones]'); "
            f"importing {module} failed: {type(e).__name__}: {' '.join(str(e).split())[:160]}"
        ) from e


# ----------------------------------------------------------------- open_clip


def _open_clip_backbone(
    spec: ModelSpec, weights_dir: Any, device: str, batch: int, stems: tuple[str, ...] = ()
) -> LibraryBackbone:
    oc = _import("open_clip")
    pcfg = oc.get_pretrained_cfg(spec.model, spec.tag) if not os.path.isfile(spec.tag) else {}
    if not pcfg and not os.path.isfile(spec.tag):
        raise ConfigError(
            f"backbone {spec.name!r}: open_clip knows no pretrained tag {spec.tag!r} for "
            f"{spec.model!r} and it is not a file (open_clip.list_pretrained() lists the pairs)"
        )
    kwargs: dict[str, Any] = {}
    for src, dst in (("mean", "image_mean"), ("std", "image_std"),
                     ("interpolation", "image_interpolation"), ("resize_mode", "image_resize_mode")):  # fmt: skip
        if pcfg.get(src):
            kwargs[dst] = pcfg[src]
    if pcfg.get("quick_gelu"):
        kwargs["force_quick_gelu"] = True  # the tag was trained with QuickGELU
    stems = stems or local_stems(spec)
    hub = str(pcfg.get("hf_hub", ""))
    repo, fname = os.path.split(hub)  # open_clip writes "org/name/" or "org/name/file"
    names = (fname,) if fname else ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    file = (
        (Path(spec.tag) if os.path.isfile(spec.tag) else None)
        or find_weights(stems, weights_dir)
        or (_hf_cached(repo, names) if repo else None)
    )
    cache = _hf_repo_dir(repo) if repo else Path("~/.cache/clip").expanduser()
    how = _HOW_HF.format(repo=repo, cache=cache) if repo else f"download {pcfg.get('url', '')}"
    what = f"backbone {spec.name!r} (open_clip {spec.model} pretrained={spec.tag})"
    if file is None and offline():
        raise _missing(what, cache, how, _local_hint(stems, weights_dir))
    down = hub_unreachable() if file is None and repo else None
    if down:  # no network: fail now, not after a minute of retries
        raise _missing(what, cache, how, _local_hint(stems, weights_dir), down)
    try:
        with _quiet_hub():
            model, _, preprocess = oc.create_model_and_transforms(
                spec.model,
                pretrained=str(file) if file else spec.tag,
                device=device,
                cache_dir=None if file or not repo else str(hf_cache_dir()),
                **kwargs,
            )
    except Exception as e:
        raise _load_failed(what, file, cache, how, _local_hint(stems, weights_dir), e) from e
    model.eval()
    tokenizer = oc.get_tokenizer(spec.model)
    size = _side(getattr(model.visual, "image_size", 224))

    def encode_text(texts: list[str]) -> Any:
        return model.encode_text(tokenizer(texts).to(device))

    return LibraryBackbone(
        spec.name,
        model.encode_image,
        preprocess,
        size,
        _resize_side(preprocess, size),
        device=device,
        batch_size=batch,
        encode_text=encode_text,
        change_distance=BACKBONE_DISTANCES["open_clip"][0],
        novelty_distance=BACKBONE_DISTANCES["open_clip"][1],
        source=str(file or cache),
    )


def _side(s: Any) -> int:
    return int(s[-1] if isinstance(s, (tuple, list)) else s)


def _resize_side(transform: Any, default: int) -> int:
    """The shorter-side target of a torchvision ``Resize`` inside ``transform``."""
    for t in getattr(transform, "transforms", ()):
        if type(t).__name__ == "Resize":
            s = t.size
            return _side(s) if not isinstance(s, (tuple, list)) or len(s) == 1 else max(s)
        if type(t).__name__ == "ResizeKeepRatio":
            return max(_side(t.size), default)
    return default


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


# ---------------------------------------------------------------------- timm


def _timm_backbone(spec: ModelSpec, weights_dir: Any, device: str, batch: int) -> LibraryBackbone:
    timm = _import("timm")
    data = _import("timm.data")
    try:
        pcfg = timm.models.get_pretrained_cfg(spec.model)
    except Exception:
        pcfg = None
    if pcfg is None:
        raise ConfigError(
            f"backbone {spec.name!r}: timm has no pretrained model {spec.model!r} "
            "(timm.list_pretrained() lists them)"
        )
    stems = local_stems(spec)
    repo = getattr(pcfg, "hf_hub_id", None) or ""
    names = (getattr(pcfg, "hf_hub_filename", None) or "model.safetensors", "pytorch_model.bin")
    file = find_weights(stems, weights_dir) or (_hf_cached(repo, names) if repo else None)
    cache = _hf_repo_dir(repo) if repo else torch_hub_dir()
    how = _HOW_HF.format(repo=repo, cache=cache) if repo else f"download {pcfg.url}"
    what = f"backbone {spec.name!r} (timm {spec.model})"
    if file is None and offline():
        raise _missing(what, cache, how, _local_hint(stems, weights_dir))
    down = hub_unreachable() if file is None and repo else None
    if down:  # no network: fail now, not after a minute of retries
        raise _missing(what, cache, how, _local_hint(stems, weights_dir), down)
    kwargs = dict(TIMM_KWARGS.get(spec.model, {}))
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", {}))
    if file is not None:
        overlay["file"] = str(file)
    try:
        with _quiet_hub():
            model = timm.create_model(
                spec.model,
                pretrained=True,
                num_classes=0,
                pretrained_cfg_overlay=overlay or None,
                cache_dir=None if file else str(hf_cache_dir()),
                **kwargs,
            )
    except Exception as e:
        raise _load_failed(what, file, cache, how, _local_hint(stems, weights_dir), e) from e
    model.eval().to(device)
    cfg = data.resolve_data_config({}, model=model)
    transform = data.create_transform(**cfg, is_training=False)
    size = _side(cfg["input_size"])
    return LibraryBackbone(
        spec.name,
        model,
        transform,
        size,
        _resize_side(transform, size),
        device=device,
        batch_size=batch,
        change_distance=BACKBONE_DISTANCES["timm"][0],
        novelty_distance=BACKBONE_DISTANCES["timm"][1],
        source=str(file or cache),
    )


# ------------------------------------------------------------------- legacy


def _read_tensors(path: Path) -> Any:
    """What a ``.safetensors`` file (a dict of tensors) or a torch file
    (``weights_only=True``) holds; the library's error as it is."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=True)


def _load_state_dict(path: Path) -> dict[str, Any]:
    """Tensors of a ``.safetensors`` file or a torch file (``weights_only=True``)."""
    try:
        sd = _read_tensors(path)
    except Exception as e:  # corrupt file, pickle refused by weights_only ...
        raise ConfigError(f"cannot read backbone weights {path}: {_short(e)}") from e
    for key in ("state_dict", "model", "teacher"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        raise ConfigError(f"{path}: not a state dict of tensors")
    return sd


def _local_backbone(path: Path, kind: str) -> Backbone:
    try:
        return (DinoBackbone if kind == "dino" else ClipBackbone)(_load_state_dict(path), str(path))
    except ValueError as e:
        raise ConfigError(str(e)) from e


# ------------------------------------------------------------------- public


def get_backbone(
    name: str = "pixel",
    weights_dir: str | os.PathLike[str] | None = None,
    *,
    device: str = "cpu",
    batch_size: int = 32,
) -> Backbone:
    """Backbone by name (module table), built once per (name, weights, device).

    Args:
        name: ``pixel``, ``dino``, ``clip``, ``clip:MODEL/TAG``, ``dinov2-s`` ...
        weights_dir: local weights folder; ``None`` = ``$VQEVAL_WEIGHTS``.
        device: torch device of learned models (``cpu``, ``cuda``, ``cuda:N``).
        batch_size: frames per forward pass (>= 1).

    Raises:
        ConfigError: unknown name, library missing, weights missing (one line:
            which, where they would be cached, how to place them) or unreadable.
    """
    spec = parse_backbone(name)
    if spec.library == "pixel":
        return PixelBackbone()
    root = weights_root(weights_dir)
    key = (spec.name, str(root), device)
    with _lock:
        if key in _cache:
            bb = _cache[key]
            bb.batch_size = max(1, int(batch_size))
            return bb
        if spec.library == "local":
            stems, lib_name = LEGACY[spec.name]
            path = find_weights(stems, weights_dir)
            if path is not None:
                bb = _local_backbone(path, spec.name)
            else:
                lib = parse_backbone(lib_name)
                lib = ModelSpec(spec.name, lib.library, lib.model, lib.tag, lib.family)
                bb = _build(lib, weights_dir, device, batch_size, stems)
        else:
            bb = _build(spec, weights_dir, device, batch_size)
        bb.batch_size = max(1, int(batch_size))
        _cache[key] = bb
        return bb


#: Hugging Face repos of open_clip pretrained tags, known without importing
#: open_clip (the default text_alignment model and VBench's CLIP).
OPEN_CLIP_REPOS: dict[tuple[str, str], str] = {
    ("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ("ViT-B-32", "openai"): "timm/vit_base_patch32_clip_224.openai",
}


def _known_repo(spec: ModelSpec) -> tuple[str, str] | None:
    """``(hub repo, what)`` of ``spec`` known without importing its library:
    the timm models of :data:`TIMM_ALIASES` (``timm/<model>``) and
    :data:`OPEN_CLIP_REPOS`; ``None`` for others."""
    if spec.library == "timm" and spec.model in TIMM_ALIASES.values():
        return f"timm/{spec.model}", f"backbone {spec.name!r} (timm {spec.model})"
    if spec.library == "open_clip" and (spec.model, spec.tag) in OPEN_CLIP_REPOS:
        what = f"backbone {spec.name!r} (open_clip {spec.model} pretrained={spec.tag})"
        return OPEN_CLIP_REPOS[spec.model, spec.tag], what
    return None


def _fail_fast_if_unobtainable(spec: ModelSpec, weights_dir: Any, stems: tuple[str, ...]) -> None:
    """Before importing open_clip or timm (seconds): when a model whose hub
    repo is known (:func:`_known_repo`) has no local file and no folder in
    the hub cache, and downloads are off or the hub does not answer, it
    cannot be had; say so now, in one line. Other models go through their
    library (which checks the name), then :func:`hub_unreachable`.

    Raises:
        ConfigError: the model cannot be obtained.
    """
    stems = stems or local_stems(spec)
    if os.path.isfile(spec.tag) or find_weights(stems, weights_dir) is not None:
        return
    known = _known_repo(spec)
    if known is None or _hf_repo_dir(known[0]).is_dir():
        return  # the library checks the name and its own cache (slower, same outcome)
    cause = "" if offline() else hub_unreachable()
    if cause is None:
        return
    repo, what = known
    cache = _hf_repo_dir(repo)
    how = _HOW_HF.format(repo=repo, cache=cache)
    raise _missing(what, cache, how, _local_hint(stems, weights_dir), cause)


def _build(
    spec: ModelSpec, weights_dir: Any, device: str, batch: int, stems: tuple[str, ...] = ()
) -> LibraryBackbone:
    _fail_fast_if_unobtainable(spec, weights_dir, stems)
    if spec.library == "open_clip":
        return _open_clip_backbone(spec, weights_dir, device, batch, stems)
    if stems and find_weights(stems, weights_dir) is None:
        # legacy 'dino': also accept its local stem in the message
        try:
            return _timm_backbone(spec, weights_dir, device, batch)
        except ConfigError as e:
            raise ConfigError(f"{e} (or {_local_hint(stems, weights_dir)})") from e
    return _timm_backbone(spec, weights_dir, device, batch)


def available(name: str, weights_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when ``name`` can be built without the network: weight-free, a
    local file, already loaded, or its file already in the library cache.
    Never downloads and never imports a model library it does not need."""
    try:
        spec = parse_backbone(name)
    except ConfigError:
        return False
    if spec.library == "pixel":
        return True
    root = weights_root(weights_dir)
    if any(k[0] == spec.name and k[1] == str(root) for k in _cache):
        return True
    if spec.library == "local":
        if find_weights(LEGACY[spec.name][0], weights_dir) is not None:
            return True
        lib = parse_backbone(LEGACY[spec.name][1])
        spec = ModelSpec(spec.name, lib.library, lib.model, lib.tag, lib.family)
    if find_weights(local_stems(spec), weights_dir) is not None:
        return True
    if spec.library == "open_clip" and os.path.isfile(spec.tag):
        return True
    return _hub_file_cached(spec)


#: HF hub repos of common open_clip (model, tag) pairs, so that
#: :func:`available` needs no open_clip import for them.
_OPEN_CLIP_REPOS = {
    ("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ("ViT-B-32", "openai"): "timm/vit_base_patch32_clip_224.openai",
    ("ViT-L-14", "openai"): "timm/vit_large_patch14_clip_224.openai",
}


def _hub_file_cached(spec: ModelSpec) -> bool:
    """Whether the hub repo of a library spec has weights in the HF cache
    (looks at the cache folder only)."""
    if spec.library == "timm":
        repo = "timm/" + spec.model
    elif (spec.model, spec.tag) in _OPEN_CLIP_REPOS:
        repo = _OPEN_CLIP_REPOS[(spec.model, spec.tag)]
    elif spec.library == "open_clip":
        try:
            oc = _import("open_clip")
            hub = str(oc.get_pretrained_cfg(spec.model, spec.tag).get("hf_hub", ""))
        except ConfigError:
            return False
        repo = os.path.split(hub)[0]
        if not repo:
            return False
    else:
        return False
    snaps = _hf_repo_dir(repo) / "snapshots"
    exts = (".safetensors", ".bin", ".pth", ".pt")
    try:
        return snaps.is_dir() and any(p.suffix in exts for p in snaps.glob("*/*"))
    except OSError:  # a cache this user may not read
        return False


def clear_cache() -> None:
    """Forget every loaded model (tests; after replacing weight files)."""
    with _lock:
        _cache.clear()


# ---------------------------------------------------------------------- RAFT

#: Local file stems of RAFT (torchvision state dicts), large first.
RAFT_STEMS = ("raft_large", "raft_small")


def load_raft(weights_dir: str | os.PathLike[str] | None = None, device: str = "cpu") -> Any:
    """torchvision RAFT, in eval mode on ``device``.

    A local ``raft_large`` / ``raft_small`` file (torchvision state dict)
    wins; else ``raft_large(weights=Raft_Large_Weights.DEFAULT)``, which
    torchvision loads from (or downloads into) the torch hub cache.

    Raises:
        ConfigError: torchvision not importable, weights missing or unreadable.
    """
    root = weights_root(weights_dir)
    key = ("raft", str(root), device)
    with _lock:
        if key in _cache:
            return _cache[key]
        try:
            of = _import("torchvision.models.optical_flow")
        except ConfigError as e:
            raise ConfigError(
                f"flow 'raft' needs torchvision importable beside torch ({e}); install the "
                "torchvision build matching your torch, or use the flow 'dis'"
            ) from e
        path = find_weights(RAFT_STEMS, weights_dir)
        if path is not None:
            try:
                model = (of.raft_small if "small" in path.stem else of.raft_large)(weights=None)
                model.load_state_dict(_read_tensors(path))
            except Exception as e:
                raise ConfigError(f"cannot load RAFT weights {path}: {_short(e)}") from e
        else:
            w = of.Raft_Large_Weights.DEFAULT
            cached = torch_hub_dir() / os.path.basename(w.url)
            what = f"flow 'raft' (torchvision {w})"
            how = f"download {w.url} into {cached.parent}"
            local = _local_hint(RAFT_STEMS, weights_dir)
            if not cached.is_file() and offline():
                raise _missing(what, cached, how, local)
            try:
                model = of.raft_large(weights=w, progress=False)
            except Exception as e:
                raise _missing(what, cached, how, local, _short(e)) from e
        model = _raft_module(model.eval().to(device), device)
        _cache[key] = model
        return model


def _raft_module(raft: Any, device: str) -> Any:
    """RAFT behind the 0-255 interface of :func:`metrics.motion.torch_flow_fields`:
    inputs moved to ``device`` and mapped to -1..1 as torchvision's
    ``Raft_*_Weights.transforms()`` do; returns the refinements (last = flow)."""
    import torch

    class RaftOnDevice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.raft = raft

        def forward(self, a: Any, b: Any) -> Any:
            a = a.to(device, torch.float32) / 127.5 - 1.0
            b = b.to(device, torch.float32) / 127.5 - 1.0
            return self.raft(a, b)

    return RaftOnDevice().eval()


# ----------------------------------------------------------------- aesthetic

#: Local file stems of the LAION aesthetic head and its CLIP ViT-L/14 tower.
AESTHETIC_HEAD_STEMS = ("laion_aesthetic_l14_linear", "laion_aesthetic_l14")
CLIP_L14_STEMS = ("clip_vitl14",)
#: open_clip model of the aesthetic head when no local tower file is there.
AESTHETIC_CLIP = "clip:ViT-L-14/openai"


def aesthetic_model(
    weights_dir: str | os.PathLike[str] | None = None, device: str = "cpu"
) -> tuple[Backbone, Any, float] | None:
    """(CLIP ViT-L/14 backbone, head weight (d,) float32, head bias), or
    ``None`` when no head file is in the local weights folder.

    The tower is a local ``clip_vitl14`` file, else open_clip ``ViT-L-14/openai``
    (cache or download).

    Raises:
        ConfigError: the head is there but its tower is not, or a file does
            not hold the expected tensors.
    """
    head = find_weights(AESTHETIC_HEAD_STEMS, weights_dir)
    if head is None:
        return None
    key = ("aesthetic", str(head.resolve()), device)
    with _lock:
        if key in _cache:
            return _cache[key]
        sd = _load_state_dict(head)
        w = next((sd[k] for k in ("weight", "linear.weight", "layers.0.weight") if k in sd), None)
        b = next((sd[k] for k in ("bias", "linear.bias", "layers.0.bias") if k in sd), None)
        if w is None or b is None or w.numel() != w.shape[-1]:
            raise ConfigError(
                f"{head}: not a linear aesthetic head (expected tensors 'weight' (1, d) and 'bias')"
            )
        tower = find_weights(CLIP_L14_STEMS, weights_dir)
        if tower is not None:
            bb: Backbone = _local_backbone(tower, "clip")
        else:
            try:
                spec = parse_backbone(AESTHETIC_CLIP)
                bb = _open_clip_backbone(spec, weights_dir, device, 32, CLIP_L14_STEMS)
            except ConfigError as e:
                raise ConfigError(
                    f"aesthetic head {head} needs the CLIP ViT-L/14 image tower: {e}"
                ) from e
        model = (bb, w.float().numpy().reshape(-1), float(b.float().reshape(-1)[0]))
        _cache[key] = model
        return model

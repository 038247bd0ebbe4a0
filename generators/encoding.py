"""Prompt encoding hooks: how a prompt becomes pipeline call arguments.

A spec's ``text_encoder`` picks the hook:

- ``"pipeline"``: the pipeline encodes the prompt with its own text encoder (UMT5 for Wan,
  Qwen2.5-VL + byT5 for HunyuanVideo 1.5); the hook only passes the strings through.
- ``"stand-in"``: a deterministic, weight-free stand-in for tiny test models saved without a
  text encoder. Each prompt is hashed (SHA-256) into a seed and mapped to a fixed random
  embedding of the spec's ``text_dim`` (and ``text_dim_2``), so equal prompts give equal
  embeddings in every process and on every machine. It carries no meaning: it only lets the
  rest of the loop (sweeps, resume, methods, files) run with random weights.
- ``"module:function"``: any callable with the :data:`EncodeHook` signature.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

import torch
from lvsa.generators.errors import GeneratorError
from lvsa.generators.models import ModelSpec

#: ``hook(pipe, spec, prompt, negative_prompt, device, dtype) -> dict`` of pipeline kwargs.
EncodeHook = Callable[[Any, ModelSpec, str, str, torch.device, torch.dtype], dict[str, Any]]

#: Tokens per stand-in embedding.
STAND_IN_TOKENS = 16


def _seed(text: str, salt: str) -> int:
    digest = hashlib.sha256(f"{salt}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def stand_in_embedding(text: str, dim: int, *, salt: str = "text", tokens: int = STAND_IN_TOKENS):
    """Deterministic (1, tokens, dim) float32 embedding of ``text`` (unit-variance normal)."""
    gen = torch.Generator(device="cpu").manual_seed(_seed(text, salt))
    return torch.randn(1, tokens, dim, generator=gen, dtype=torch.float32)


def encode_with_pipeline(
    pipe: Any,
    spec: ModelSpec,
    prompt: str,
    negative_prompt: str,
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, Any]:
    """Let the pipeline's own text encoder run: pass the strings through."""
    kwargs: dict[str, Any] = {"prompt": prompt}
    if negative_prompt:
        kwargs["negative_prompt"] = negative_prompt
    return kwargs


def encode_stand_in(
    pipe: Any,
    spec: ModelSpec,
    prompt: str,
    negative_prompt: str,
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, Any]:
    """Stand-in embeddings for both the prompt and the negative prompt (see module docstring)."""

    def emb(text: str, dim: int, salt: str) -> torch.Tensor:
        return stand_in_embedding(text, dim, salt=salt).to(device=device, dtype=dtype)

    if spec.family == "hunyuanvideo15":
        out: dict[str, Any] = {}
        for prefix, text in (("", prompt), ("negative_", negative_prompt)):
            e1 = emb(text, spec.text_dim, "text")
            e2 = emb(text, spec.text_dim_2, "text_2")
            out[f"{prefix}prompt_embeds"] = e1
            out[f"{prefix}prompt_embeds_mask"] = torch.ones(e1.shape[:2], device=device)
            out[f"{prefix}prompt_embeds_2"] = e2
            out[f"{prefix}prompt_embeds_mask_2"] = torch.ones(e2.shape[:2], device=device)
        return out
    return {
        "prompt_embeds": emb(prompt, spec.text_dim, "text"),
        "negative_prompt_embeds": emb(negative_prompt, spec.text_dim, "text"),
    }


ENCODERS: dict[str, EncodeHook] = {
    "pipeline": encode_with_pipeline,
    "stand-in": encode_stand_in,
}


def get_encoder(spec: ModelSpec) -> EncodeHook:
    """The encode hook named by ``spec.text_encoder``."""
    name = spec.text_encoder
    if name in ENCODERS:
        return ENCODERS[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise GeneratorError(f"model {spec.name}: cannot load encoder {name}: {exc}") from None
    raise GeneratorError(f"model {spec.name}: unknown text encoder {name!r}")

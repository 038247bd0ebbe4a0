"""Attention methods: method name -> how to install it into a pipeline (and remove it again).

Every method except ``dense`` comes from the :mod:`lvsa` package (docs/lvsa.md):

| name          | what changes                                                     | density |
| ------------- | ---------------------------------------------------------------- | ------- |
| `dense`       | nothing (diffusers' own attention)                               | 1.0     |
| `lvsa`        | block-sparse self-attention (sink + window + rotating anchors)   | < 1.0   |
| `riflex`      | RoPE: intrinsic temporal frequency scaled to the test length     | 1.0     |
| `ultravico`   | dense attention, distant positive logits damped by alpha         | 1.0     |
| `lvsa+riflex` | both of the above                                                | < 1.0   |

:mod:`lvsa` is imported only when a method needs it, so ``dense`` runs without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lvsa.generators.errors import GeneratorError


@dataclass(frozen=True)
class MethodContext:
    """What a method needs to know about the clip it is installed for.

    Attributes:
        reference_frames: training horizon in latent frames (LVSA / UltraViCo reference).
        num_latent_frames: latent frames of the clip being generated (RIFLEx's L_test).
        options: extra keyword arguments for ``lvsa.LVSAConfig`` (window, sink, ...).
    """

    reference_frames: int
    num_latent_frames: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """One attention method.

    Attributes:
        name: the name used on the command line, in folders and in sidecars.
        description: one line for ``--help`` and docs.
        parts: the installable pieces (``"lvsa"``, ``"riflex"``, ``"ultravico"``); empty for dense.
    """

    name: str
    description: str
    parts: tuple[str, ...]

    @property
    def sparse(self) -> bool:
        """True when attention is block-sparse (density below 1 is possible)."""
        return "lvsa" in self.parts


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("dense", "full attention, no change to the model", ()),
        Method("lvsa", "LVSA block-sparse attention (sink + window + rotating anchors)", ("lvsa",)),
        Method("riflex", "RIFLEx: intrinsic RoPE time frequency scaled to the clip", ("riflex",)),
        Method("ultravico", "UltraViCo: distant attention logits damped", ("ultravico",)),
        Method("lvsa+riflex", "LVSA attention with RIFLEx positions", ("riflex", "lvsa")),
    )
}


def parse_methods(values: str | Iterable[str]) -> list[str]:
    """Parse ``"dense,lvsa"`` or ``["dense", "lvsa,riflex"]`` into known method names.

    Order is kept, duplicates dropped. Raises :class:`GeneratorError` for an unknown name.
    """
    items = [values] if isinstance(values, str) else list(values)
    names: list[str] = []
    for item in items:
        for raw in str(item).split(","):
            name = raw.strip().lower()
            if not name:
                continue
            if name not in METHODS:
                raise GeneratorError(
                    f"unknown method {name!r}; known: {', '.join(METHODS)} "
                    "(repeat --method or give a comma list)"
                )
            if name not in names:
                names.append(name)
    if not names:
        raise GeneratorError(f"no method given; known: {', '.join(METHODS)}")
    return names


def _lvsa() -> Any:
    try:
        return importlib.import_module("lvsa")
    except ImportError as exc:
        raise GeneratorError(
            f"the lvsa package is needed for this method but cannot be imported: {exc}"
        ) from None


def _install_lvsa(pipe: Any, ctx: MethodContext) -> None:
    lvsa = _lvsa()
    lvsa.apply(pipe, lvsa.LVSAConfig(reference_frames=ctx.reference_frames, **ctx.options))


def _install_riflex(pipe: Any, ctx: MethodContext) -> None:
    _lvsa()
    riflex = importlib.import_module("lvsa.riflex")
    riflex.apply(pipe, num_latent_frames=ctx.num_latent_frames)


def _install_ultravico(pipe: Any, ctx: MethodContext) -> None:
    _lvsa()
    ultravico = importlib.import_module("lvsa.ultravico")
    ultravico.apply(pipe, reference_frames=ctx.reference_frames)


_INSTALLERS: dict[str, Callable[[Any, MethodContext], None]] = {
    "lvsa": _install_lvsa,
    "riflex": _install_riflex,
    "ultravico": _install_ultravico,
}


def check(methods: Iterable[str], ctx: MethodContext) -> None:
    """Fail early (before loading any weights) when a method cannot be set up.

    Builds the ``lvsa.LVSAConfig`` of sparse methods so that a bad ``--lvsa-option`` or a
    missing :mod:`lvsa` package is one :class:`GeneratorError`, not a failure per clip.
    """
    parts = {part for m in methods for part in METHODS[m].parts}
    if not parts:
        return
    lvsa = _lvsa()
    if "lvsa" in parts:
        try:
            lvsa.LVSAConfig(reference_frames=ctx.reference_frames, **ctx.options)
        except (TypeError, ValueError) as exc:
            raise GeneratorError(f"bad LVSA option: {exc}") from None
    for part in parts - {"lvsa"}:
        try:
            importlib.import_module(f"lvsa.{part}")
        except ImportError as exc:
            raise GeneratorError(f"method part {part} is not available in lvsa: {exc}") from None


def install(pipe: Any, method: str, ctx: MethodContext) -> None:
    """Install ``method`` into ``pipe`` (all experts). ``dense`` installs nothing."""
    for part in METHODS[method].parts:
        _INSTALLERS[part](pipe, ctx)


def remove(pipe: Any, method: str) -> None:
    """Undo :func:`install`: the pipeline computes dense attention with stock RoPE again."""
    parts = METHODS[method].parts
    if not parts:
        return
    lvsa = _lvsa()
    for part in reversed(parts):
        module = lvsa if part == "lvsa" else importlib.import_module(f"lvsa.{part}")
        module.remove(pipe)


def density(pipe: Any, method: str) -> float | None:
    """Attention density of the last run (fraction of query-key pairs computed, 0-1).

    1.0 for dense-attention methods; ``lvsa.density(pipe)`` for sparse ones (``None`` if the
    lvsa package cannot report it).
    """
    if not METHODS[method].sparse:
        return 1.0
    try:
        value = _lvsa().density(pipe)
    except (AttributeError, RuntimeError, ValueError, TypeError):
        return None
    return None if value is None else float(value)

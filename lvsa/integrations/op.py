"""The session's attention call as one opaque ``torch.library`` op for ``torch.compile``.

Eager calls go straight to ``session.attend``. Under ``torch.compile`` (for example
diffusers' ``compile_repeated_blocks``) Dynamo would otherwise trace into the pattern,
plan and kernel-launch code: graph breaks on its lock, and one recompilation per
anchor set, which soon exhausts the recompile limit and leaves the blocks eager. As a
custom op the whole transformer block compiles to one graph, the op runs the usual
Python at run time (plans stay cached there) and nothing recompiles when the
denoising step rotates the anchors.

Sessions are looked up by ``id`` in a weak registry; the op's integer arguments are
constant for a given install and geometry, so the compiled graph guards only on them.
"""

from __future__ import annotations

import weakref

import torch

from ..plan import Geometry
from .session import AttentionSession

__all__ = ["register", "session_attend"]

_SESSIONS: weakref.WeakValueDictionary[int, AttentionSession] = weakref.WeakValueDictionary()


@torch.library.custom_op("lvsa::session_attend", mutates_args=())
def _session_attend_op(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    session_id: int,
    frames: int,
    tokens_per_frame: int,
    text_tokens: int,
    text_first: bool,
    text_valid: list[int] | None,
) -> torch.Tensor:
    session = _SESSIONS.get(session_id)
    if session is None:
        raise RuntimeError("lvsa: the attention session of this compiled graph was removed")
    geom = _geometry(q, frames, tokens_per_frame, text_tokens, text_first)
    valid = tuple(text_valid) if text_valid is not None else None
    return session.attend(q, k, v, geom, valid, session).contiguous()


@_session_attend_op.register_fake
def _(q, k, v, session_id, frames, tokens_per_frame, text_tokens, text_first, text_valid):
    return q.new_empty((*q.shape[:3], v.shape[-1]))


def register(session: AttentionSession) -> None:
    """Make ``session`` reachable from compiled graphs (done by ``install``)."""
    _SESSIONS[id(session)] = session


def _geometry(q: torch.Tensor, frames: int, tpf: int, text: int, text_first: bool) -> Geometry:
    return Geometry(
        frames, tpf, text_tokens=text, text_first=text_first, heads=q.shape[2], head_dim=q.shape[3]
    )


def session_attend(
    session: AttentionSession,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    geometry: Geometry,
    text_valid: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """``session.attend`` on ``(B, S, H, D)`` tensors; an opaque op while compiling.

    Returns:
        ``(B, S, H, D)`` output in ``q``'s dtype.
    """
    if not torch.compiler.is_compiling():
        return session.attend(q, k, v, geometry, text_valid, session)
    return _session_attend_op(
        q,
        k,
        v,
        id(session),
        geometry.frames,
        geometry.tokens_per_frame,
        geometry.text_tokens,
        geometry.text_first,
        list(text_valid) if text_valid is not None else None,
    )

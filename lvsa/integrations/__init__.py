"""diffusers integration (processors, step tracking, install/remove)."""

from .install import (
    find_session,
    install,
    model_kind,
    model_reference_frames,
    transformers_of,
    uninstall,
)
from .session import AttentionSession, CallGeometry

__all__ = [
    "AttentionSession",
    "CallGeometry",
    "find_session",
    "install",
    "model_kind",
    "model_reference_frames",
    "transformers_of",
    "uninstall",
]

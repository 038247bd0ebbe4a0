"""diffusers integration (processors, step tracking, install/remove)."""

from .install import (
    find_session,
    install,
    model_kind,
    model_reference_frames,
    transformers_of,
    uninstall,
)
from .parallel import enable_context_parallel
from .session import AttentionSession, CallGeometry

__all__ = [
    "AttentionSession",
    "CallGeometry",
    "enable_context_parallel",
    "find_session",
    "install",
    "model_kind",
    "model_reference_frames",
    "transformers_of",
    "uninstall",
]

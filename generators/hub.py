"""The Hugging Face hub settings the generators read at call time (below
:mod:`.loading` and :mod:`.models`, which both need them)."""

from __future__ import annotations

import os
from pathlib import Path


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (read at call time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> str | None:
    """Hub cache folder from ``HF_HUB_CACHE`` / ``HF_HOME`` read now (``None``: library default)."""
    # huggingface_hub reads these at import time; reading them here makes late changes count.
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def hub_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "weights or configs could not be found or fetched"."""
    errors: list[type[BaseException]] = [OSError, ValueError]
    try:
        from huggingface_hub.errors import HfHubHTTPError

        errors.append(HfHubHTTPError)
    except ImportError:  # pragma: no cover - huggingface_hub always ships with diffusers
        pass
    try:
        import requests

        errors.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)

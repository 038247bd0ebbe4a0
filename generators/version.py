"""The version the generators record in their sidecars (below :mod:`.cli`
and :mod:`.runner`, which both need it)."""

from __future__ import annotations


def package_version() -> str:
    """Version of the installed ``vqeval`` distribution (which ships ``lvsa``
    and the generators), else of the source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vqeval")
    except PackageNotFoundError:  # a source tree without the distribution
        return _source_version()


def _source_version() -> str:
    """``project.version`` of the source tree's pyproject.toml (``lvsa`` does
    not import ``vqeval``), else ``"unknown"``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"

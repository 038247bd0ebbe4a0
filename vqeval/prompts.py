"""The text prompt of each video, for ``text_alignment``.

Priority: ``ScoreConfig.prompt`` (``--prompt TEXT``, one prompt for all), then
``ScoreConfig.prompts`` (a ``--prompts FILE`` mapping), then the generator's
sidecar: ``lvsa-generate`` writes ``<stem>.json`` beside ``<stem>.mp4`` with a
``"prompt"`` key. A video with none of these has no prompt.

A ``--prompts`` file is either CSV with a header holding ``path`` and
``prompt`` columns, or JSON: an object mapping path or file name to prompt, or
a list of ``{"path": ..., "prompt": ...}`` objects. A key matches a video by its
path as given, its absolute path, its file name or its file name without
extension (first match in that order).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from vqeval.results import ConfigError

__all__ = ["load_prompts", "prompt_for"]

#: Longest prompt kept, characters (CLIP reads 77 tokens anyway).
MAX_PROMPT_CHARS = 2000


def load_prompts(path: str | os.PathLike[str]) -> tuple[tuple[str, str], ...]:
    """(key, prompt) pairs of a ``--prompts`` file (see the module doc).

    Raises:
        ConfigError: unreadable file, unknown layout, or no pairs (one line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"--prompts {p}: cannot read ({getattr(e, 'strerror', None) or e})"
        ) from e
    pairs: list[tuple[str, str]] = []
    if p.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"--prompts {p}: not valid JSON ({e})") from e
        if isinstance(data, dict):
            pairs = [(str(k), v) for k, v in data.items() if isinstance(v, str)]
        elif isinstance(data, list):
            pairs = [
                (str(d["path"]), d["prompt"])
                for d in data
                if isinstance(d, dict) and "path" in d and isinstance(d.get("prompt"), str)
            ]
        else:
            raise ConfigError(f"--prompts {p}: JSON must map path -> prompt")
    else:
        rows = list(csv.DictReader(text.splitlines()))
        cols = {c.strip().lower(): c for c in (rows[0].keys() if rows else []) if c}
        if "path" not in cols or "prompt" not in cols:
            raise ConfigError(f"--prompts {p}: CSV needs a header with 'path' and 'prompt' columns")
        pairs = [
            (r[cols["path"]].strip(), r[cols["prompt"]] or "") for r in rows if r[cols["path"]]
        ]
    pairs = [(k, " ".join(v.split())[:MAX_PROMPT_CHARS]) for k, v in pairs if v.strip()]
    if not pairs:
        raise ConfigError(f"--prompts {p}: no (path, prompt) pairs found")
    return tuple(pairs)


def _sidecar_prompt(video: Path) -> tuple[str | None, str]:
    side = video.with_suffix(".json")
    if video.suffix.lower() == ".json" or not side.is_file():
        return None, ""
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, ""
    prompt = data.get("prompt") if isinstance(data, dict) else None
    if isinstance(prompt, str) and prompt.strip():
        return " ".join(prompt.split())[:MAX_PROMPT_CHARS], f"sidecar {side.name}"
    return None, ""


def prompt_for(path: str | os.PathLike[str] | None, config: object) -> tuple[str | None, str]:
    """(prompt, where it came from) of the video at ``path``; ``(None, reason)``
    when it has none.

    Args:
        path: the video's path (``None``: only ``config.prompt`` can apply).
        config: a :class:`~vqeval.config.ScoreConfig` (``prompt``, ``prompts``).
    """
    given = getattr(config, "prompt", None)
    if given and given.strip():
        return " ".join(given.split())[:MAX_PROMPT_CHARS], "--prompt"
    if path is None:
        return None, "no prompt: clip made in memory and no --prompt"
    video = Path(os.fspath(path))
    table = getattr(config, "prompts", None)
    if table:
        mapping = dict(table)
        for key in (os.fspath(path), str(video.resolve()), video.name, video.stem):
            if key in mapping:
                return mapping[key], "--prompts"
        absolute = {str(Path(k).resolve()): v for k, v in mapping.items() if os.sep in k}
        if str(video.resolve()) in absolute:
            return absolute[str(video.resolve())], "--prompts"
    found, source = _sidecar_prompt(video)
    if found is not None:
        return found, source
    return None, "no prompt (no --prompt, no --prompts entry, no generator sidecar JSON)"

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

from vqeval.inputfile import MAX_PROMPTS_BYTES, MAX_SIDECAR_BYTES, InputFileError, read_input_file
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
        text = read_input_file(p, max_bytes=MAX_PROMPTS_BYTES, pipes_ok=True).decode("utf-8-sig")
    except (InputFileError, UnicodeDecodeError) as e:
        raise ConfigError(f"--prompts {p}: cannot read ({e})") from None
    pairs: list[tuple[str, str]] = []
    if p.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"--prompts {p}: not valid JSON ({e})") from e
        except RecursionError:  # json recurses once per nesting level
            raise ConfigError(f"--prompts {p}: not valid JSON (nested too deeply)") from None
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
        try:
            rows = list(csv.DictReader(text.splitlines()))
        except csv.Error as e:  # e.g. a cell over csv.field_size_limit() (131,072 characters)
            raise ConfigError(f"--prompts {p}: not valid CSV ({e})") from None
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
    """(prompt, source) from the generator's sidecar ``<stem>.json``; ``(None,
    note)`` when there is none (empty note) or it is ignored (the note says
    why: unreadable, over ``MAX_SIDECAR_BYTES``, not JSON, nested too deeply)."""
    side = video.with_suffix(".json")
    if video.suffix.lower() == ".json" or not side.is_file():
        return None, ""
    try:
        data = json.loads(read_input_file(side, max_bytes=MAX_SIDECAR_BYTES).decode("utf-8"))
    except InputFileError as e:
        return None, f"sidecar {side.name} ignored: {e}"
    except ValueError:  # includes UnicodeDecodeError
        return None, f"sidecar {side.name} ignored: not valid JSON"
    except RecursionError:  # json recurses once per nesting level
        return None, f"sidecar {side.name} ignored: JSON nested too deeply"
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
    if source:  # a sidecar that was ignored: say why
        return None, f"no prompt (no --prompt, no --prompts entry; {source})"
    return None, "no prompt (no --prompt, no --prompts entry, no generator sidecar JSON)"

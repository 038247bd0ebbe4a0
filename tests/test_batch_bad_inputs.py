"""A batch mixing good clips with every kind of bad input: each bad input is one
error row with a one-line reason, everything else is scored, exit code 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import badinputs as bi
from vqeval.cli import main

BAD = {
    "zero-byte": bi.make_zero_byte,
    "random bytes": bi.make_random_bytes,
    "text as mp4": bi.make_text_mp4,
    "truncated": bi.make_truncated_mp4,
    "audio only": bi.make_audio_only,
    "single frame": bi.make_single_frame,
    "fifo": bi.make_fifo,
    "broken symlink": bi.make_broken_symlink,
    "symlink file loop": bi.make_symlink_file_loop,
}
GOOD = {
    "tiny 8x8": bi.make_tiny,
    "odd size": bi.make_odd_size,
    "large frames": bi.make_large_frames,
    "grayscale": bi.make_grayscale,
    "palette gif": bi.make_palette_gif,
    "rotated": bi.make_rotated,
    "spaces + non-ASCII path": bi.make_unicode_path,
    "image folder": bi.make_image_folder,
    "variable frame rate": bi.make_vfr,
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    d = tmp_path_factory.mktemp("batch")
    made: dict[str, Path] = {}
    for kind, make in {**BAD, **GOOD}.items():
        sub = d / kind.replace(" ", "_")
        sub.mkdir()
        made[kind] = make(sub)
    bi.make_symlink_dir_loop(d / "symlink_dir_loop_parent")
    return d, made


def test_every_bad_input_is_one_error_row_and_the_rest_is_scored(batch, tmp_path) -> None:
    d, made = batch
    js = tmp_path / "r.json"
    paths = [str(p) for p in made.values()] + [str(d / "symlink_dir_loop_parent")]
    r = CliRunner().invoke(
        main,
        [
            "score",
            *paths,
            "--json",
            str(js),
            "--no-cache",
            "--no-progress",
            "-d",
            "freeze,repetition",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 1, r.output
    rows = {x["path"]: x for x in json.loads(js.read_text())["results"]}
    by_kind = {k: rows.get(str(p)) for k, p in made.items()}
    for kind in BAD:
        row = by_kind[kind]
        assert row is not None, f"{kind}: no row"
        assert row["status"] == "error", f"{kind}: {row}"
        assert row["error"] and "\n" not in row["error"] and len(row["error"]) <= 300
    for kind in GOOD:
        row = by_kind[kind]
        assert row is not None, f"{kind}: no row"
        assert row["status"] == "ok", f"{kind}: {row['error']}"
        assert 0 <= row["composite"] <= 100


def test_unreadable_file_is_an_error_row_for_a_normal_user(tmp_path) -> None:
    import tempfile

    if not hasattr(os, "geteuid"):
        pytest.skip("POSIX only")
    d = Path(tempfile.mkdtemp())
    d.chmod(0o755)
    clip = bi.make_unreadable(d)
    if os.geteuid() != 0:
        import vqeval

        r = vqeval.score_video(clip)
        assert r.status == "error" and "permission" in r.error.lower()
        return

    def score_as_nobody() -> None:
        import vqeval

        r = vqeval.score_video(clip, raise_errors=False)
        if r.status != "error" or "permission" not in (r.error or "").lower():
            raise AssertionError(f"expected a permission error row, got {r.status}: {r.error}")

    outcome = bi.call_as_other_user(score_as_nobody)
    assert outcome == "ok", outcome

"""Flags explain themselves: when each failure starts and why, in the result,
the JSON record, the terminal table, Markdown and HTML."""

from __future__ import annotations

import json

import pytest

import vqeval
from tests.conftest import SAMPLES
from vqeval.report import html, markdown, table
from vqeval.results import VideoResult


@pytest.fixture(scope="module")
def results() -> list[VideoResult]:
    names = ["decay_chelsea.mp4", "loop_coffee.mp4", "healthy_pan_coffee.mp4"]
    if not all((SAMPLES / n).is_file() for n in names):
        pytest.skip("sample clips missing")
    return [vqeval.score_video(SAMPLES / n, raise_errors=True) for n in names]


def test_every_flag_has_a_start_and_a_reason(results) -> None:
    decay, loop, healthy = results
    assert healthy.flags == () and healthy.flag_details == ()
    d = {fd.flag: fd for fd in decay.flag_details}
    assert set(decay.flags) == set(d) == {"frozen", "motion_decay"}
    # the sample's motion stops at 5.0 s (labels.json freeze_start_s)
    assert d["frozen"].start_s == pytest.approx(5.0, abs=0.75)
    assert d["frozen"].text.startswith("frozen from ") and "content still" in d["frozen"].text
    (lp,) = loop.flag_details
    assert lp.flag == "loop" and f"{loop.loop_period_s:.2f} s" in lp.reason


def test_flag_details_round_trip_through_json(results) -> None:
    r = results[0]
    rec = json.loads(json.dumps(r.to_dict()))
    assert [f["flag"] for f in rec["flag_details"]] == list(r.flags)
    back = VideoResult.from_dict(rec)
    assert back.flag_details == r.flag_details


def test_table_markdown_and_html_show_the_reasons(results) -> None:
    text = table.render(results, width=200)
    reasons = [fd.text for r in results for fd in r.flag_details]
    assert reasons and all(x in text for x in reasons)
    md = markdown.render_score_markdown(results)
    page = html.render_score_html(results)
    for out in (md, page):
        assert "frozen from" in out and "repeats 0.0 s onwards every" in out

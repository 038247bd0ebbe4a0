"""VideoResult JSON records round-trip and reject other schema versions."""

import json

import pytest

from vqeval.report import jsonio, write_atomic
from vqeval.results import (
    SCHEMA_VERSION,
    DimensionScore,
    ResultsFormatError,
    VideoInfo,
    VideoResult,
)


def _result() -> VideoResult:
    return VideoResult(
        path="a b/ü.mp4",
        info=VideoInfo(fps=24.0, frame_count=48, width=64, height=32, codec="h264", duration_s=2.0),
        dimensions={
            "repetition": DimensionScore("repetition", 87.5, {"loop_detected": False}, "pixel")
        },
        composite=80.0,
        verdict="good",
        flags=("loop",),
        loop_period_s=1.5,
        series={"motion": [0.1, float("nan")]},
    )


def test_record_round_trips() -> None:
    r = _result()
    back = VideoResult.from_dict(json.loads(json.dumps(r.to_dict())))
    a, b = back.to_dict(), r.to_dict()
    a.pop("series"), b.pop("series")
    assert a == b
    assert back.score("repetition") == 87.5
    assert back.backbones == {"repetition": "pixel"}
    assert back.flags == ("loop",)


def test_results_file_round_trips_and_has_no_nan(tmp_path) -> None:
    p = jsonio.write_results(tmp_path / "r.json", [_result()])
    text = p.read_text()
    assert "NaN" not in text
    [back] = jsonio.read_results(p)
    assert back.series["motion"] == [0.1, None]
    assert back.info.duration_s == 2.0


def test_other_schema_is_rejected_with_one_line(tmp_path) -> None:
    doc = json.loads(jsonio.dumps([_result()]))
    doc["schema"] = SCHEMA_VERSION + 1
    p = tmp_path / "old.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ResultsFormatError) as e:
        jsonio.read_results(p)
    assert "schema" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"results": 3}'])
def test_malformed_results_files_are_rejected(tmp_path, text) -> None:
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ResultsFormatError):
        jsonio.read_results(p)


def test_write_atomic_leaves_no_temp_files(tmp_path) -> None:
    target = tmp_path / "sub" / "out.txt"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", None),
        ("status", "maybe"),
        ("composite", "80"),
        ("composite", True),
        ("scores", {"repetition": "high"}),
        ("raw", {"repetition": 3}),
        ("flags", "loop"),
        ("flags", [1]),
        ("loop_period_s", [1.5]),
        ("info", {"fps": 24.0}),
        (
            "info",
            {"fps": "24", "frame_count": 1, "width": 1, "height": 1, "codec": "x", "duration_s": 1},
        ),
        ("series", {"motion": 0.5}),
        ("cached", "no"),
    ],
)
def test_records_with_wrong_field_types_are_rejected(field, value) -> None:
    rec = {**_result().to_dict(), field: value}
    with pytest.raises(ResultsFormatError, match=field.split(".")[0]):
        VideoResult.from_dict(json.loads(json.dumps(rec)))


def test_valid_records_pass_the_type_check() -> None:
    from vqeval.results import check_record

    check_record(json.loads(json.dumps(_result().to_dict(), allow_nan=True).replace("NaN", "null")))
    err = VideoResult(path="x.mp4", status="error", error="bad")
    assert VideoResult.from_dict(err.to_dict()) == err

"""JUnit XML for ``vqeval gate --junit``: one test case per gate rule.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) show each rule as
a test; a failed rule carries a ``<failure>`` with the measured value and the
videos that broke it, each with its flag, start time and reason (or score). Built with :mod:`xml.etree`, so every file name and
message is escaped; characters XML cannot hold at all (control characters,
lone surrogates from non-UTF-8 names) are first written as visible escapes
(``\x1b``, ``\udcff``) by :func:`vqeval.safetext.xml_text`, so the file is
always well-formed.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from vqeval.gate import GateReport, offender_lines
from vqeval.report.markdown import write_file
from vqeval.safetext import xml_text as _x

#: Offending video paths listed in one failure body at most.
MAX_OFFENDERS = 50


def render_junit(rep: GateReport, suite: str = "vqeval gate") -> str:
    """JUnit XML text for a gate report (UTF-8, with XML declaration)."""
    failures = rep.failures
    root = ET.Element("testsuites", name=suite, tests=str(len(rep.results)), failures=str(failures))
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(rep.results)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    props = ET.SubElement(ts, "properties")
    ET.SubElement(props, "property", name="source", value=_x(rep.source))
    ET.SubElement(props, "property", name="videos", value=str(rep.videos))
    if rep.baseline:
        ET.SubElement(props, "property", name="baseline", value=_x(rep.baseline))
    for r in rep.results:
        tc = ET.SubElement(
            ts, "testcase", classname=f"vqeval.gate.{r.rule.check}", name=_x(r.rule.name), time="0"
        )
        if not r.passed:
            fail = ET.SubElement(tc, "failure", message=_x(r.message), type=r.rule.check)
            body = [r.message]
            if r.offenders:  # each with its flag, start time and reason, or its score
                body.append("videos:")
                body.extend(offender_lines(r, MAX_OFFENDERS))
            fail.text = _x("\n".join(body))
        else:
            ET.SubElement(tc, "system-out").text = _x(r.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(rep: GateReport, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_junit` to ``path`` atomically."""
    return write_file(path, render_junit(rep))

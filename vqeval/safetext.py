"""Untrusted text (file names, prompts, error messages) made safe for outputs.

File names come from whoever made the clips. On POSIX they are bytes: a name
that is not valid UTF-8 reaches Python as a ``str`` holding lone surrogates
(``os.fsdecode``'s ``surrogateescape``), which no UTF-8 writer accepts; and a
name may hold control characters (carriage return, escape sequences) that
rewrite a terminal line or break a line-based format. One function per kind
of output, used by every writer of that kind:

* :func:`encodable`: files and machine-readable output (JSON, CSV, HTML,
  Markdown, JUnit). Each lone surrogate becomes the six characters ``\\udcXX``.
  Inside a JSON string that *is* the JSON escape of the same code point, so a
  results file still holds the exact name (``os.fsencode`` of the value read
  back gives the original bytes); elsewhere it is a visible escape.
* :func:`printable`: human text on a terminal. Also escapes C0 and C1 control
  characters and DEL (``\\x1b`` ...) except newlines (and tabs), so no escape
  sequence reaches the terminal.
* :func:`one_line`: a value shown inside one line (a table cell, ``error:
  PATH: ...``): like :func:`printable` and newlines/tabs escaped too.
"""

from __future__ import annotations

import re

#: Invisible characters that reorder or hide text (Unicode bidi controls:
#: ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI; zero width space,
#: word joiner, BOM): ``clip_\u202egnp.mp4`` would read as ``clip_4pm.png``.
#: Shown escaped (``\u202e``) in every human-facing output. ZWNJ/ZWJ stay:
#: scripts and emoji need them.
BIDI_INVISIBLE = "\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
#: C0 controls except tab and newline, DEL, C1 controls, bidi/invisible.
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{BIDI_INVISIBLE}]")
_CONTROL_ALL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI_INVISIBLE}]")
_INVISIBLE = re.compile(f"[{BIDI_INVISIBLE}]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def encodable(text: str) -> str:
    """``text`` with every lone surrogate written as ``\\udcXX`` (valid UTF-8 after)."""
    return _SURROGATE.sub(_escape, text)


def visible(text: str) -> str:
    """:func:`encodable` plus bidi controls and invisible characters escaped
    (``\\u202e``): for HTML, where markup escaping does not stop a
    right-to-left override from reordering a name."""
    return _INVISIBLE.sub(_escape, encodable(text))


def printable(text: str) -> str:
    """``text`` fit for a terminal: lone surrogates, control characters
    (except newline and tab) and bidi/invisible characters escaped as
    ``\\xNN`` / ``\\udcXX`` / ``\\u202e``."""
    return _CONTROL.sub(_escape, _SURROGATE.sub(_escape, text))


def one_line(text: object) -> str:
    """``str(text)`` on one terminal line: like :func:`printable`, with
    newline, carriage return and tab escaped as ``\\n``, ``\\r``, ``\\t`` too."""
    return _CONTROL_ALL.sub(_escape, _SURROGATE.sub(_escape, str(text)))


#: First characters that make a spreadsheet read a cell as a formula (OWASP
#: "CSV injection": = + - @, tab, carriage return; also line feed).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Characters XML 1.0 forbids even as references (besides C0 controls).
_XML_FORBIDDEN = re.compile(r"[\ufffe\uffff]")


def csv_cell(value: object) -> object:
    """A CSV cell that spreadsheets show as text, never run as a formula.

    Strings starting with ``= + - @``, tab, carriage return or line feed get a
    leading apostrophe (OWASP's advice; Excel and LibreOffice hide it and show
    the rest as text); lone surrogates become ``\\udcXX``. Numbers and other
    non-strings pass unchanged (a negative number stays a number). Quoting of
    separators, quotes and line breaks is the CSV writer's job.
    """
    if not isinstance(value, str):
        return value
    text = encodable(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def xml_text(text: object) -> str:
    """``str(text)`` with every character XML 1.0 cannot hold escaped as in
    :func:`printable` (control characters except tab and newline, DEL and C1,
    lone surrogates, U+FFFE/U+FFFF): the result always serialises to valid XML."""
    return _XML_FORBIDDEN.sub(_escape, printable(str(text)))

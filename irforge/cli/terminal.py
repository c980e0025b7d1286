"""Text from models (layer, tensor and model names) printed safely: a name may hold control characters (an ANSI
escape sequence that recolours or clears the terminal, a newline that fakes a second message line, a bidi
override that reorders what is shown). They are printed as Python-style escapes instead."""
from __future__ import annotations


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii")


def printable(text: object) -> str:
    """`text` as one terminal-safe line: every non-printable character (controls, format characters such as
    U+202E, line/paragraph separators, lone surrogates) becomes its escape (`\\x1b`, `\\n`, `\\u202e`)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)

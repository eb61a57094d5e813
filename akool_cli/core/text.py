"""Making untrusted text safe to print: the one sanitiser for terminals, pipes and file names.

Whatever a server, a callback, a manifest or a file name sends may carry ESC/OSC sequences
(which can retitle, recolour or hijack a terminal) or newlines (which can forge a second
`error:` line). Every such string goes through `clean` before it is printed.
"""

from __future__ import annotations

import re
from functools import cache

# C0 controls but tab, DEL, and C1 controls (0x80-0x9f); also the Unicode line/paragraph separators
# and bidirectional overrides, which reorder what a reader sees. Compiled on first use: most
# commands print little, and start-up is shared by all of them.
_CONTROL = "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_CONTROL_BUT_NEWLINE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_JSON_UNSAFE = "[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"


@cache
def _pattern(source: str) -> "re.Pattern[str]":
    return re.compile(source)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}.get(char, f"\\x{ord(char):02x}" if ord(char) < 256
                                                           else f"\\u{ord(char):04x}")


def clean(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with control characters shown as escapes: readable, one line (unless told), inert."""
    text = str(text)
    if text.isascii() and text.isprintable():  # the common case, without a regular expression
        return text
    return _pattern(_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_escape, text)


def safe_repr(text: str) -> str:
    """A quoted, cleaned form for naming a bad input in an error."""
    return "'" + clean(text) + "'"


def has_control(text: str) -> bool:
    return _pattern(_CONTROL).search(text) is not None


def clean_json(text: str) -> str:
    """JSON text with the characters json.dumps leaves raw (DEL, C1, bidi) written as \\u escapes."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _pattern(_JSON_UNSAFE).sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"

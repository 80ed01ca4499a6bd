"""Text a party writes: what every format the channel speaks (JSON, XML, CSV, CoT) can carry, checked once.

Refused anywhere in a party's text: lone surrogates (no UTF-8 encodes them, so no file or answer can hold them),
control characters other than tab, line feed and carriage return (XML 1.0 cannot hold most of them, and a NUL
ends strings in many readers) and Unicode noncharacters (U+FFFE, U+FFFF and the like: not characters at all).
Exporters do not trust that every stored value passed this check — some were stored before it existed — and clean
what they write with `for_xml` or `for_unicode`.
"""

from __future__ import annotations

import re

from deconfliction.domain.errors import InvalidInput

# Cc but tab, LF, CR; surrogates; the BMP's noncharacters; and every code point from U+1FFFE on, among which only
# the last two of each plane are refused (`_refused` looks): one class with 32 single characters is ten times slower.
_CANDIDATE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff\U0001fffe-\U0010ffff]"
)
_CANDIDATE_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # most text: checked with the small class
# What XML 1.0 cannot carry at all (its Char production), or carry back: these become U+FFFD in an export.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def refused_character(value: str) -> str | None:
    """How the first character `value` may not hold is named (`U+0000`), or None when every one is fine."""
    found = _refused(value)
    if found is None:
        return None
    code = ord(found.group())
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character or noncharacter"
    return f"{what} (U+{code:04X}) at character {found.start()}"


def _refused(value: str) -> re.Match[str] | None:
    if value.isascii():
        return _CANDIDATE_ASCII.search(value)
    for found in _CANDIDATE.finditer(value):
        code = ord(found.group())
        if code < 0x10000 or code & 0xFFFE == 0xFFFE:
            return found
    return None


def check_text(value: str, field: str) -> str:
    """`value` itself, or InvalidInput naming `field` when it holds a character no export could carry."""
    problem = refused_character(value)
    if problem is not None:
        raise InvalidInput(f"{field} holds {problem}: send text only (tab and line breaks are fine)", field=field)
    return value


def printable_name(value: str) -> str:
    """`value` with every refused character written as an escape, safe to put in a message or a field name."""
    return _CANDIDATE.sub(lambda m: m.group() if _refused(m.group()) is None else f"\\u{ord(m.group()):04x}", value)


def for_xml(value: str) -> str:
    """`value` as XML 1.0 can carry it: characters it cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub(REPLACEMENT, value)


def for_unicode(value: str) -> str:
    """`value` as UTF-8 can carry it: lone surrogates replaced by U+FFFD."""
    return _SURROGATE.sub(REPLACEMENT, value)

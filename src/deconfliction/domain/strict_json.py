"""JSON as the channel reads it from a party: UTF-8, every object's keys distinct, every string text.

A relay or an acknowledgement must mean one thing, so `{"to": "a", "to": "b"}` is refused rather than resolved
(last wins, in Python's json). A string holding a lone surrogate or a control character (see domain/text.py) is
refused here, naming where it is, before any route reads the body. `NaN`, `Infinity` and numbers no float holds
still parse: the validators name the field that holds them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from deconfliction.domain.errors import DomainError, InvalidInput
from deconfliction.domain.text import printable_name, refused_character

# An escape that may stand for a refused character: C0, DEL, C1, a surrogate (paired or not), a noncharacter.
# A false alarm only costs the walk over the parsed value.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:00[01]|007[fF]|00[89]|[dD][89a-fA-F]|[fF][dD][dDeE]|[fF]{3}[eEfF])")


class MalformedJSON(DomainError):
    """The body is not JSON at all (or not UTF-8): 400, as for a syntax error."""

    status = 400
    title = "Malformed JSON"
    slug = "malformed-json"


class _Duplicate(Exception):
    pass


class _Pairs(list[tuple[str, Any]]):
    """An object as written, keys repeated and all: what the second reading builds to find where a key repeats."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Duplicate
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object)  # built once: json.loads(…, hook) builds one per call


def loads(data: bytes) -> Any:
    """The JSON value of `data`; MalformedJSON if it is not UTF-8 JSON, InvalidInput naming the field if an
    object repeats a key or a string holds what no export could carry."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"the request body is not UTF-8 (byte {exc.start}); JSON is sent as UTF-8") from None
    try:
        value = _DECODER.decode(text)
    except _Duplicate:
        _refuse(json.loads(text, object_pairs_hook=_Pairs))
        raise AssertionError("unreachable: a repeated key was found while parsing") from None
    except RecursionError:
        raise MalformedJSON("the request body nests too deeply") from None
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"the request body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError:  # an integer past int()'s digit limit
        raise MalformedJSON("the request body holds a number with more digits than any field takes") from None
    if refused_character(text) is not None or ("\\u" in text and _SUSPECT_ESCAPE.search(text)):
        _refuse(value)
    return value


def _field(path: str, key: str) -> str:
    name = printable_name(key)
    return f"{path}.{name}" if path else name


def _refuse(value: Any) -> None:
    """Raise InvalidInput for the first repeated key or refused string of `value`, in document order."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        children: list[tuple[str, Any]] = []
        if isinstance(item, str):
            problem = refused_character(item)
            if problem is not None:
                where = path or "the body"
                raise InvalidInput(f"{where} holds {problem}: send text only (tab and line breaks are fine)",
                                   field=path)  # fmt: skip
        elif isinstance(item, dict | _Pairs):
            pairs = list(item.items()) if isinstance(item, dict) else list(item)
            seen: set[str] = set()
            for key, child in pairs:
                field = _field(path, key)
                if key in seen:
                    raise InvalidInput(f"{field} appears twice in one object: send each key once", field=field)
                seen.add(key)
                problem = refused_character(key)
                if problem is not None:
                    raise InvalidInput(f"the key {field} holds {problem}", field=field)
                children.append((field, child))
        elif isinstance(item, list):
            children = [(f"{path}[{i}]", child) for i, child in enumerate(item)]
        stack.extend(reversed(children))

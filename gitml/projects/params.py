"""Typed parameters and argv templates of one entry point (pure, except that path values are resolved).

A command is an argv *template*: a tuple of tokens, each of which may hold ``{name}``
placeholders (``{{`` and ``}}`` are literal braces). Rendering substitutes each
placeholder inside its token and never re-splits a token, so a value such as
``; touch X``, ``$(touch X)`` or ``--help`` reaches the program as one literal argv
item, in the position the template gave it. Nothing here runs a shell.

Values from ``-P key=value`` arrive as text and are converted per the declared type:

=======  ==========================================================================
string   any text (a leading ``-`` is kept: the template decides its position)
int      ``[+-]digits`` (``3``; ``3.5`` is refused)
float    a decimal or exponent number (``0.1``, ``1e-3``); nan/inf refused
bool     ``true/false/yes/no/1/0``, any case
path     a relative path that stays inside the project (normalised; symlinks resolved)
uri      any text not starting with ``-``
=======  ==========================================================================
"""

from __future__ import annotations

import math
import posixpath
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from gitml.exceptions import InvalidNameError, InvalidValueError, UsageError
from gitml.paths import check_relpath, contained_path

__all__ = [
    "NAME_HINT",
    "TYPES",
    "EntryPoint",
    "Parameter",
    "ResolvedParameters",
    "check_default",
    "check_name",
    "format_value",
    "parse_text",
    "render_command",
    "resolve_parameters",
    "template_fields",
]

TYPES = ("string", "int", "float", "bool", "path", "uri")
MAX_NAME_LENGTH = 100
NAME_HINT = "names are letters, digits, '_', '-' and '.', starting with a letter, digit or '_'"

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Parameter:
    """A declared parameter; ``default`` is already of the declared type (None: no default)."""

    name: str
    type: str
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class EntryPoint:
    """An entry point: typed parameters and an argv template (``command``)."""

    name: str
    parameters: Mapping[str, Parameter]
    command: tuple[str, ...]
    allow_extra: bool = False


class ResolvedParameters(NamedTuple):
    """What ``resolve_parameters`` returns: typed declared values, and undeclared extras as text.

    A named tuple, so ``values, extras = resolve_parameters(...)`` works too.
    """

    values: dict[str, Any]
    extras: dict[str, str]

    @property
    def all(self) -> dict[str, Any]:
        """Declared values then extras: the params to record for the run."""
        return {**self.values, **self.extras}


def check_name(name: object) -> str:
    """An entry point or parameter name (usable in ``{name}`` and as ``--name``); ValueError if not."""
    if not isinstance(name, str):
        raise ValueError(f"names must be strings, not {type(name).__name__} {name!r} (quote it)")
    if len(name) > MAX_NAME_LENGTH or _NAME_RE.fullmatch(name) is None:
        raise ValueError(f"invalid name {name!r}")
    return name


def template_fields(token: str) -> list[str]:
    """The names of the ``{name}`` placeholders in one argv token; ValueError if malformed."""
    try:
        parts = list(string.Formatter().parse(token))
    except ValueError as exc:
        raise ValueError(f"{exc} in {token!r} (write {{{{ or }}}} for a literal brace)") from None
    names = []
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder in {token!r} has a format spec or conversion; write just {{name}}")
        if not field or _NAME_RE.fullmatch(field) is None:
            raise ValueError(f"invalid placeholder {{{field}}} in {token!r}")
        names.append(field)
    return names


def format_value(value: Any) -> str:
    """A value as argv text: ``str(value)``, as MLflow does (so a bool renders ``True``/``False``)."""
    return str(value)


def _norm_relpath(text: str) -> str:
    """A relative path, normalised (``a/./b`` and ``a/../b`` collapse); ValueError if it leaves the root."""
    if not text:
        raise ValueError("a path may not be empty")
    if text.startswith("/") or "\\" in text:
        raise ValueError(f"path must be relative, with '/' separators: {text!r}")
    norm = posixpath.normpath(text)
    if norm == ".":
        return norm
    try:
        check_relpath(norm)
    except InvalidNameError as exc:
        outside = " (leads outside the project)" if norm.startswith("..") else ""
        raise ValueError(f"{exc.message}{outside}") from None
    return norm


def _check_text(text: str) -> str:
    if "\x00" in text:
        raise ValueError("a value may not hold a NUL character (argv cannot carry it)")
    return text


def parse_text(type_: str, text: str) -> Any:
    """Convert ``-P`` text to the declared type (path: lexical checks only); ValueError if it does not fit."""
    _check_text(text)
    if type_ == "int":
        if _INT_RE.fullmatch(text) is None:
            raise ValueError(f"expected an integer, got {text!r}")
        return int(text)
    if type_ == "float":
        value = float(text) if _FLOAT_RE.fullmatch(text) else math.nan
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {text!r}")
        return value
    if type_ == "bool":
        if text.lower() not in _BOOLS:
            raise ValueError(f"expected true/false (yes/no, 1/0), got {text!r}")
        return _BOOLS[text.lower()]
    if type_ == "path":
        return _norm_relpath(text)
    if type_ == "uri" and text.startswith("-"):
        raise ValueError(f"a uri may not start with '-': {text!r}")
    return text


def check_default(type_: str, value: object, *, lenient: bool = False) -> Any:
    """A default (or a Python-API value) checked against ``type_``; ValueError if it does not fit.

    ``lenient`` (MLproject) also accepts the value's text converted as ``-P`` text would be,
    since MLflow does not check defaults.
    """
    if type_ in ("string", "path", "uri") and isinstance(value, str):
        return parse_text(type_, value)
    if type_ == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if type_ == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_text("float", repr(float(value)) if abs(value) < 1e308 else "inf")
    if type_ == "bool" and isinstance(value, bool):
        return value
    if lenient and isinstance(value, (str, int, float)):
        return parse_text(type_, str(value).lower() if isinstance(value, bool) else str(value))
    raise ValueError(f"expected a {type_}, got {type(value).__name__} {value!r}")


def _contained(project_root: Path, name: str, rel: str) -> str:
    """The path value as passed to the program; refuses a symlink leading out of the project."""
    if rel != ".":
        try:
            contained_path(project_root, rel, what=f"path parameter {name}")
        except InvalidNameError as exc:
            raise InvalidValueError(
                exc.message, hint="path parameters name files inside the project"
            ) from None
    return f"./{rel}" if rel.startswith("-") else rel


def _given_value(param: Parameter, raw: object) -> Any:
    try:
        if isinstance(raw, str):
            return parse_text(param.type, raw)
        return check_default(param.type, raw)
    except ValueError as exc:
        raise InvalidValueError(
            f"-P {param.name}: {exc}", hint=f"{param.name} is declared as {param.type}"
        ) from None


def resolve_parameters(
    entry: EntryPoint, given: Mapping[str, object], *, project_root: Path
) -> ResolvedParameters:
    """Typed values for every declared parameter (given, else default), plus extras when allowed.

    ``given`` holds ``-P`` text (Python-API callers may pass typed values). Undeclared keys
    are refused unless ``entry.allow_extra``; then they come back in ``extras`` as text.
    """
    declared = ", ".join(entry.parameters) or "(none)"
    extras: dict[str, str] = {}
    for key, raw in given.items():
        if key in entry.parameters:
            continue
        if not entry.allow_extra:
            raise InvalidNameError(
                f"entry point {entry.name!r} has no parameter {key!r}", hint=f"declared: {declared}"
            )
        try:
            extras[check_name(key)] = _check_text(format_value(raw))
        except ValueError as exc:
            raise InvalidNameError(f"-P {key}: {exc}", hint=NAME_HINT) from None
    missing = [p.name for p in entry.parameters.values() if p.required and p.name not in given]
    if missing:
        raise UsageError(
            f"entry point {entry.name!r} needs parameter{'s'[: len(missing) - 1]} {', '.join(missing)}",
            hint=" ".join(f"-P {m}=VALUE" for m in missing),
        )
    values: dict[str, Any] = {}
    for name, param in entry.parameters.items():
        value = _given_value(param, given[name]) if name in given else param.default
        if param.type == "path":
            value = _contained(project_root, name, value)
        values[name] = value
    return ResolvedParameters(values, extras)


def _substitute(token: str, values: Mapping[str, Any]) -> str:
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(token):
        out.append(literal)
        if field is not None:
            if field not in values:
                raise UsageError(f"no value for parameter {field!r} in the command template")
            out.append(format_value(values[field]))
    return "".join(out)


def render_command(
    entry: EntryPoint, values: Mapping[str, Any], *, extras: Mapping[str, str] | None = None
) -> list[str]:
    """The argv to run: each template token with its placeholders filled, then ``--key value`` extras."""
    argv = [_substitute(token, values) for token in entry.command]
    if extras and not entry.allow_extra:
        raise InvalidNameError(f"entry point {entry.name!r} takes no extra parameters: {', '.join(extras)}")
    for key, value in (extras or {}).items():
        argv += [f"--{key}", format_value(value)]
    return argv

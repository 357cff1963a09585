"""The registry's grammar (pure: no git, no I/O): model names, versions, stages, tag names, ``models:/`` URIs.

Tag names, one per event, never moved (see docs/registry.md)::

    NAME@vN  NAME@vX.Y.Z       registration of a version
    NAME@vN!                   deprecation of that version (GTO calls it deregistration)
    NAME#STAGE#N               the N-th event of that stage: assignment (N counts from 1)
    NAME#STAGE!#N              the N-th event of that stage: un-assignment (demotion)
    NAME#STAGE                 a hand-made assignment, counted as event 0
    NAME@deprecated            GTO's deprecation of a whole model

``parse_tag`` returns a typed :class:`TagName` or None for a tag outside the
grammar; the ``check_*`` functions raise :class:`InvalidNameError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from gitml.exceptions import InvalidNameError

__all__ = [
    "MAX_NAME_LENGTH",
    "ModelsURI",
    "TagKind",
    "TagName",
    "Version",
    "check_model_name",
    "check_stage",
    "deprecation_tag",
    "parse_models_uri",
    "parse_tag",
    "parse_version",
    "registration_tag",
    "stage_tag",
]

MAX_NAME_LENGTH = 100
MAX_STAGE_LENGTH = 64

_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_STAGE_RE = re.compile(r"[a-z](?:[a-z0-9_-]*[a-z0-9])?")
# ASCII digits, no leading zeros: one spelling per version (``v03`` would be a second name for ``v3``).
_NUM = r"(0|[1-9][0-9]{0,8})"
_VERSION_RE = re.compile(rf"v?{_NUM}(?:\.{_NUM}\.{_NUM})?")
_RESERVED_STAGES = frozenset({"latest", "deprecated"})

_NAME_HINT = "model names are lowercase letters, digits and '.', '_', '-' inside (e.g. churn, fraud-v2)"
_STAGE_HINT = "stages are lowercase letters, digits, '_' and '-', starting with a letter (e.g. production)"


def check_model_name(name: object) -> str:
    """Validate a model name (it becomes part of a git ref) and return it."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"a model name must be a non-empty string: {name!r}", hint=_NAME_HINT)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"model name longer than {MAX_NAME_LENGTH} characters: {name[:40]!r}…", hint=_NAME_HINT
        )
    if _NAME_RE.fullmatch(name) is None:
        lower = name.lower() != name and _NAME_RE.fullmatch(name.lower())
        hint = "model names are lowercase" if lower else _NAME_HINT
        raise InvalidNameError(f"invalid model name {name!r}", hint=hint)
    if ".." in name or name.endswith(".lock"):
        raise InvalidNameError(f"invalid model name {name!r}: no '..' and no '.lock' ending", hint=_NAME_HINT)
    return name


def check_stage(stage: object) -> str:
    """Validate a stage name and return it."""
    if not isinstance(stage, str) or not stage:
        raise InvalidNameError(f"a stage must be a non-empty string: {stage!r}", hint=_STAGE_HINT)
    if len(stage) > MAX_STAGE_LENGTH:
        raise InvalidNameError(
            f"stage longer than {MAX_STAGE_LENGTH} characters: {stage[:40]!r}…", hint=_STAGE_HINT
        )
    if _STAGE_RE.fullmatch(stage) is None:
        raise InvalidNameError(f"invalid stage {stage!r}", hint=_STAGE_HINT)
    if stage in _RESERVED_STAGES or _VERSION_RE.fullmatch(stage):
        raise InvalidNameError(
            f"{stage!r} cannot be a stage: it reads as a version or a reserved word", hint=_STAGE_HINT
        )
    return stage


@dataclass(frozen=True, order=True)
class Version:
    """``vN`` or ``vX.Y.Z``; orders numerically (``v2`` < ``v10``; ``v3`` < ``v3.0.1``)."""

    parts: tuple[int, ...]

    def __str__(self) -> str:
        return "v" + ".".join(str(p) for p in self.parts)

    @property
    def semver(self) -> bool:
        return len(self.parts) == 3

    def next(self) -> Version:
        """The version registered after this one: ``v3`` → ``v4``, ``v1.2.3`` → ``v1.2.4``."""
        return Version((*self.parts[:-1], self.parts[-1] + 1))


def parse_version(text: object, *, strict_prefix: bool = False) -> Version:
    """``v3``, ``3``, ``v1.2.3`` (``1.2.3``) → Version; InvalidNameError otherwise.

    With ``strict_prefix`` the leading ``v`` is required (as in tag names).
    """
    if isinstance(text, str):
        match = _VERSION_RE.fullmatch(text)
        if match and (text.startswith("v") or not strict_prefix):
            major, minor, patch = match.groups()
            if minor is None:
                return Version((int(major),))
            return Version((int(major), int(minor), int(patch)))
    raise InvalidNameError(f"invalid version {text!r}", hint="use vN (v3) or vX.Y.Z (v1.2.0)")


class TagKind(str, Enum):
    REGISTER = "registration"
    DEPRECATE = "deprecation"
    ASSIGN = "promotion"
    UNASSIGN = "demotion"
    DEPRECATE_MODEL = "model deprecation"


@dataclass(frozen=True)
class TagName:
    """A tag name in the registry grammar, taken apart."""

    tag: str
    kind: TagKind
    name: str
    version: Version | None = None
    stage: str | None = None
    number: int = 0


_TAG_RE = re.compile(
    r"(?P<name>[^@#]+)"
    r"(?:@(?P<version>v[0-9.]+)(?P<bang>!)?|@(?P<deprecated>deprecated)"
    r"|#(?P<stage>[^#!]+)(?:(?P<sbang>!)?#(?P<number>[1-9][0-9]{0,8}))?)"
)


def parse_tag(tag: str) -> TagName | None:
    """The registry event a tag name stands for, or None if the name is outside the grammar."""
    match = _TAG_RE.fullmatch(tag)
    if match is None:
        return None
    name = match["name"]
    try:
        check_model_name(name)
        if match["version"] is not None:
            version = parse_version(match["version"], strict_prefix=True)
            kind = TagKind.DEPRECATE if match["bang"] else TagKind.REGISTER
            return TagName(tag, kind, name, version=version)
        if match["deprecated"] is not None:
            return TagName(tag, TagKind.DEPRECATE_MODEL, name)
        stage = check_stage(match["stage"])
    except InvalidNameError:
        return None
    number = int(match["number"]) if match["number"] is not None else 0
    if match["number"] is not None and number == 0:
        return None
    kind = TagKind.UNASSIGN if match["sbang"] else TagKind.ASSIGN
    if kind is TagKind.UNASSIGN and match["number"] is None:
        return None
    return TagName(tag, kind, name, stage=stage, number=number)


def registration_tag(name: str, version: Version) -> str:
    return f"{check_model_name(name)}@{version}"


def deprecation_tag(name: str, version: Version) -> str:
    return f"{check_model_name(name)}@{version}!"


def stage_tag(name: str, stage: str, number: int, *, unassign: bool = False) -> str:
    if number < 1:
        raise ValueError("stage events count from 1")
    return f"{check_model_name(name)}#{check_stage(stage)}{'!' if unassign else ''}#{number}"


# -- models:/ URIs --------------------------------------------------------------------------------

_URI_HINT = (
    "use models:/NAME/vN, models:/NAME/N, models:/NAME/STAGE, models:/NAME/latest or models:/NAME@STAGE"
)


@dataclass(frozen=True)
class ModelsURI:
    """``models:/NAME/<version|stage|latest>`` or ``models:/NAME@STAGE``.

    ``selector`` is what picks the version: ``version`` (a Version), ``stage``
    (a stage name) or ``latest``.
    """

    name: str
    selector: Literal["version", "stage", "latest"]
    version: Version | None = None
    stage: str | None = None

    @property
    def ref(self) -> str:
        """The selector as the user would write it: ``v3``, ``production`` or ``latest``."""
        if self.selector == "version":
            return str(self.version)
        return self.stage if self.selector == "stage" and self.stage else "latest"

    def __str__(self) -> str:
        return f"models:/{self.name}/{self.ref}"


def parse_models_uri(text: str) -> ModelsURI:
    """Parse a ``models:/`` URI; InvalidNameError with the accepted forms otherwise."""
    if not isinstance(text, str) or not text.startswith("models:/") or text.startswith("models://"):
        raise InvalidNameError(f"not a models:/ URI: {text!r}", hint=_URI_HINT)
    rest = text[len("models:/") :].rstrip("/")
    if "@" in rest:
        name, _, sel = rest.partition("@")
    else:
        name, _, sel = rest.partition("/")
    if not sel:
        raise InvalidNameError(f"{text!r} names no version or stage", hint=_URI_HINT)
    if "/" in sel:
        raise InvalidNameError(f"{text!r}: a models:/ URI names a whole model version", hint=_URI_HINT)
    check_model_name(name)
    if "@" in rest:
        return ModelsURI(name, "stage", stage=_uri_stage(sel, text))
    if sel == "latest":
        return ModelsURI(name, "latest")
    if _VERSION_RE.fullmatch(sel):
        return ModelsURI(name, "version", version=parse_version(sel))
    return ModelsURI(name, "stage", stage=_uri_stage(sel, text))


def _uri_stage(sel: str, text: str) -> str:
    try:
        return check_stage(sel)
    except InvalidNameError as exc:
        raise InvalidNameError(f"invalid version or stage {sel!r} in {text!r}", hint=_URI_HINT) from exc

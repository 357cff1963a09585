"""Runs as values: statuses, the run record, and the checks on what may be logged. Pure: no I/O."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from gitml.exceptions import CorruptRunError, InvalidValueError
from gitml.paths import check_key
from gitml.runid import check_run_id

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "Metric",
    "RunInfo",
    "check_metric_value",
    "check_param_value",
    "check_tag_value",
    "check_tags",
    "format_time",
    "parse_time",
    "random_run_name",
    "redact_command",
    "same_param",
]

RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
#: Shown, never stored: a RUNNING run whose process is gone.
STALE = "STALE"
STATUSES = (RUNNING, FINISHED, FAILED, KILLED)
FINAL_STATUSES = (FINISHED, FAILED, KILLED)
RUN_FORMAT = 1
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000


def format_time(ms: int) -> str:
    """Epoch milliseconds as UTC ISO-8601 with milliseconds: ``2026-11-26T10:49:25.123Z``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: Any) -> int:
    """UTC ISO-8601 text (or a YAML timestamp) back to epoch milliseconds."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    else:
        raise ValueError(f"not a time: {value!r}")
    return round(dt.timestamp() * 1000)


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp: int


def check_metric_value(key: str, value: Any) -> float:
    """A metric value as a float. NaN and infinities are kept; strings and other types are refused."""
    if type(value) is float:
        return value
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise InvalidValueError(
            f"metric {key!r} must be a number, not {type(value).__name__}: {value!r:.80}",
            hint="log text with set_tag or log_param; metrics are numbers (NaN and inf are allowed)",
        )
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidValueError(f"metric {key!r} must be a number, not {type(value).__name__}") from exc


def check_param_value(key: str, value: Any) -> str | int | float | bool | None:
    """A param value gitml stores as a typed YAML scalar (strings up to 6000 characters)."""
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        return value
    if isinstance(value, str):
        if len(value) > MAX_PARAM_LENGTH or "\x00" in value:
            raise InvalidValueError(
                f"param {key!r} is too long or holds NUL ({len(value)} chars, at most {MAX_PARAM_LENGTH})",
                hint="log large values as a file (an artifact), not a param",
            )
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return check_param_value(key, item())
    if isinstance(value, (bytes, bytearray)):
        raise InvalidValueError(f"param {key!r} holds binary data", hint="log binary data as a file")
    return check_param_value(key, str(value))


_SECRET_OPTION = re.compile(
    r"(?i)^(-{0,2}[\w.-]*(?:password|passwd|secret|token|api[-_]?key|access[-_]?key|credential)[\w.-]*)(=|$)"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
REDACTED = "***"


def redact_command(argv: Sequence[str]) -> tuple[str, ...]:
    """argv as it is safe to commit: values of secret-looking options and URL credentials masked.

    ``--api-key=XYZ`` -> ``--api-key=***``; ``--token XYZ`` -> ``--token ***``;
    ``https://user:pw@host/x`` -> ``https://***@host/x``.
    """
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(REDACTED)
            mask_next = False
            continue
        match = _SECRET_OPTION.match(arg)
        if match and match.group(2) == "=":
            out.append(f"{match.group(1)}={REDACTED}")
            continue
        if match and arg.startswith("-") and not arg.startswith("--no-"):
            mask_next = True
        out.append(_URL_USERINFO.sub(rf"\1{REDACTED}@", arg))
    return tuple(out)


def check_tags(tags: Mapping[Any, Any]) -> dict[str, str]:
    """Tags as gitml stores them: checked keys, text values."""
    return {check_key(str(k), what="tag key"): check_tag_value(str(k), v) for k, v in tags.items()}


def check_tag_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_LENGTH or "\x00" in text:
        raise InvalidValueError(f"tag {key!r} is too long or holds NUL (at most {MAX_TAG_LENGTH} chars)")
    return text


@dataclass(frozen=True)
class RunInfo:
    """Everything in ``run.yaml``."""

    run_id: str
    name: str
    experiment: str
    status: str
    start_time: int
    end_time: int | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_start: int | None = None
    command: tuple[str, ...] | None = None
    exit_code: int | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> RunInfo:
        return replace(self, **changes)

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        """The run.yaml mapping, fields in a fixed order."""
        return {
            "format": RUN_FORMAT,
            "id": self.run_id,
            "name": self.name,
            "experiment": self.experiment,
            "status": self.status,
            "start_time": format_time(self.start_time),
            "end_time": None if self.end_time is None else format_time(self.end_time),
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "command": list(self.command) if self.command is not None else None,
            "exit_code": self.exit_code,
            "source": dict(self.source),
            "parent": self.parent,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_cached(cls, data: Mapping[str, Any], times: Sequence[int | None] | None = None) -> RunInfo:
        """Rebuild a record that :meth:`from_dict` already validated (gitml's own summary cache).

        Raises KeyError/TypeError/ValueError on a damaged cache entry; callers then re-read the run.
        """
        command = data["command"]
        if times is None:
            times = (
                parse_time(data["start_time"]),
                None if data["end_time"] is None else parse_time(data["end_time"]),
            )
        start, end = times
        if not isinstance(start, int):
            raise TypeError("start time")
        return cls(
            run_id=data["id"],
            name=data["name"],
            experiment=data["experiment"],
            status=data["status"],
            start_time=start,
            end_time=end,
            user=data["user"],
            host=data["host"],
            pid=data["pid"],
            pid_start=data["pid_start"],
            command=None if command is None else tuple(command),
            exit_code=data["exit_code"],
            source=data["source"],
            parent=data["parent"],
            description=data["description"],
            tags=data["tags"],
        )

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> RunInfo:
        """Validate a parsed run.yaml; CorruptRunError says which field is wrong."""

        def bad(what: str) -> CorruptRunError:
            return CorruptRunError(
                f"{where}: {what}", hint="fix or remove the file by hand; other runs are unaffected"
            )

        if not isinstance(data, Mapping):
            raise bad("run.yaml must hold a mapping")
        try:
            run_id = check_run_id(data.get("id"))
        except Exception as exc:
            raise bad(f"bad or missing id {data.get('id')!r}") from exc
        status = data.get("status")
        if status not in STATUSES:
            raise bad(f"unknown status {status!r}")
        try:
            start = parse_time(data.get("start_time"))
            end = None if data.get("end_time") is None else parse_time(data.get("end_time"))
        except (ValueError, TypeError, OverflowError) as exc:
            raise bad(f"bad start_time/end_time: {exc}") from exc
        tags = data.get("tags") or {}
        source = data.get("source") or {}
        command = data.get("command")
        if not isinstance(tags, Mapping) or not isinstance(source, Mapping):
            raise bad("tags and source must be mappings")
        if command is not None and not isinstance(command, list):
            raise bad("command must be a list")

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad(f"{key} must be an integer")
            return value

        return cls(
            run_id=run_id,
            name=str(data.get("name") or run_id),
            experiment=str(data.get("experiment") or "default"),
            status=status,
            start_time=start,
            end_time=end,
            user=None if data.get("user") is None else str(data.get("user")),
            host=None if data.get("host") is None else str(data.get("host")),
            pid=opt_int("pid"),
            pid_start=opt_int("pid_start"),
            command=None if command is None else tuple(str(c) for c in command),
            exit_code=opt_int("exit_code"),
            source=dict(source),
            parent=None if data.get("parent") is None else str(data.get("parent")),
            description=None if data.get("description") is None else str(data.get("description")),
            tags={str(k): str(v) for k, v in tags.items()},
        )


_ADJECTIVES = (
    "amber agile bold brave bright calm clever crisp daring eager fancy fierce gentle glad grand happy "
    "honest jolly keen lively lucky merry mighty neat noble polite proud quick quiet rapid shy silent "
    "smart snowy sunny swift tidy vivid warm wise witty zesty"
).split()
_NOUNS = (
    "ant bat bear bee bird carp cat colt crab crow deer dog dove duck eel elk fox frog gnat goat hare "
    "hawk ibis jay koala lark lion lynx mole moth newt owl ox panda pike quail ram seal slug swan toad "
    "trout vole wasp wolf wren yak"
).split()


def random_run_name(rng: random.Random | None = None) -> str:
    """A readable name like ``brave-owl-42`` (MLflow's habit), not guaranteed unique."""
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randrange(100)}"


def same_param(a: Any, b: Any) -> bool:
    """Param equality for re-logging: NaN equals NaN, and True is not 1."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)

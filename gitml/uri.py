"""URIs that name artifacts (pure grammar; no I/O): ``runs:/<run-id>/<path>``.

``parse_uri`` returns a typed value or raises :class:`InvalidNameError`; the path
part goes through the shared validator, so ``runs:/id/../x`` never reaches a
filesystem. (``models:/...`` arrives with the registry.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitml.exceptions import InvalidNameError
from gitml.paths import check_relpath

__all__ = ["RunsURI", "parse_uri"]

_RUN_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,127}")


@dataclass(frozen=True)
class RunsURI:
    """``runs:/<run>/<path>``: ``run`` is a run id, an id prefix or a run name; ``path`` '' is the root."""

    run: str
    path: str = ""

    def __str__(self) -> str:
        return f"runs:/{self.run}/{self.path}" if self.path else f"runs:/{self.run}"

    def child(self, name: str) -> RunsURI:
        return RunsURI(self.run, f"{self.path}/{name}" if self.path else name)


def parse_uri(text: str) -> RunsURI:
    if not isinstance(text, str) or not text.startswith("runs:"):
        scheme = text.split(":", 1)[0] if isinstance(text, str) and ":" in text else ""
        raise InvalidNameError(
            f"unsupported artifact URI {text!r}" + (f" (scheme {scheme!r})" if scheme else ""),
            hint="use runs:/<run-id>/<path>",
        )
    rest = text[len("runs:") :]
    if not rest.startswith("/") or rest.startswith("//"):
        raise InvalidNameError(f"malformed URI {text!r}", hint="use runs:/<run-id>/<path>")
    run, _, path = rest[1:].partition("/")
    if not _RUN_REF_RE.fullmatch(run):
        raise InvalidNameError(f"invalid run id in {text!r}", hint="use runs:/<run-id>/<path>")
    path = path.rstrip("/")
    if path:
        check_relpath(path, what="artifact path")
    return RunsURI(run, path)

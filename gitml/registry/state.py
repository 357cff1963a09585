"""The registry as the tags say it is: versions, who holds each stage, history — read lazily.

:class:`Registry` works over any :class:`TagSource` (a local repository, tags
fetched from a remote one, or the in-memory fake in ``registry/memory.py``).
Questions about one model read only that model's tag names, and tag objects
only where the name alone does not answer (which version a stage event
assigns, whether a tag is annotated, a registration's run and hash).

Rules (docs/registry.md):

- a version is registered by an *annotated* ``NAME@vN`` tag; lightweight tags in
  the grammar are ignored, with a warning;
- it is deprecated by ``NAME@vN!`` (or GTO's ``NAME@deprecated`` for every version);
- the holder of a stage is decided by that stage's newest event — highest
  number, then newest tagger time: an assignment names a version, an
  un-assignment leaves the stage empty;
- a stage event names its version in its message; a hand-made or GTO one names
  the version registered on the same commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from gitml.artifacts.hashing import is_oid
from gitml.exceptions import InvalidNameError, ModelNotFoundError, VersionNotFoundError
from gitml.registry.events import Event, ModelVersion, parse_message
from gitml.registry.grammar import (
    ModelsURI,
    TagKind,
    TagName,
    Version,
    check_model_name,
    parse_tag,
    parse_version,
)
from gitml.repo.tags import TagInfo, TagRef

__all__ = ["ModelNotFoundError", "Registry", "StageHolder", "TagSource", "VersionNotFoundError"]


class TagSource(Protocol):
    """Where tags come from: names with their values, and tag objects on demand."""

    def names(self, *, prefix: str = "") -> list[str]: ...

    def ref(self, name: str) -> TagRef | None: ...

    def info(self, name: str, sha: str) -> TagInfo | None: ...


@dataclass(frozen=True)
class StageHolder:
    stage: str
    version: Version | None
    event: Event


@dataclass
class _Model:
    name: str
    parsed: list[TagName] = field(default_factory=list)
    registrations: list[TagName] | None = None


class Registry:
    """A read-only view of the registry in a :class:`TagSource`."""

    def __init__(self, source: TagSource, *, quick_holders: bool = False) -> None:
        self.source = source
        self.warnings: list[str] = []
        self._models: dict[str, _Model] = {}
        self._all: bool = False
        self._info: dict[str, TagInfo | None] = {}
        self._refs: dict[str, TagRef | None] = {}
        #: Decide stage holders from packed-refs when that is unambiguous (``models list``); events
        #: then carry no tagger or time, so callers that show those leave it off.
        self._quick_holders = quick_holders
        self._warned: set[str] = set()

    # -- loading ------------------------------------------------------------------------------

    def _model(self, name: str) -> _Model:
        check_model_name(name)
        model = self._models.get(name)
        if model is None:
            tags = [*self.source.names(prefix=f"{name}@"), *self.source.names(prefix=f"{name}#")]
            model = self._add(name, tags)
        return model

    def _add(self, name: str, tags: Iterable[str]) -> _Model:
        model = _Model(name)
        for tag in tags:
            parsed = parse_tag(tag)
            if parsed is not None and parsed.name == name:
                model.parsed.append(parsed)
        self._models[name] = model
        return model

    def model_names(self) -> list[str]:
        """Every model with at least one registry tag (one listing of the tag names)."""
        if not self._all:
            by_name: dict[str, list[TagName]] = {}
            for tag in self.source.names():
                parsed = parse_tag(tag)
                if parsed is not None:
                    by_name.setdefault(parsed.name, []).append(parsed)
            for name, parsed_tags in by_name.items():
                if name not in self._models:
                    self._models[name] = _Model(name, parsed_tags)
            self._all = True
        return sorted(n for n, m in self._models.items() if m.parsed)

    def _ref(self, tag: str) -> TagRef | None:
        if tag not in self._refs:
            self._refs[tag] = self.source.ref(tag)
        return self._refs[tag]

    def _tag_info(self, model: _Model, tag: str) -> TagInfo | None:
        """The tag object, or None (with a warning, once) for a lightweight tag."""
        if tag in self._info:
            return self._info[tag]
        ref = self._ref(tag)
        info = None if ref is None or ref.peeled == ref.sha else self.source.info(tag, ref.sha)
        if info is None and tag not in self._warned:
            self._warned.add(tag)
            self.warnings.append(
                f"ignoring lightweight tag {tag!r}: registry tags must be annotated (git tag -a)"
            )
        self._info[tag] = info
        return info

    def _annotated(self, model: _Model, tag: str) -> bool:
        """Whether a tag is annotated — from packed-refs' peeled values when they say, else the object."""
        ref = self._ref(tag)
        if ref is None:
            return False
        if ref.peeled is not None:
            if ref.peeled == ref.sha:
                self._tag_info(model, tag)  # records the warning
                return False
            return True
        return self._tag_info(model, tag) is not None

    def _commit_of(self, model: _Model, tag: str) -> str | None:
        ref = self._ref(tag)
        if ref is not None and ref.peeled is not None and ref.peeled != ref.sha:
            return ref.peeled
        info = self._tag_info(model, tag)
        return info.target if info is not None and info.target_type == "commit" else None

    def _event(self, model: _Model, parsed: TagName) -> Event | None:
        info = self._tag_info(model, parsed.tag)
        if info is None or info.target_type != "commit":
            return None
        fields = parse_message(info.message)
        if not fields and info.message.strip():  # free text (by hand, or GTO): keep it as the description
            fields = {"description": info.message.strip()}
        return Event.of(parsed, commit=info.target, by=info.tagger, time=info.time, fields=fields)

    # -- versions -----------------------------------------------------------------------------

    def _registrations(self, model: _Model) -> list[TagName]:
        if model.registrations is None:
            model.registrations = sorted(
                (p for p in model.parsed if p.kind is TagKind.REGISTER),
                key=lambda p: p.version or Version((0,)),
            )
        return model.registrations

    def _deprecated(self, model: _Model) -> set[Version]:
        out = set()
        everything = False
        for p in model.parsed:
            if p.kind not in (TagKind.DEPRECATE, TagKind.DEPRECATE_MODEL):
                continue
            if not self._annotated(model, p.tag):
                continue
            if p.kind is TagKind.DEPRECATE_MODEL:
                everything = True
            elif p.version is not None:
                out.add(p.version)
        if everything:
            out.update(p.version for p in self._registrations(model) if p.version is not None)
        return out

    def deprecated_versions(self, name: str) -> set[Version]:
        return self._deprecated(self._model(name))

    def deprecated_since_promotion(self, name: str, holder: StageHolder) -> bool:
        """Whether the holder's version was deprecated at or after the event that gave it the stage."""
        model = self._model(name)
        times = []
        for p in model.parsed:
            hit = p.kind is TagKind.DEPRECATE_MODEL or (
                p.kind is TagKind.DEPRECATE and p.version == holder.version
            )
            info = self._tag_info(model, p.tag) if hit else None
            if info is not None:
                times.append(info.time)
        if not times:
            return False
        event = holder.event
        if not event.by:  # decided from packed-refs alone: read the event for its time
            parsed = parse_tag(event.tag)
            full = self._event(model, parsed) if parsed is not None else None
            event = full or event
        return min(times) >= event.time

    def version_tags(self, name: str) -> list[Version]:
        """Every version number taken (annotated or not): the next registration must not reuse any."""
        return [p.version for p in self._registrations(self._model(name)) if p.version is not None]

    def _version(self, model: _Model, parsed: TagName, *, deprecated: set[Version]) -> ModelVersion | None:
        event = self._event(model, parsed)
        if event is None or parsed.version is None:
            return None
        f = event.fields
        size = f.get("size")
        digest = f.get("hash", "")
        oid = digest[len("sha256:") :] if digest.startswith("sha256:") else ""
        return ModelVersion(
            name=model.name,
            version=parsed.version,
            tag=parsed.tag,
            commit=event.commit,
            registered_by=event.by,
            registered_at=event.time,
            run_id=f.get("run"),
            path=f.get("path"),
            hash=oid if is_oid(oid) else None,
            size=int(size) if size and size.isdigit() else None,
            is_dir=f.get("type") == "dir",
            remote=f.get("remote"),
            description=f.get("description"),
            deprecated=parsed.version in deprecated,
        )

    def versions(self, name: str) -> list[ModelVersion]:
        """Every registered version of ``name``, oldest number first, with its stages."""
        model = self._model(name)
        deprecated = self._deprecated(model)
        holders: dict[Version, list[str]] = {}
        for h in self.stages(name).values():
            if h.version is not None:
                holders.setdefault(h.version, []).append(h.stage)
        out = []
        for parsed in self._registrations(model):
            mv = self._version(model, parsed, deprecated=deprecated)
            if mv is not None:
                stages = tuple(holders.get(mv.version, ()))
                out.append(replace(mv, stages=stages) if stages else mv)
        return out

    def get_version(self, name: str, version: Version | str, *, with_stages: bool = False) -> ModelVersion:
        """One version; ``with_stages`` also works out which stages it holds (reads the stage tags)."""
        model = self._require(name)
        wanted = version if isinstance(version, Version) else parse_version(version)
        deprecated = self._deprecated(model)
        for parsed in reversed(self._registrations(model)):
            if parsed.version == wanted:
                mv = self._version(model, parsed, deprecated=deprecated)
                if mv is not None and with_stages:
                    held = tuple(s for s, h in self.stages(name).items() if h.version == wanted)
                    return replace(mv, stages=held) if held else mv
                if mv is not None:
                    return mv
        annotated = [p.version for p in self._registrations(model) if self._annotated(model, p.tag)]
        known = ", ".join(str(v) for v in annotated[-5:] if v is not None) or "none"
        raise VersionNotFoundError(
            f"model {name!r} has no version {wanted}", hint=f"versions: {known} (gitml models show {name})"
        )

    def latest(self, name: str, *, include_deprecated: bool = False) -> ModelVersion:
        """The highest version that is not deprecated."""
        model = self._require(name)
        deprecated = self._deprecated(model)
        for parsed in reversed(self._registrations(model)):
            if not include_deprecated and parsed.version in deprecated:
                continue
            mv = self._version(model, parsed, deprecated=deprecated)
            if mv is not None:
                return mv
        if any(self._annotated(model, p.tag) for p in self._registrations(model)):
            raise VersionNotFoundError(
                f"every version of model {name!r} is deprecated", hint=f"gitml models show {name}"
            )
        raise VersionNotFoundError(
            f"model {name!r} has no version registered by an annotated tag",
            hint="lightweight tags are ignored: gitml register (or git tag -a)",
        )

    def latest_version(self, name: str) -> Version | None:
        """The highest version that is not deprecated, from tag names (objects only read if loose)."""
        model = self._require(name)
        deprecated = self._deprecated(model)
        for parsed in reversed(self._registrations(model)):
            if parsed.version not in deprecated and self._annotated(model, parsed.tag):
                return parsed.version
        return None

    def _require(self, name: str) -> _Model:
        model = self._model(name)
        if not any(p.kind is TagKind.REGISTER for p in model.parsed):
            raise ModelNotFoundError(
                f"no model named {name!r} is registered here",
                hint="gitml models list; in a clone without tags: git fetch --tags",
            )
        return model

    # -- stages -------------------------------------------------------------------------------

    def stage_events(self, name: str, stage: str | None = None) -> list[TagName]:
        model = self._model(name)
        return [
            p
            for p in model.parsed
            if p.kind in (TagKind.ASSIGN, TagKind.UNASSIGN) and (stage is None or p.stage == stage)
        ]

    def next_stage_number(self, name: str, stage: str) -> int:
        return max((p.number for p in self.stage_events(name, stage)), default=0) + 1

    def _assigned_version(self, model: _Model, event: Event) -> Version | None:
        text = event.fields.get("version")
        if text:
            try:
                return parse_version(text, strict_prefix=True)
            except InvalidNameError:  # a hand-edited message: fall back to the commit
                pass
        # A hand-made or GTO stage tag: the version registered on the same commit (the newest one).
        on_commit = [
            p.version
            for p in self._registrations(model)
            if p.version is not None and self._commit_of(model, p.tag) == event.commit
        ]
        return max(on_commit) if on_commit else None

    def _holder(self, model: _Model, stage: str, candidates: list[TagName]) -> StageHolder | None:
        # Newest first: highest number, then newest tagger time (read only to break ties).
        by_number = sorted(candidates, key=lambda p: p.number, reverse=True)
        i = 0
        while i < len(by_number):
            same = [p for p in by_number[i:] if p.number == by_number[i].number]
            i += len(same)
            if len(same) == 1 and self._quick_holders:
                quick = self._quick_holder(model, stage, same[0])
                if quick is not None:
                    return quick
            events = [e for e in (self._event(model, p) for p in same) if e is not None]
            if not events:
                continue
            event = max(events, key=lambda e: (e.time, e.kind is TagKind.UNASSIGN))
            if event.kind is TagKind.UNASSIGN:
                return StageHolder(stage, None, event)
            return StageHolder(stage, self._assigned_version(model, event), event)
        return None

    def _quick_holder(self, model: _Model, stage: str, parsed: TagName) -> StageHolder | None:
        """A stage's holder from names and packed-refs alone: possible when the tag is known to be
        annotated and its commit holds exactly one registered version (no object read)."""
        ref = self._ref(parsed.tag)
        if ref is None or ref.peeled is None or ref.peeled == ref.sha:
            return None
        event = Event.of(parsed, commit=ref.peeled, by="", time=0, fields={})
        if parsed.kind is TagKind.UNASSIGN:
            return StageHolder(stage, None, event)
        on_commit = [
            p.version
            for p in self._registrations(model)
            if p.version is not None and self._commit_of(model, p.tag) == ref.peeled
        ]
        if len(on_commit) != 1:
            return None
        return StageHolder(stage, on_commit[0], event)

    def stages(self, name: str) -> dict[str, StageHolder]:
        """Each stage ever used → its current holder (version None: nobody holds it now)."""
        model = self._model(name)
        grouped: dict[str, list[TagName]] = {}
        for p in self.stage_events(name):
            assert p.stage is not None
            grouped.setdefault(p.stage, []).append(p)
        out = {}
        for stage, candidates in sorted(grouped.items()):
            holder = self._holder(model, stage, candidates)
            if holder is not None:
                out[stage] = holder
        return out

    def holder(self, name: str, stage: str) -> StageHolder | None:
        model = self._model(name)
        candidates = self.stage_events(name, stage)
        return self._holder(model, stage, candidates) if candidates else None

    def resolve(self, uri: ModelsURI, *, with_stages: bool = False) -> ModelVersion:
        """The version a ``models:/`` URI names; NotFound errors say what exists instead.

        ``with_stages`` fills in the stages a version or ``latest`` holds (reads the stage tags).
        """
        if uri.selector == "version":
            assert uri.version is not None
            return self.get_version(uri.name, uri.version, with_stages=with_stages)
        if uri.selector == "latest":
            latest = self.latest(uri.name)
            if not with_stages:
                return latest
            return self.get_version(uri.name, latest.version, with_stages=True)
        assert uri.stage is not None
        self._require(uri.name)
        holder = self.holder(uri.name, uri.stage)
        if holder is None or holder.version is None:
            held = [s for s, h in self.stages(uri.name).items() if h.version is not None]
            if holder is None:
                why = "is held by no version"
            elif holder.event.kind is TagKind.UNASSIGN:
                why = f"was demoted ({holder.event.tag})"
            else:
                why = f"is assigned by {holder.event.tag} to no registered version"
            raise VersionNotFoundError(
                f"stage {uri.stage!r} of model {uri.name!r} {why}",
                hint=f"stages held: {', '.join(held) or 'none'}; "
                f"to fill it: gitml promote {uri.name} VERSION {uri.stage}",
            )
        mv = self.get_version(uri.name, holder.version)
        if mv.deprecated and self.deprecated_since_promotion(uri.name, holder):
            # Deprecated after it was promoted: it holds the stage no more (as GTO reads it), since
            # deploying it by stage would hand out a version someone said must not be used. (A
            # deprecated version promoted afterwards, with --force, holds the stage deliberately.)
            raise VersionNotFoundError(
                f"stage {uri.stage!r} of model {uri.name!r} is held by {mv.version}, which is deprecated",
                hint=f"promote another version: gitml promote {uri.name} VERSION {uri.stage} "
                f"(or ask for it by version: models:/{uri.name}/{mv.version})",
            )
        if mv.deprecated:
            self.warnings.append(f"{uri} is {mv.version}, which is deprecated (promoted after that)")
        return replace(mv, stages=(uri.stage,))

    # -- history ------------------------------------------------------------------------------

    def history(self, name: str) -> list[Event]:
        """Every event of a model, oldest first (by tagger time, then stage number)."""
        model = self._require(name)
        events = []
        for parsed in model.parsed:
            event = self._event(model, parsed)
            if event is None:
                continue
            if event.kind in (TagKind.ASSIGN, TagKind.UNASSIGN) and event.version is None:
                event = replace(event, version=self._assigned_version(model, event))
            events.append(event)
        return sorted(events, key=lambda e: (e.time, e.number, e.tag))

    def event_for(self, tag: str) -> Event | None:
        """The event of one tag (for ``check-ref``); None outside the grammar or lightweight."""
        parsed = parse_tag(tag)
        if parsed is None:
            return None
        model = self._model(parsed.name)
        if self._ref(tag) is None:
            return None
        event = self._event(model, parsed)
        if event is not None and event.kind in (TagKind.ASSIGN, TagKind.UNASSIGN) and event.version is None:
            event = replace(event, version=self._assigned_version(model, event))
        return event

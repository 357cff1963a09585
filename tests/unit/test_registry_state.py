"""Registry semantics over the in-memory tag source: versions, deprecation, stages, laziness, history.

Tags are made the way ``registry/ops.py`` makes them (a subject, a blank line and the YAML
fields of ``events.format_message``) or the way people and GTO make them by hand (free text).
Searching needs a workspace and is tested with ``registry/query.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from gitml.exceptions import ConflictError, NotFoundError
from gitml.registry.events import format_message, parse_message, utc_iso
from gitml.registry.grammar import TagKind, Version, parse_models_uri, parse_version
from gitml.registry.memory import MemoryTags, fake_sha
from gitml.registry.state import ModelNotFoundError, Registry, VersionNotFoundError
from gitml.repo.tags import TagRef

ADA = "Ada <ada@example.com>"
BOB = "Bob <bob@example.com>"
T0 = 1_764_154_165  # 2025-11-26T10:49:25Z
OID = "ab" * 32


def commit(label: str) -> str:
    return fake_sha(f"commit {label}")


def register(
    tags: MemoryTags,
    name: str,
    version: str,
    *,
    at: int,
    on: str | None = None,
    by: str = ADA,
    description: str | None = None,
    **extra: Any,
) -> str:
    """``NAME@vN`` as gitml's register writes it; returns the commit it is on."""
    sha = on or commit(f"{name} {version}")
    fields = {
        "gitml": "registration",
        "name": name,
        "version": version,
        "run": extra.get("run", "r-" + version),
        "path": extra.get("path", "model"),
        "hash": f"sha256:{extra.get('oid', OID)}",
        "size": extra.get("size", 1234),
        "type": extra.get("type", "file"),
        "remote": extra.get("remote", "s3://bucket/store"),
        "by": by,
        "at": utc_iso(at),
    }
    message = format_message(f"Register {name} {version}", fields, description)
    tags.add(f"{name}@{version}", commit=sha, message=message, tagger=by, time=at)
    return sha


def stage_event(
    tags: MemoryTags,
    name: str,
    version: str,
    stage: str,
    number: int,
    *,
    at: int,
    on: str | None = None,
    unassign: bool = False,
    by: str = ADA,
) -> None:
    """``NAME#STAGE#N`` (or ``NAME#STAGE!#N``) as gitml's promote / demote write it."""
    kind = "demotion" if unassign else "promotion"
    fields = {"gitml": kind, "name": name, "version": version, "stage": stage, "by": by, "at": utc_iso(at)}
    tag = f"{name}#{stage}{'!' if unassign else ''}#{number}"
    message = format_message(f"{kind} of {name} {version} ({stage})", fields)
    tags.add(tag, commit=on or commit(f"{name} {version}"), message=message, tagger=by, time=at)


def deprecate(tags: MemoryTags, name: str, version: str, *, at: int) -> None:
    fields = {"gitml": "deprecation", "name": name, "version": version, "by": ADA, "at": utc_iso(at)}
    message = format_message(f"Deprecate {name} {version}", fields)
    tags.add(f"{name}@{version}!", commit=commit(f"{name} {version}"), message=message, tagger=ADA, time=at)


def vs(*texts: str) -> list[Version]:
    return [parse_version(t) for t in texts]


def resolve(registry: Registry, uri: str) -> str:
    return str(registry.resolve(parse_models_uri(uri)).version)


@pytest.fixture(params=[False, True], ids=["loose", "peeled"])
def tags(request: pytest.FixtureRequest) -> MemoryTags:
    """Refs read as loose refs (sha only) and as packed-refs / a remote advertisement (peeled)."""
    return MemoryTags(peeled=request.param)


# -- the fake itself ---------------------------------------------------------------------------


def test_memory_tags_behaves_like_a_repository() -> None:
    loose, packed = MemoryTags(), MemoryTags(peeled=True)
    shas = {}
    for t in (loose, packed):
        info = t.add("churn@v1", commit=commit("a"), message="m\n", tagger=BOB, time=T0)
        t.add_lightweight("churn@v2", commit("b"))
        shas[id(t)] = info.sha
        assert (info.name, info.target, info.target_type, info.tagger, info.time, info.message) == (
            "churn@v1",
            commit("a"),
            "commit",
            BOB,
            T0,
            "m\n",
        )
        assert len(info.sha) == 40 and info.sha not in (commit("a"), commit("b"))
        with pytest.raises(ConflictError, match="tag churn@v1 already exists"):
            t.add("churn@v1", commit=commit("c"))
        with pytest.raises(ConflictError):
            t.add_lightweight("churn@v2", commit("c"))
        assert t.names() == ["churn@v1", "churn@v2"]
        assert t.names(prefix="churn@v2") == ["churn@v2"]
        assert t.names_asked == ["", "churn@v2"]
        assert t.ref("churn@v3") is None
        assert t.info("churn@v1", info.sha) == info
        assert t.info("churn@v2", commit("b")) is None  # a commit is no tag object
        assert t.info_read == ["churn@v1", "churn@v2"] and t.info_calls == 2
        t.reset_counts()
        assert (t.names_calls, t.names_asked, t.ref_calls, t.info_calls, t.info_read) == (0, [], 0, 0, [])
    # Loose refs give the value only; packed-refs (and remotes) give the peeled commit too.
    assert loose.ref("churn@v1") == TagRef(shas[id(loose)])
    assert loose.ref("churn@v2") == TagRef(commit("b"))
    assert packed.ref("churn@v1") == TagRef(shas[id(packed)], commit("a"))
    assert packed.ref("churn@v2") == TagRef(commit("b"), commit("b"))


# -- versions -------------------------------------------------------------------------------------


def test_a_registered_version_says_where_its_bytes_are(tags: MemoryTags) -> None:
    sha = register(
        tags, "churn", "v1", at=T0, run="r123", path="model", size=42, type="dir", description="first"
    )
    [mv] = Registry(tags).versions("churn")
    assert mv.to_dict() == {
        "name": "churn",
        "version": "v1",
        "tag": "churn@v1",
        "commit": sha,
        "run_id": "r123",
        "path": "model",
        "hash": OID,
        "size": 42,
        "type": "dir",
        "remote": "s3://bucket/store",
        "description": "first",
        "registered_by": ADA,
        "registered_at": "2025-11-26T10:49:25Z",
        "deprecated": False,
        "stages": [],
    }
    assert mv.uri == "models:/churn/v1"


def test_a_bad_hash_or_size_in_a_message_is_dropped(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0, oid="not-a-hash", size="-3")
    mv = Registry(tags).get_version("churn", "v1")
    assert (mv.hash, mv.size) == (None, None)


def test_versions_are_listed_in_numeric_order(tags: MemoryTags) -> None:
    for i, v in enumerate(["v10", "v2", "v1", "v1.2.3", "v3.0.1", "v3"]):
        register(tags, "churn", v, at=T0 + i)
    registry = Registry(tags)
    assert [str(mv.version) for mv in registry.versions("churn")] == [
        "v1",
        "v1.2.3",
        "v2",
        "v3",
        "v3.0.1",
        "v10",
    ]
    assert resolve(registry, "models:/churn/latest") == "v10"
    assert resolve(registry, "models:/churn/2") == "v2"
    assert registry.warnings == []


def test_latest_skips_deprecated_versions(tags: MemoryTags) -> None:
    for i in (1, 2, 3):
        register(tags, "churn", f"v{i}", at=T0 + i)
    deprecate(tags, "churn", "v3", at=T0 + 10)
    registry = Registry(tags)
    assert str(registry.latest("churn").version) == "v2"
    assert str(registry.latest("churn", include_deprecated=True).version) == "v3"
    assert resolve(registry, "models:/churn/latest") == "v2"
    assert [(str(v.version), v.deprecated) for v in registry.versions("churn")] == [
        ("v1", False),
        ("v2", False),
        ("v3", True),
    ]
    assert registry.get_version("churn", "v3").deprecated  # still resolvable by number


def test_model_deprecation_deprecates_every_version(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    tags.add("churn@deprecated", commit=commit("churn v2"), message="retired", tagger=BOB, time=T0 + 2)
    registry = Registry(tags)
    assert all(v.deprecated for v in registry.versions("churn"))
    with pytest.raises(VersionNotFoundError, match="every version of model 'churn' is deprecated"):
        registry.latest("churn")
    assert str(registry.latest("churn", include_deprecated=True).version) == "v2"
    assert resolve(registry, "models:/churn/v1") == "v1"


def test_a_lightweight_deprecation_deprecates_nothing(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    tags.add_lightweight("churn@deprecated", commit("churn v1"))
    tags.add_lightweight("churn@v1!", commit("churn v1"))
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/latest") == "v1"
    assert registry.warnings == [
        "ignoring lightweight tag 'churn@deprecated': registry tags must be annotated (git tag -a)",
        "ignoring lightweight tag 'churn@v1!': registry tags must be annotated (git tag -a)",
    ]


def test_unknown_model_and_version_say_what_exists(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    stage_event(tags, "orphan", "v1", "prod", 1, at=T0)  # stage tags alone register nothing
    registry = Registry(tags)
    for uri in ("models:/fraud/latest", "models:/fraud/v1", "models:/fraud/prod", "models:/orphan/prod"):
        with pytest.raises(
            ModelNotFoundError, match=r"no model named '(fraud|orphan)' is registered here"
        ) as info:
            registry.resolve(parse_models_uri(uri))
        assert info.value.hint == "gitml models list; in a clone without tags: git fetch --tags"
    with pytest.raises(VersionNotFoundError, match="model 'churn' has no version v7") as missing:
        registry.get_version("churn", "v7")
    assert missing.value.hint == "versions: v1, v2 (gitml models show churn)"
    assert isinstance(missing.value, NotFoundError)


def test_a_tag_on_something_else_than_a_commit_registers_nothing(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    tags.add("churn@v2", commit=fake_sha("a tree"), message="x", time=T0 + 1, target_type="tree")
    assert [str(v.version) for v in Registry(tags).versions("churn")] == ["v1"]


# -- stages ---------------------------------------------------------------------------------------


def test_the_highest_number_holds_the_stage_whatever_the_clock_says(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    stage_event(tags, "churn", "v2", "prod", 2, at=T0 + 5)  # a clock behind
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 100)
    registry = Registry(tags)
    holder = registry.holder("churn", "prod")
    assert holder is not None and str(holder.version) == "v2"
    assert holder.event.tag == "churn#prod#2" and holder.event.by == ADA
    assert resolve(registry, "models:/churn/prod") == "v2"
    assert resolve(registry, "models:/churn@prod") == "v2"
    assert registry.next_stage_number("churn", "prod") == 3


@pytest.mark.parametrize(
    ("assigned_at", "demoted_at", "held"), [(T0 + 1, T0 + 2, None), (T0 + 2, T0 + 1, "v1")]
)
def test_same_number_newer_tagger_time_wins(
    tags: MemoryTags, assigned_at: int, demoted_at: int, held: str | None
) -> None:
    """Two clones both used number 2 (one promoted, one demoted): the newer event decides."""
    register(tags, "churn", "v1", at=T0)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0)
    stage_event(tags, "churn", "v1", "prod", 2, at=assigned_at)
    stage_event(tags, "churn", "v1", "prod", 2, at=demoted_at, unassign=True)
    holder = Registry(tags).holder("churn", "prod")
    assert holder is not None
    assert (str(holder.version) if holder.version else None) == held


def test_a_demoted_stage_is_empty_and_resolving_it_says_so(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 2)
    stage_event(tags, "churn", "v2", "staging", 1, at=T0 + 3)
    stage_event(tags, "churn", "v1", "prod", 2, at=T0 + 4, unassign=True)
    registry = Registry(tags)
    stages = registry.stages("churn")
    assert {s: (str(h.version) if h.version else None) for s, h in stages.items()} == {
        "prod": None,
        "staging": "v2",
    }
    assert stages["prod"].event.kind is TagKind.UNASSIGN
    assert [(str(v.version), v.stages) for v in registry.versions("churn")] == [
        ("v1", ()),
        ("v2", ("staging",)),
    ]
    with pytest.raises(VersionNotFoundError) as info:
        registry.resolve(parse_models_uri("models:/churn/prod"))
    assert str(info.value) == "stage 'prod' of model 'churn' was demoted (churn#prod!#2)"
    assert info.value.hint == "stages held: staging; to fill it: gitml promote churn VERSION prod"


def test_a_stage_never_used_is_held_by_no_version(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0)
    with pytest.raises(VersionNotFoundError) as info:
        Registry(tags).resolve(parse_models_uri("models:/churn/canary"))
    assert str(info.value) == "stage 'canary' of model 'churn' is held by no version"
    assert info.value.hint == "stages held: prod; to fill it: gitml promote churn VERSION canary"


def test_promoting_again_after_a_demotion_fills_the_stage(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0)
    stage_event(tags, "churn", "v1", "prod", 2, at=T0 + 1, unassign=True)
    stage_event(tags, "churn", "v1", "prod", 3, at=T0 + 2)
    assert resolve(Registry(tags), "models:/churn/prod") == "v1"


def test_a_hand_made_stage_tag_is_event_zero(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    tags.add("churn#prod", commit=commit("churn v1"), message="ship it", tagger=BOB, time=T0 + 50)
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/prod") == "v1"  # via the registration on its commit
    assert registry.next_stage_number("churn", "prod") == 1
    stage_event(tags, "churn", "v2", "prod", 1, at=T0 + 2)  # older clock, higher number
    assert resolve(Registry(tags), "models:/churn/prod") == "v2"


def test_a_stage_tag_without_a_version_takes_the_newest_registration_on_its_commit(tags: MemoryTags) -> None:
    sha = register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1, on=sha)  # re-registered, same commit
    register(tags, "churn", "v3", at=T0 + 2)
    tags.add("churn#prod#1", commit=sha, message="x", time=T0 + 3)
    fields = {"gitml": "promotion", "name": "churn", "version": "garbage", "stage": "qa"}
    tags.add("churn#qa#1", commit=sha, message=format_message("hand-edited", fields), time=T0 + 4)
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/prod") == "v2"
    assert resolve(registry, "models:/churn/qa") == "v2"


def test_a_version_holding_two_stages_lists_both(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 1)
    stage_event(tags, "churn", "v1", "staging", 1, at=T0 + 2)
    [mv] = Registry(tags).versions("churn")
    assert mv.stages == ("prod", "staging")


def test_an_assignment_naming_no_version_is_not_called_a_demotion(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    tags.add("churn#prod#1", commit=commit("elsewhere"), message="by hand", time=T0 + 1)
    with pytest.raises(VersionNotFoundError) as info:
        Registry(tags).resolve(parse_models_uri("models:/churn/prod"))
    assert "demoted" not in str(info.value)


# -- lightweight tags -----------------------------------------------------------------------------


def test_a_lightweight_registration_is_ignored_with_one_warning(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    tags.add_lightweight("churn@v9", commit("churn v1"))
    registry = Registry(tags)
    for _ in range(3):
        assert resolve(registry, "models:/churn/latest") == "v1"
        assert [str(v.version) for v in registry.versions("churn")] == ["v1"]
    with pytest.raises(VersionNotFoundError, match="has no version v9"):
        registry.get_version("churn", "v9")
    assert registry.warnings == [
        "ignoring lightweight tag 'churn@v9': registry tags must be annotated (git tag -a)"
    ]
    assert registry.version_tags("churn") == vs("v1", "v9")  # the number is taken all the same


def test_a_lightweight_stage_tag_does_not_move_the_stage(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 1)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 2)
    tags.add_lightweight("churn#prod#5", commit("churn v2"))
    tags.add_lightweight("churn#prod!#6", commit("churn v2"))
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/prod") == "v1"
    assert {s: str(h.version) for s, h in registry.stages("churn").items()} == {"prod": "v1"}
    assert [e.tag for e in registry.history("churn")] == ["churn@v1", "churn@v2", "churn#prod#1"]
    assert registry.event_for("churn#prod#5") is None
    assert sorted(registry.warnings) == [
        "ignoring lightweight tag 'churn#prod!#6': registry tags must be annotated (git tag -a)",
        "ignoring lightweight tag 'churn#prod#5': registry tags must be annotated (git tag -a)",
    ]
    assert registry.next_stage_number("churn", "prod") == 7  # their names are taken


def test_a_missing_version_hint_lists_only_versions_that_exist(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    tags.add_lightweight("churn@v9", commit("churn v1"))
    with pytest.raises(VersionNotFoundError) as info:
        Registry(tags).get_version("churn", "v9")
    assert info.value.hint == "versions: v1 (gitml models show churn)"


def test_a_model_with_only_lightweight_tags_is_not_called_deprecated(tags: MemoryTags) -> None:
    tags.add_lightweight("churn@v1", commit("churn v1"))
    with pytest.raises(NotFoundError) as info:
        Registry(tags).latest("churn")
    assert "deprecated" not in str(info.value)


# -- laziness -------------------------------------------------------------------------------------


def crowded(tags: MemoryTags) -> None:
    """churn with history, next to models whose names start the same way."""
    for i in (1, 2, 3):
        register(tags, "churn", f"v{i}", at=T0 + i)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 10)
    stage_event(tags, "churn", "v2", "prod", 2, at=T0 + 11)
    stage_event(tags, "churn", "v3", "staging", 1, at=T0 + 12)
    for other in ("churn2", "churn-eu", "churn.x", "fraud"):
        for i in (1, 2):
            register(tags, other, f"v{i}", at=T0 + i)
        stage_event(tags, other, "v2", "prod", 1, at=T0 + 20)
    tags.add("release-1", commit=commit("release"), message="not ours", time=T0)


def test_resolving_a_stage_reads_only_what_it_needs(tags: MemoryTags) -> None:
    crowded(tags)
    tags.reset_counts()
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/prod") == "v2"
    assert tags.names_asked == ["churn@", "churn#"]
    assert sorted(tags.info_read) == ["churn#prod#2", "churn@v2"]


def test_resolving_a_version_reads_one_tag_object(tags: MemoryTags) -> None:
    crowded(tags)
    tags.reset_counts()
    registry = Registry(tags)
    assert resolve(registry, "models:/churn/v1") == "v1"
    assert resolve(registry, "models:/churn/latest") == "v3"
    assert sorted(tags.info_read) == ["churn@v1", "churn@v3"]
    assert set(tags.names_asked) == {"churn@", "churn#"}


def test_each_tag_object_is_read_once_per_registry(tags: MemoryTags) -> None:
    crowded(tags)
    tags.reset_counts()
    registry = Registry(tags)
    for _ in range(3):
        registry.versions("churn")
        registry.history("churn")
        registry.resolve(parse_models_uri("models:/churn/staging"))
    assert len(tags.info_read) == len(set(tags.info_read))
    assert all(t.startswith(("churn@", "churn#")) for t in tags.info_read)


def test_listing_models_reads_names_only(tags: MemoryTags) -> None:
    crowded(tags)
    tags.reset_counts()
    registry = Registry(tags)
    assert registry.model_names() == ["churn", "churn-eu", "churn.x", "churn2", "fraud"]
    assert registry.model_names() == ["churn", "churn-eu", "churn.x", "churn2", "fraud"]
    assert tags.names_asked == [""]
    assert tags.info_calls == 0
    assert resolve(registry, "models:/fraud/prod") == "v2"  # the one listing serves the model too
    assert tags.names_asked == [""]


# -- history and single events --------------------------------------------------------------------


def test_history_is_oldest_first(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    register(tags, "churn", "v2", at=T0 + 60)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 30)
    stage_event(tags, "churn", "v2", "prod", 2, at=T0 + 90, by=BOB)
    stage_event(tags, "churn", "v2", "prod", 3, at=T0 + 90, unassign=True, by=BOB)  # same second: by number
    deprecate(tags, "churn", "v1", at=T0 + 120)
    tags.add("churn#qa", commit=commit("churn v2"), message="by hand", time=T0 + 150)
    history = Registry(tags).history("churn")
    assert [(e.tag, e.kind.value, str(e.version), e.stage, e.by, e.at) for e in history] == [
        ("churn@v1", "registration", "v1", None, ADA, "2025-11-26T10:49:25Z"),
        ("churn#prod#1", "promotion", "v1", "prod", ADA, "2025-11-26T10:49:55Z"),
        ("churn@v2", "registration", "v2", None, ADA, "2025-11-26T10:50:25Z"),
        ("churn#prod#2", "promotion", "v2", "prod", BOB, "2025-11-26T10:50:55Z"),
        ("churn#prod!#3", "demotion", "v2", "prod", BOB, "2025-11-26T10:50:55Z"),
        ("churn@v1!", "deprecation", "v1", None, ADA, "2025-11-26T10:51:25Z"),
        ("churn#qa", "promotion", "v2", "qa", "A <a@x>", "2025-11-26T10:51:55Z"),
    ]
    assert history[-1].to_dict() == {
        "tag": "churn#qa",
        "event": "promotion",
        "name": "churn",
        "version": "v2",
        "stage": "qa",
        "commit": commit("churn v2"),
        "by": "A <a@x>",
        "at": "2025-11-26T10:51:55Z",
        "description": "by hand",
    }


def test_history_of_an_unknown_model(tags: MemoryTags) -> None:
    with pytest.raises(ModelNotFoundError):
        Registry(tags).history("churn")


def test_event_for_one_tag(tags: MemoryTags) -> None:
    register(tags, "churn", "v1", at=T0)
    stage_event(tags, "churn", "v1", "prod", 1, at=T0 + 1)
    tags.add("churn#qa", commit=commit("churn v1"), message="", time=T0 + 2)
    tags.add_lightweight("churn@v2", commit("churn v2"))
    tags.add("v1.0", commit=commit("release"), message="release", time=T0)
    registry = Registry(tags)
    event = registry.event_for("churn#prod#1")
    assert event is not None
    assert (event.kind, str(event.version), event.stage, event.number, event.commit) == (
        TagKind.ASSIGN,
        "v1",
        "prod",
        1,
        commit("churn v1"),
    )
    assert event.fields["gitml"] == "promotion"
    by_hand = registry.event_for("churn#qa")
    assert by_hand is not None and str(by_hand.version) == "v1" and by_hand.fields == {}
    registration = registry.event_for("churn@v1")
    assert registration is not None and registration.kind is TagKind.REGISTER
    assert registry.event_for("churn@v2") is None  # lightweight
    assert registry.event_for("churn@v3") is None  # absent
    assert registry.event_for("churn#prod#2") is None
    assert registry.event_for("v1.0") is None  # outside the grammar


# -- messages -------------------------------------------------------------------------------------

DESCRIPTIONS = [
    "plain words",
    "line one\nline two",
    "a\n\nparagraph two\n",
    "key: value",
    "gitml: registration",
    "it's \"quoted\" and 'single'",
    "- a list item",
    "# not a comment",
    "yes",
    "null",
    "3.0",
    "2026-01-01",
    "  leading and trailing  ",
    "café ünïcode ✓",
    "tab\there",
    "{not: a mapping}",
    "[1, 2]",
    "ends with a backslash \\",
]


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_descriptions_round_trip_through_the_message(tags: MemoryTags, description: str) -> None:
    register(tags, "churn", "v1", at=T0, description=description)
    assert Registry(tags).get_version("churn", "v1").description == description


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_format_and_parse_message_round_trip(description: str) -> None:
    fields = {
        "gitml": "registration",
        "name": "churn",
        "version": "v1",
        "run": "20251126-104925-abcd",
        "path": "models/model.pkl",
        "hash": f"sha256:{OID}",
        "size": 0,
        "type": "file",
        "remote": "s3://bucket/a b",
        "by": "Zoë O'Brien <zoe@example.com>",
        "at": "2026-11-26T14:03:11Z",
    }
    message = format_message(
        "Register churn v1 (run 20251126-104925-abcd, models/model.pkl)", fields, description
    )
    subject, _, _ = message.partition("\n")
    assert subject == "Register churn v1 (run 20251126-104925-abcd, models/model.pkl)"
    assert message.endswith("\n") and not message.endswith("\n\n")
    assert parse_message(message) == {**{k: str(v) for k, v in fields.items()}, "description": description}


def test_format_message_writes_fields_in_order_and_skips_none() -> None:
    message = format_message(
        "Promote churn v3 to production",
        {
            "at": "2026-11-26T14:03:11Z",
            "by": "Ada <ada@example.com>",
            "stage": "production",
            "version": "v3",
            "name": "churn",
            "gitml": "promotion",
            "run": None,
        },
    )
    subject, _, body = message.partition("\n\n")
    assert subject == "Promote churn v3 to production"
    assert [line.split(":")[0] for line in body.splitlines()] == [
        "gitml",
        "name",
        "version",
        "stage",
        "by",
        "at",
    ]
    assert "description" not in body


@pytest.mark.parametrize(
    "message",
    [
        "",
        "free text",
        "Registering artifact churn version v1.2.3",
        "subject\n\nbody without fields",
        "subject\n\nname: churn\nversion: v1",  # YAML, but not gitml's
        "subject\n\ngitml: [unclosed",
        "subject\n\n- gitml: x",
    ],
)
def test_free_text_has_no_fields(message: str) -> None:
    assert parse_message(message) == {}


@pytest.mark.parametrize(
    ("message", "description"),
    [
        ("free text\n", "free text"),
        ("  Ship it!\n\nMore words.\n", "Ship it!\n\nMore words."),
        ("", None),
        ("\n", None),
    ],
)
def test_a_free_text_message_becomes_the_description(
    tags: MemoryTags, message: str, description: str | None
) -> None:
    tags.add("churn@v1", commit=commit("churn v1"), message=message, tagger=BOB, time=T0)
    mv = Registry(tags).latest("churn")
    assert (mv.description, mv.run_id, mv.hash, mv.registered_by) == (description, None, None, BOB)

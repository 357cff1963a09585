"""Registry tags in real repositories: LocalTags writes what ``git tag -a`` writes and reads what git reads.

Tags are made with ``LocalTags.create`` or the git CLI (by hand, as GTO does); the registry
commands themselves need a gitml workspace and are tested elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitml.exceptions import ConflictError
from gitml.registry.events import format_message, utc_iso
from gitml.registry.grammar import TagKind, parse_models_uri
from gitml.registry.state import Registry
from gitml.repo import GitRepo
from gitml.repo.tags import LocalTags, TagInfo, TagRef
from gitml.repo.worktree import tzoffset
from tests.conftest import git

T0 = 1_764_154_165  # 2025-11-26T10:49:25Z
ME = "Test User <test@example.com>"
LIGHTWEIGHT = "ignoring lightweight tag {!r}: registry tags must be annotated (git tag -a)"


def git_date(stamp: int) -> str:
    """``STAMP +HHMM`` as git writes a tagger date, in the local zone (as LocalTags.create does)."""
    offset = tzoffset(stamp)
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{stamp} {sign}{hours:02d}{minutes:02d}"


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def new_commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return head(repo)


def hand_tag(repo: Path, name: str, message: str, target: str = "HEAD") -> None:
    """``git tag -a NAME -m MESSAGE TARGET``, as a person (or GTO) makes it."""
    git(repo, "tag", "-a", name, "-m", message, target)


def registration_message(name: str, version: str, stamp: int) -> str:
    fields = {
        "gitml": "registration",
        "name": name,
        "version": version,
        "run": "20251126-104925-abcd",
        "path": "model",
        "hash": "sha256:" + "ab" * 32,
        "size": 1234,
        "type": "file",
        "by": ME,
        "at": utc_iso(stamp),
    }
    return format_message(
        f"Register {name} {version} (run 20251126-104925-abcd, model)", fields, "first: 'try'"
    )


def for_each_ref(repo: Path) -> dict[str, tuple[str, str, str]]:
    """What git says: tag name -> (object type, object id, peeled commit or '')."""
    out = git(
        repo,
        "for-each-ref",
        "--format=%(refname:strip=2)|%(objecttype)|%(objectname)|%(*objectname)",
        "refs/tags",
    )
    rows = (line.split("|") for line in out.splitlines())
    return {name: (kind, sha, peeled) for name, kind, sha, peeled in rows}


class CountingTags(LocalTags):
    """LocalTags that remembers which tag objects were read."""

    def __init__(self, repo: GitRepo) -> None:
        super().__init__(repo)
        self.read: list[str] = []

    def info(self, name: str, sha: str) -> TagInfo | None:
        self.read.append(name)
        return super().info(name, sha)


def assert_agrees_with_git(repo: Path) -> None:
    """LocalTags lists the names git lists, with git's values; a peeled value, when given, is git's."""
    tags = LocalTags(GitRepo(repo))
    seen = for_each_ref(repo)
    readable = [n for n in tags.names() if tags.ref(n) is not None]
    assert readable == sorted(seen)
    peel_lines = "peeled" in (packed_text(repo).partition("\n")[0])
    for name, (_kind, sha, _deref) in seen.items():
        ref = tags.ref(name)
        assert ref is not None and ref.sha == sha, name
        loose = (repo / ".git" / "refs" / "tags" / name).exists()
        expect_peeled = peel_lines and name in packed_names(repo) and not loose
        assert (ref.peeled is not None) == expect_peeled, name
        if ref.peeled is not None:
            assert ref.peeled == git(repo, "rev-parse", f"refs/tags/{name}^{{}}").strip(), name
    for prefix in ("churn@", "churn#", "fraud", "team/", "nothing"):
        assert tags.names(prefix=prefix) == sorted(n for n in readable if n.startswith(prefix)), prefix


def packed_text(repo: Path) -> str:
    path = repo / ".git" / "packed-refs"
    return path.read_text() if path.exists() else ""


def packed_names(repo: Path) -> set[str]:
    names = set()
    for line in packed_text(repo).splitlines():
        sha, _, ref = line.partition(" ")
        if ref.startswith("refs/tags/") and len(sha) == 40:
            names.add(ref.removeprefix("refs/tags/"))
    return names


# -- writing --------------------------------------------------------------------------------------


def test_created_tag_is_an_annotated_tag_git_reads(repo: Path) -> None:
    sha = head(repo)
    message = registration_message("churn", "v1", T0)
    info = LocalTags(GitRepo(repo)).create("churn@v1", commit=sha, message=message, now=lambda: T0)
    assert (info.name, info.target, info.target_type, info.tagger, info.time) == (
        "churn@v1",
        sha,
        "commit",
        ME,
        T0,
    )
    assert info.message == message
    assert git(repo, "cat-file", "-t", "churn@v1") == "tag\n"
    assert git(repo, "rev-parse", "refs/tags/churn@v1").strip() == info.sha
    fmt = "%(objecttype) %(*objectname) %(taggername) %(taggeremail) %(contents:subject)"
    assert git(repo, "for-each-ref", f"--format={fmt}", "refs/tags/churn@v1") == (
        f"tag {sha} Test User <test@example.com> Register churn v1 (run 20251126-104925-abcd, model)\n"
    )
    assert git(repo, "for-each-ref", "--format=%(taggerdate:raw)", "refs/tags/churn@v1").strip() == git_date(
        T0
    )
    assert git(repo, "cat-file", "tag", "churn@v1").split("\n\n", 1)[1] == message
    fsck = git(repo, "fsck", "--strict", "--no-dangling")
    assert fsck == ""


@pytest.mark.parametrize("message", ["x", "one line\n", None])
def test_created_tag_has_the_same_bytes_as_git_tag(
    repo: Path, monkeypatch: pytest.MonkeyPatch, message: str | None
) -> None:
    text = registration_message("churn", "v1", T0) if message is None else message
    LocalTags(GitRepo(repo)).create("churn@v1", commit=head(repo), message=text, now=lambda: T0)
    monkeypatch.setenv("GIT_COMMITTER_DATE", git_date(T0))
    git(repo, "tag", "-a", "by-hand", "-m", text, "HEAD")
    ours = git(repo, "cat-file", "tag", "churn@v1")
    theirs = git(repo, "cat-file", "tag", "by-hand")
    assert [line.split(" ")[0] for line in ours.split("\n\n")[0].splitlines()] == [
        "object",
        "type",
        "tag",
        "tagger",
    ]
    assert ours.endswith("\n") and not ours.endswith("\n\n")
    assert ours.replace("\ntag churn@v1\n", "\ntag by-hand\n") == theirs


def test_creating_an_existing_tag_is_a_conflict_and_changes_nothing(repo: Path) -> None:
    first = head(repo)
    tags = LocalTags(GitRepo(repo))
    original = tags.create("churn@v1", commit=first, message="first\n", now=lambda: T0)
    second = new_commit(repo, "second")
    git(repo, "tag", "churn@v2")  # lightweight
    hand_tag(repo, "churn#prod#1", "packed one")
    git(repo, "pack-refs", "--all")
    for name in ("churn@v1", "churn@v2", "churn#prod#1"):
        before = git(repo, "rev-parse", f"refs/tags/{name}").strip()
        with pytest.raises(ConflictError, match=f"tag {name} already exists") as info:
            LocalTags(GitRepo(repo)).create(name, commit=second, message="second\n", now=lambda: T0 + 1)
        assert info.value.refs == (name,)
        assert git(repo, "rev-parse", f"refs/tags/{name}").strip() == before
    assert git(repo, "cat-file", "tag", "churn@v1").endswith("\n\nfirst\n")
    assert git(repo, "rev-parse", "churn@v1^{commit}").strip() == first
    assert LocalTags(GitRepo(repo)).ref("churn@v1") == TagRef(original.sha, first)
    assert git(repo, "fsck", "--strict", "--no-dangling") == ""


# -- reading tags made by hand and by GTO ---------------------------------------------------------


def test_hand_made_tags_are_understood(repo: Path) -> None:
    sha = head(repo)
    hand_tag(repo, "churn@v1", "free text")
    hand_tag(repo, "churn#prod#1", "x")
    registry = Registry(LocalTags(GitRepo(repo)))
    [mv] = registry.versions("churn")
    assert (str(mv.version), mv.commit, mv.description, mv.registered_by, mv.run_id) == (
        "v1",
        sha,
        "free text",
        ME,
        None,
    )
    assert mv.stages == ("prod",)
    assert str(registry.resolve(parse_models_uri("models:/churn/prod")).version) == "v1"
    assert str(registry.resolve(parse_models_uri("models:/churn@prod")).version) == "v1"
    assert [(e.tag, e.kind, str(e.version)) for e in registry.history("churn")] == [
        ("churn@v1", TagKind.REGISTER, "v1"),
        ("churn#prod#1", TagKind.ASSIGN, "v1"),
    ]
    assert registry.warnings == []


def test_gto_style_tags_are_read(repo: Path) -> None:
    a = head(repo)
    hand_tag(repo, "m@v1.2.3", "Registering artifact m version v1.2.3")
    hand_tag(repo, "m#prod#2", "Assigning stage prod to artifact m version v1.2.3")

    def registry() -> Registry:
        return Registry(LocalTags(GitRepo(repo)))

    assert str(registry().resolve(parse_models_uri("models:/m/prod")).version) == "v1.2.3"
    assert registry().next_stage_number("m", "prod") == 3
    hand_tag(repo, "m#prod!#3", "Unassigning stage prod from artifact m version v1.2.3")
    holder = registry().holder("m", "prod")
    assert holder is not None and holder.version is None and holder.event.kind is TagKind.UNASSIGN
    hand_tag(repo, "m@v1.2.3!", "Deregistering artifact m version v1.2.3")
    r = registry()
    [mv] = r.versions("m")
    assert (str(mv.version), mv.commit, mv.deprecated, mv.stages) == ("v1.2.3", a, True, ())
    b = new_commit(repo, "retrain")
    hand_tag(repo, "m@v1.2.4", "Registering artifact m version v1.2.4")
    hand_tag(repo, "m#prod#4", "Assigning stage prod to artifact m version v1.2.4")
    r = registry()
    assert [str(v.version) for v in r.versions("m")] == ["v1.2.3", "v1.2.4"]
    prod = r.resolve(parse_models_uri("models:/m/prod"))
    assert (str(prod.version), prod.commit) == ("v1.2.4", b)
    assert str(r.latest("m").version) == "v1.2.4"
    kinds = sorted((e.tag, e.kind.value) for e in r.history("m"))
    assert kinds == [
        ("m#prod!#3", "demotion"),
        ("m#prod#2", "promotion"),
        ("m#prod#4", "promotion"),
        ("m@v1.2.3", "registration"),
        ("m@v1.2.3!", "deprecation"),
        ("m@v1.2.4", "registration"),
    ]
    hand_tag(repo, "m@deprecated", "Deprecating artifact m")
    assert all(v.deprecated for v in registry().versions("m"))
    assert registry().warnings == []


def test_a_lightweight_tag_is_ignored_with_a_warning(repo: Path) -> None:
    hand_tag(repo, "churn@v1", "first")
    git(repo, "tag", "churn@v5")
    git(repo, "tag", "churn#prod#1")
    for packed in (False, True):
        if packed:
            git(repo, "pack-refs", "--all")
        registry = Registry(LocalTags(GitRepo(repo)))
        assert [str(v.version) for v in registry.versions("churn")] == ["v1"]
        assert str(registry.latest("churn").version) == "v1"
        assert registry.stages("churn") == {}
        assert sorted(registry.warnings) == [
            LIGHTWEIGHT.format("churn#prod#1"),
            LIGHTWEIGHT.format("churn@v5"),
        ]


# -- names and values agree with git --------------------------------------------------------------


def make_mix(repo: Path) -> None:
    hand_tag(repo, "churn@v1", "annotated")
    hand_tag(repo, "churn#prod#1", "annotated")
    git(repo, "tag", "churn@v2")  # lightweight
    hand_tag(repo, "fraud@v1", "annotated")
    hand_tag(repo, "team/churn@v1", "nested")
    git(repo, "tag", "release-1")
    hand_tag(repo, "outer", "a tag of a tag", "churn@v1")


def test_loose_tags_agree_with_git(repo: Path) -> None:
    make_mix(repo)
    assert packed_names(repo) == set()
    assert_agrees_with_git(repo)
    tags = LocalTags(GitRepo(repo))
    assert all(tags.ref(n).peeled is None for n in tags.names())  # type: ignore[union-attr]


def test_packed_tags_agree_with_git_and_are_peeled_without_reading_objects(repo: Path) -> None:
    make_mix(repo)
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "tags" / "churn@v1").exists()
    assert_agrees_with_git(repo)
    tags = CountingTags(GitRepo(repo))
    commit = head(repo)
    assert tags.ref("churn@v2") == TagRef(commit, commit)  # lightweight: it peels to itself
    annotated = tags.ref("churn@v1")
    assert annotated is not None and annotated.peeled == commit != annotated.sha
    registry = Registry(tags)
    assert [str(v.version) for v in registry.versions("churn")] == ["v1"]
    assert "churn@v2" not in tags.read  # told apart by the peel lines alone
    assert registry.warnings == [LIGHTWEIGHT.format("churn@v2")]


def test_loose_and_packed_mixed_agree_with_git(repo: Path) -> None:
    make_mix(repo)
    git(repo, "pack-refs", "--all")
    hand_tag(repo, "churn@v3", "loose, after packing")
    git(repo, "tag", "churn@v4")
    git(repo, "tag", "-f", "-a", "fraud@v1", "-m", "moved over the packed one", new_commit(repo, "later"))
    assert {"churn@v1", "fraud@v1"} <= packed_names(repo)
    assert_agrees_with_git(repo)
    tags = LocalTags(GitRepo(repo))
    assert tags.names(prefix="fraud@") == ["fraud@v1"]
    moved = tags.ref("fraud@v1")
    assert moved is not None and moved.sha == git(repo, "rev-parse", "refs/tags/fraud@v1").strip()
    assert Registry(tags).get_version("fraud", "v1").description == "moved over the packed one"


def test_packed_refs_without_peel_lines_read_objects(repo: Path) -> None:
    """An old packed-refs file (no ``peeled`` trait): values only, lightweight found by reading."""
    make_mix(repo)
    git(repo, "pack-refs", "--all")
    path = repo / ".git" / "packed-refs"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(("#", "^"))]
    path.write_text("\n".join(lines) + "\n")
    assert_agrees_with_git(repo)
    tags = LocalTags(GitRepo(repo))
    assert all(tags.ref(n).peeled is None for n in tags.names())  # type: ignore[union-attr]
    registry = Registry(tags)
    assert [str(v.version) for v in registry.versions("churn")] == ["v1"]
    assert registry.warnings == [LIGHTWEIGHT.format("churn@v2")]


def test_symbolic_and_odd_entries_do_not_crash(repo: Path) -> None:
    make_mix(repo)
    git(repo, "symbolic-ref", "refs/tags/sym", "refs/tags/churn@v1")
    tags_dir = repo / ".git" / "refs" / "tags"
    (tags_dir / "junk").write_text("not a sha\n")
    (tags_dir / "churn@v9").write_text("")  # an empty ref file: a crash half-way through a write
    (tags_dir / "churn@v3.lock").write_text(head(repo) + "\n")  # a writer's stale lock
    (tags_dir / "empty-dir").mkdir()
    tags = LocalTags(GitRepo(repo))
    names = tags.names()
    assert "churn@v3.lock" not in names and "empty-dir" not in names
    assert tags.ref("junk") is None and tags.ref("churn@v9") is None
    seen = for_each_ref(repo)
    sym = tags.ref("sym")
    assert sym is not None and sym.sha == seen["sym"][1]
    assert {n for n in names if tags.ref(n) is not None} == set(seen)
    registry = Registry(tags)
    assert registry.model_names() == ["churn", "fraud"]
    assert [str(v.version) for v in registry.versions("churn")] == ["v1"]
    assert str(registry.resolve(parse_models_uri("models:/churn/prod")).version) == "v1"
    assert registry.version_tags("churn") == sorted(registry.version_tags("churn"))


def test_a_tag_of_a_tag_is_not_a_registration(repo: Path) -> None:
    hand_tag(repo, "inner", "inner")
    hand_tag(repo, "churn@v1", "points at a tag object, not a commit", "inner")
    registry = Registry(LocalTags(GitRepo(repo)))
    assert registry.versions("churn") == []
    assert registry.event_for("churn@v1") is None


def test_resolving_in_a_repository_reads_only_that_models_tag_objects(repo: Path) -> None:
    tags = LocalTags(GitRepo(repo))
    for name in ("churn", "churn2", "churn-eu", "fraud"):
        sha = new_commit(repo, name)
        for i in (1, 2):
            tags.create(
                f"{name}@v{i}", commit=sha, message=registration_message(name, f"v{i}", T0), now=lambda: T0
            )
        hand_tag(repo, f"{name}#prod#1", "by hand")
    for packed in (False, True):
        if packed:
            git(repo, "pack-refs", "--all")
        counting = CountingTags(GitRepo(repo))
        registry = Registry(counting)
        assert str(registry.resolve(parse_models_uri("models:/churn/prod")).version) == "v2"
        assert set(counting.read) <= {"churn@v1", "churn@v2", "churn#prod#1"}, counting.read

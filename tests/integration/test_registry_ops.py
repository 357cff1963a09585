"""The registry's write and read operations on real repositories: register, promote, demote,
deprecate, the Python API (gitml.register_model, ...), search_model_versions, directory models.

Every event is checked against what the real ``git`` CLI sees: the tag exists, is annotated, peels
to the expected commit, carries the expected tagger, time and message — and no tag is ever moved.
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import gitml
from gitml import api
from gitml.exceptions import (
    ConflictError,
    GitMLError,
    InvalidNameError,
    NotFoundError,
    RunNotFoundError,
    UsageError,
)
from gitml.registry import ops
from gitml.registry.events import utc_iso
from gitml.registry.get import resolve_in_repo
from gitml.registry.state import ModelNotFoundError, VersionNotFoundError
from gitml.workspace import Workspace
from tests.artifact_helpers import artifacts_yaml, sha, tree
from tests.conftest import git
from tests.gitserver import init_bare
from tests.registry_helpers import (
    ADA,
    Lab,
    clone,
    gm,
    log_run,
    make_lab,
    tag_fields,
    tag_object,
    tag_refs,
    tagger,
)

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z: every event below is stamped T0 + n (now=)


def clock(offset: int) -> Callable[[], float]:
    return lambda: float(T0 + offset)


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return make_lab(tmp_path / "repo", storage=tmp_path / "storage")


@pytest.fixture
def ws(lab: Lab) -> Workspace:
    return Workspace.find(lab.root)


def head(lab: Lab) -> str:
    return git(lab.root, "rev-parse", "HEAD").strip()


def two_versions(lab: Lab, ws: Workspace) -> tuple[str, str]:
    """churn v1 and v2 (two runs, one model.json each); returns their run ids."""
    r1 = log_run(lab, {"model.json": b'{"w": 1}'})
    ops.register(ws, "churn", r1, now=clock(1))
    r2 = log_run(lab, {"model.json": b'{"w": 2}'})
    ops.register(ws, "churn", r2, now=clock(2))
    return r1, r2


def assert_exit(exc: GitMLError, code: int) -> None:
    assert exc.exit_code == code, f"{type(exc).__name__} exits {exc.exit_code}, wanted {code}"


# -- register --------------------------------------------------------------------------------------


def test_register_numbers_versions_and_takes_explicit_ones(lab: Lab, ws: Workspace) -> None:
    rid = log_run(lab, {"model.json": b"{}"})
    commit = head(lab)
    got = [ops.register(ws, "churn", rid, now=clock(i)) for i in range(2)]
    assert [(r.tag, str(r.version), r.commit) for r in got] == [
        ("churn@v1", "v1", commit),
        ("churn@v2", "v2", commit),
    ]
    explicit = ops.register(ws, "churn", rid, version="v3.1.0", now=clock(3))
    assert explicit.tag == "churn@v3.1.0"
    # The next automatic number follows the highest version, numerically.
    assert ops.register(ws, "churn", rid, now=clock(4)).tag == "churn@v3.1.1"
    assert ops.register(ws, "churn", rid, version="12", now=clock(5)).tag == "churn@v12"
    assert ops.register(ws, "churn", rid, now=clock(6)).tag == "churn@v13"
    tags = tag_refs(lab.root)
    assert sorted(tags) == sorted(
        ["churn@v1", "churn@v2", "churn@v3.1.0", "churn@v3.1.1", "churn@v12", "churn@v13"]
    )
    for tag in tags:
        assert tag_object(lab.root, tag) == ("tag", commit)
    # Another model numbers its versions on its own.
    assert ops.register(ws, "fraud", rid, now=clock(7)).tag == "fraud@v1"
    assert [str(v.version) for v in gitml.search_model_versions("name='churn'", repo=lab.root)] == [
        "v1",
        "v2",
        "v3.1.0",
        "v3.1.1",
        "v12",
        "v13",
    ]


def test_register_picks_the_artifact(lab: Lab, ws: Workspace) -> None:
    only = log_run(lab, {"weights.bin": b"w" * 10})
    with_model = log_run(lab, {"model": {"a.txt": b"a"}, "report.txt": b"r"})
    ambiguous = log_run(lab, {"a.bin": b"a", "b.bin": b"b"})

    # The only artifact, or the one called 'model'.
    assert gitml.register_model("only", only, repo=lab.root).path == "weights.bin"
    mv = gitml.register_model("dir", with_model, repo=lab.root)
    assert (mv.path, mv.is_dir) == ("model", True)
    # runs:/ID/PATH, and --path.
    assert gitml.register_model("pick", f"runs:/{ambiguous}/b.bin", repo=lab.root).path == "b.bin"
    assert gitml.register_model("pick", ambiguous, path="a.bin", repo=lab.root).path == "a.bin"
    assert gitml.register_model("pick", f"runs:/{with_model}", path="report.txt", repo=lab.root).path == (
        "report.txt"
    )
    with pytest.raises(UsageError) as info:
        gitml.register_model("pick", ambiguous, repo=lab.root)
    assert "a.bin, b.bin" in info.value.message
    assert info.value.hint is not None and f"runs:/{ambiguous}/PATH" in info.value.hint
    with pytest.raises(UsageError, match="contradicts"):
        gitml.register_model("pick", f"runs:/{ambiguous}/a.bin", path="b.bin", repo=lab.root)
    with pytest.raises(NotFoundError) as missing:
        gitml.register_model("pick", ambiguous, path="c.bin", repo=lab.root)
    assert_exit(missing.value, 4)
    assert "a.bin, b.bin" in missing.value.message
    assert sorted(tag_refs(lab.root)) == ["dir@v1", "only@v1", "pick@v1", "pick@v2", "pick@v3"]


def test_register_refuses_runs_that_are_not_committed(lab: Lab, ws: Workspace) -> None:
    loose = log_run(lab, {"model.json": b"{}"}, commit=False)
    with pytest.raises(UsageError) as info:
        ops.register(ws, "churn", loose)
    assert_exit(info.value, 2)
    assert "not committed" in info.value.message
    assert info.value.hint is not None and info.value.hint.startswith(f"gitml runs commit {loose}")

    # An artifact logged after the run was committed: the commit does not hold it.
    committed = log_run(lab, {"model.json": b"{}"})
    (lab.root.parent / "late.bin").write_bytes(b"late")
    with gitml.start_run(run_id=committed):
        gitml.log_artifact(lab.root.parent / "late.bin")
    with pytest.raises(UsageError) as late:
        ops.register(ws, "churn", committed, path="late.bin")
    assert "logged but not committed" in late.value.message
    assert late.value.hint is not None and late.value.hint.startswith(f"gitml runs commit {committed}")

    with pytest.raises(RunNotFoundError) as unknown:
        ops.register(ws, "churn", "01zzzzzzzzzzzzzzzzzzzzzzzz")
    assert_exit(unknown.value, 4)
    assert tag_refs(lab.root) == {}
    # Committing makes both registrable.
    gm(lab.root, "runs", "commit", loose, committed)
    assert ops.register(ws, "churn", loose).tag == "churn@v1"
    assert ops.register(ws, "churn", committed, path="late.bin").tag == "churn@v2"


def test_register_refuses_a_version_that_exists(lab: Lab, ws: Workspace) -> None:
    rid = log_run(lab, {"model.json": b"{}"})
    ops.register(ws, "churn", rid, version="v1.0.0", now=clock(1))
    before = tag_refs(lab.root)
    for asked in ("v1.0.0", "1.0.0"):
        with pytest.raises(ConflictError) as info:
            ops.register(ws, "churn", rid, version=asked, now=clock(2))
        assert_exit(info.value, 11)
        assert info.value.refs == ("churn@v1.0.0",)
        assert "already exists" in info.value.message
    assert tag_refs(lab.root) == before
    # Through the CLI: exit 11, one clear line.
    proc = gm(lab.root, "register", "churn", rid, "--version", "v1.0.0", code=11)
    assert proc.stderr.startswith("Error: version v1.0.0 of 'churn' already exists (churn@v1.0.0 on commit ")
    assert tag_refs(lab.root) == before


def test_register_refuses_a_version_taken_by_a_lightweight_tag(lab: Lab, ws: Workspace) -> None:
    rid = log_run(lab, {"model.json": b"{}"})
    git(lab.root, "tag", "churn@v5")  # made by hand, not annotated
    with pytest.raises(ConflictError) as info:
        ops.register(ws, "churn", rid, version="v5")
    assert info.value.refs == ("churn@v5",)


def test_registration_tag_message_tagger_and_time(lab: Lab, ws: Workspace) -> None:
    data = b'{"w": [1, 2, 3]}'
    rid = log_run(lab, {"model.json": data})
    entry = artifacts_yaml(lab.root, rid)["model.json"]
    result = ops.register(ws, "churn", rid, description="first: try #1", now=clock(42))
    assert result.tag == "churn@v1" and result.pushed_to is None
    subject, fields = tag_fields(lab.root, "churn@v1")
    assert subject == f"Register churn v1 (run {rid}, model.json)"
    assert fields == {
        "gitml": "registration",
        "name": "churn",
        "version": "v1",
        "run": rid,
        "path": "model.json",
        "hash": entry["hash"],
        "size": entry["size"],
        "type": "file",
        "remote": str(lab.storage),
        "by": ADA,
        "at": utc_iso(T0 + 42),
        "description": "first: try #1",
    }
    assert (entry["hash"], entry["size"]) == (f"sha256:{sha(data)}", len(data))
    assert tagger(lab.root, "churn@v1") == (ADA, T0 + 42)
    mv = gitml.get_model_version("churn", "v1", repo=lab.root)
    assert (mv.run_id, mv.path, mv.hash, mv.size, mv.remote) == (
        rid,
        "model.json",
        entry["hash"].removeprefix("sha256:"),
        entry["size"],
        str(lab.storage),
    )
    assert (mv.registered_by, mv.registered_at, mv.description) == (ADA, T0 + 42, "first: try #1")
    # git itself finds nothing wrong with the tag objects gitml writes.
    git(lab.root, "fsck", "--strict", "--no-dangling")


def test_registration_never_records_credentials(
    lab: Lab, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage URL with credentials cannot be configured; secrets in the environment never reach a tag."""
    secret = "Zx9-very-secret-token-0f3a"
    for key in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.setenv(key, secret)
    with pytest.raises(GitMLError) as refused:
        api.remote_add("creds", f"s3://AKIA:{secret}@bucket/x", repo=lab.root)
    assert secret not in str(refused.value) + str(refused.value.hint)
    rid = log_run(lab, {"model.json": b"{}"})
    # Nor by hand, in the per-machine config: registering then refuses, without repeating the secret.
    local = lab.root / ".gitml" / "config.local.yaml"
    local.write_text(f'remotes:\n  creds: {{url: "s3://AKIA:{secret}@bucket/x"}}\ndefault_remote: creds\n')
    with pytest.raises(GitMLError) as hand_made:
        ops.register(ws, "churn", rid)
    assert secret not in str(hand_made.value) + str(hand_made.value.hint)
    assert tag_refs(lab.root) == {}
    local.unlink()
    ws = Workspace.find(lab.root)  # the config is read once per workspace
    ops.register(ws, "churn", rid)
    message = git(lab.root, "cat-file", "-p", "churn@v1")
    assert secret not in message
    assert tag_fields(lab.root, "churn@v1")[1]["remote"] == str(lab.storage)


# -- promote -----------------------------------------------------------------------------------------


def test_promote_numbers_each_stage(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    v1_commit = tag_object(lab.root, "churn@v1")[1]
    v2_commit = tag_object(lab.root, "churn@v2")[1]
    assert v1_commit != v2_commit
    made = [
        ops.promote(ws, "churn", "v1", "production", now=clock(10)),
        ops.promote(ws, "churn", "2", "staging", now=clock(11)),
        ops.promote(ws, "churn", "v2", "production", description="better auc", now=clock(12)),
        ops.promote(ws, "churn", "v1", "staging", now=clock(13)),
    ]
    assert [(r.tag, str(r.version), r.stage) for r in made] == [
        ("churn#production#1", "v1", "production"),
        ("churn#staging#1", "v2", "staging"),
        ("churn#production#2", "v2", "production"),
        ("churn#staging#2", "v1", "staging"),
    ]
    # A stage tag sits on the version's commit, made as git tag -a would.
    assert tag_object(lab.root, "churn#production#2") == ("tag", v2_commit)
    assert tag_object(lab.root, "churn#staging#2") == ("tag", v1_commit)
    subject, fields = tag_fields(lab.root, "churn#production#2")
    assert subject == "Promote churn v2 to production"
    assert fields == {
        "gitml": "promotion",
        "name": "churn",
        "version": "v2",
        "stage": "production",
        "by": ADA,
        "at": utc_iso(T0 + 12),
        "description": "better auc",
    }
    assert tagger(lab.root, "churn#staging#2") == (ADA, T0 + 13)
    assert gitml.get_model_version("churn", "production", repo=lab.root).version == made[2].version
    assert str(gitml.get_model_version("churn", "staging", repo=lab.root).version) == "v1"

    # Promoting the holder again does nothing; --force records it once more.
    before = tag_refs(lab.root)
    again = ops.promote(ws, "churn", "v2", "production", now=clock(14))
    assert (again.tag, again.note) == (None, "already holds production")
    assert tag_refs(lab.root) == before
    forced = ops.promote(ws, "churn", "v2", "production", force=True, now=clock(15))
    assert forced.tag == "churn#production#3"
    assert tag_refs(lab.root) == {**before, "churn#production#3": tag_refs(lab.root)["churn#production#3"]}


def test_promote_refuses_unknown_versions_models_and_bad_stages(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    with pytest.raises(VersionNotFoundError) as version:
        ops.promote(ws, "churn", "v9", "production")
    assert_exit(version.value, 4)
    assert "has no version v9" in version.value.message
    assert version.value.hint is not None and "v1, v2" in version.value.hint
    with pytest.raises(ModelNotFoundError) as model:
        ops.promote(ws, "fraud", "v1", "production")
    assert_exit(model.value, 4)
    assert model.value.hint is not None and "gitml models list" in model.value.hint
    for stage in ("latest", "deprecated", "v2", "3", "Prod", "a b", "", "-x", "a#b", "a!"):
        with pytest.raises(InvalidNameError):
            ops.promote(ws, "churn", "v1", stage)
    assert sorted(tag_refs(lab.root)) == ["churn@v1", "churn@v2"]


def test_promoting_a_deprecated_version_needs_force(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    ops.deprecate(ws, "churn", "v1", now=clock(5))
    before = tag_refs(lab.root)
    with pytest.raises(UsageError) as info:
        ops.promote(ws, "churn", "v1", "production")
    assert "deprecated" in info.value.message
    assert info.value.hint is not None and "--force" in info.value.hint
    assert tag_refs(lab.root) == before
    forced = ops.promote(ws, "churn", "v1", "production", force=True, now=clock(6))
    after = tag_refs(lab.root)
    # --force adds the promotion and nothing else: the deprecation stays.
    assert after == {**before, "churn#production#1": after["churn#production#1"]}
    assert forced.tag == "churn#production#1"
    mv = gitml.get_model_version("churn", "v1", repo=lab.root)
    assert mv.deprecated
    res = resolve_in_repo(ws, "models:/churn/production")
    assert str(res.version.version) == "v1"
    assert any("deprecated" in w for w in res.warnings)


# -- demote ------------------------------------------------------------------------------------------


def test_demote_empties_the_stage(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    ops.promote(ws, "churn", "v1", "production", now=clock(10))
    ops.promote(ws, "churn", "v2", "staging", now=clock(11))
    result = ops.demote(ws, "churn", "production", description="rollback", now=clock(12))
    assert (result.tag, str(result.version), result.stage) == ("churn#production!#2", "v1", "production")
    assert tag_object(lab.root, "churn#production!#2") == ("tag", tag_object(lab.root, "churn@v1")[1])
    subject, fields = tag_fields(lab.root, "churn#production!#2")
    assert subject == "Demote churn v1 from production"
    assert (fields["gitml"], fields["version"], fields["stage"], fields["at"]) == (
        "demotion",
        "v1",
        "production",
        utc_iso(T0 + 12),
    )
    with pytest.raises(VersionNotFoundError) as info:
        resolve_in_repo(ws, "models:/churn/production")
    assert "was demoted" in info.value.message
    assert info.value.hint is not None and "stages held: staging" in info.value.hint
    with pytest.raises(VersionNotFoundError, match="was demoted"):
        gitml.get_model_version("churn", "production", repo=lab.root)
    # The other stage is untouched; nobody holds production now.
    assert str(resolve_in_repo(ws, "models:/churn/staging").version.version) == "v2"
    before = tag_refs(lab.root)
    for stage in ("production", "canary"):
        with pytest.raises(NotFoundError) as nobody:
            ops.demote(ws, "churn", stage)
        assert_exit(nobody.value, 4)
        assert f"holds stage {stage!r}" in nobody.value.message
    with pytest.raises(ModelNotFoundError):
        ops.demote(ws, "fraud", "production")
    assert tag_refs(lab.root) == before
    # Promoting again continues the numbering after the demotion.
    assert ops.promote(ws, "churn", "v1", "production", now=clock(13)).tag == "churn#production#3"
    assert str(resolve_in_repo(ws, "models:/churn/production").version.version) == "v1"


# -- deprecate ---------------------------------------------------------------------------------------


def test_deprecate(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    ops.promote(ws, "churn", "v2", "production", now=clock(10))
    assert str(resolve_in_repo(ws, "models:/churn/latest").version.version) == "v2"
    before = tag_refs(lab.root)
    with pytest.raises(UsageError) as info:
        ops.deprecate(ws, "churn", "v2")
    assert "holds production" in info.value.message
    assert info.value.hint == "demote it first: gitml demote churn production"
    assert tag_refs(lab.root) == before

    result = ops.deprecate(ws, "churn", "v2", force=True, description="leaks labels", now=clock(11))
    assert result.tag == "churn@v2!"
    assert tag_object(lab.root, "churn@v2!") == ("tag", tag_object(lab.root, "churn@v2")[1])
    subject, fields = tag_fields(lab.root, "churn@v2!")
    assert subject == "Deprecate churn v2"
    assert (fields["gitml"], fields["version"], fields["description"]) == (
        "deprecation",
        "v2",
        "leaks labels",
    )
    # latest skips it; the stage no longer resolves to it; twice is a no-op.
    assert str(resolve_in_repo(ws, "models:/churn/latest").version.version) == "v1"
    assert str(gitml.get_model_version("churn", "latest", repo=lab.root).version) == "v1"
    assert gitml.get_model_version("churn", "v2", repo=lab.root).deprecated
    # Deprecated after its promotion, it holds the stage no more: resolving the stage says so.
    with pytest.raises(VersionNotFoundError) as gone:
        resolve_in_repo(ws, "models:/churn/production")
    assert str(gone.value) == "stage 'production' of model 'churn' is held by v2, which is deprecated"
    after = tag_refs(lab.root)
    again = ops.deprecate(ws, "churn", "v2", now=clock(12))
    assert (again.tag, again.note) == (None, "already deprecated")
    assert tag_refs(lab.root) == after
    # Everything deprecated: latest names nothing.
    ops.deprecate(ws, "churn", "v1", now=clock(13))
    with pytest.raises(VersionNotFoundError) as none_left:
        resolve_in_repo(ws, "models:/churn/latest")
    assert "deprecated" in none_left.value.message


def test_no_tag_is_ever_moved_or_deleted(lab: Lab, ws: Workspace) -> None:
    """A model's life, failures included: after every step each earlier tag is still there, as it was."""
    r1, r2 = two_versions(lab, ws)
    seen: dict[str, str] = {}

    def check() -> None:
        now = tag_refs(lab.root)
        for tag, oid in seen.items():
            assert now.get(tag) == oid, f"{tag} moved or vanished"
        seen.update(now)

    steps: list[Callable[[], object]] = [
        lambda: ops.promote(ws, "churn", "v1", "production", now=clock(10)),
        lambda: ops.promote(ws, "churn", "v1", "production", now=clock(11)),  # no-op
        lambda: ops.register(ws, "churn", r1, version="v2", now=clock(12)),  # conflict
        lambda: ops.promote(ws, "churn", "v2", "production", now=clock(13)),
        lambda: ops.deprecate(ws, "churn", "v2", now=clock(14)),  # refused: holds production
        lambda: ops.demote(ws, "churn", "production", now=clock(15)),
        lambda: ops.demote(ws, "churn", "production", now=clock(16)),  # nobody holds it
        lambda: ops.deprecate(ws, "churn", "v2", now=clock(17)),
        lambda: ops.promote(ws, "churn", "v2", "production", now=clock(18)),  # refused: deprecated
        lambda: ops.promote(ws, "churn", "v2", "production", force=True, now=clock(19)),
        lambda: ops.register(ws, "churn", r2, now=clock(20)),
        lambda: ops.promote(ws, "churn", "v3", "production", now=clock(21)),
    ]
    check()
    for step in steps:
        try:
            step()
        except GitMLError:
            pass
        check()
    assert sorted(seen) == sorted(
        [
            "churn@v1",
            "churn@v2",
            "churn@v2!",
            "churn@v3",
            "churn#production#1",
            "churn#production#2",
            "churn#production!#3",
            "churn#production#4",
            "churn#production#5",
        ]
    )
    history = [
        (e.kind.value, str(e.version), e.stage, e.tag) for e in api.model_history("churn", repo=lab.root)[0]
    ]
    assert history == [
        ("registration", "v1", None, "churn@v1"),
        ("registration", "v2", None, "churn@v2"),
        ("promotion", "v1", "production", "churn#production#1"),
        ("promotion", "v2", "production", "churn#production#2"),
        ("demotion", "v2", "production", "churn#production!#3"),
        ("deprecation", "v2", None, "churn@v2!"),
        ("promotion", "v2", "production", "churn#production#4"),
        ("registration", "v3", None, "churn@v3"),
        ("promotion", "v3", "production", "churn#production#5"),
    ]
    git(lab.root, "fsck", "--strict", "--no-dangling")


# -- the Python API ----------------------------------------------------------------------------------


def test_python_api(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    r1 = log_run(lab, {"model.json": b"1"}, name="first")
    r2 = log_run(lab, {"model.json": b"22"}, name="second")
    monkeypatch.chdir(lab.root)  # repo=None: the current directory
    mv1 = gitml.register_model("churn", f"runs:/{r1}/model.json", description="baseline")
    assert isinstance(mv1, gitml.ModelVersion)
    assert (mv1.name, str(mv1.version), mv1.tag, mv1.run_id, mv1.size, mv1.description) == (
        "churn",
        "v1",
        "churn@v1",
        r1,
        1,
        "baseline",
    )
    assert mv1.uri == "models:/churn/v1"
    assert mv1.commit == tag_object(lab.root, "churn@v1")[1]
    mv2 = gitml.register_model("churn", "second")  # a run name works too
    assert (str(mv2.version), mv2.run_id, mv2.size) == ("v2", r2, 2)

    promoted = gitml.promote("churn", 1, "production")
    assert (promoted.tag, str(promoted.version), promoted.stage) == ("churn#production#1", "v1", "production")
    assert promoted.to_dict()["tag"] == "churn#production#1"
    assert gitml.promote("churn", "v2", "staging").tag == "churn#staging#1"
    for ref in ("v1", "1", 1, "production"):
        assert str(gitml.get_model_version("churn", ref).version) == "v1", ref
    assert str(gitml.get_model_version("churn", "latest").version) == "v2"
    assert gitml.get_model_version("churn", "staging").stages == ("staging",)
    assert gitml.demote("churn", "staging").tag == "churn#staging!#2"
    assert gitml.deprecate("churn", 2).tag == "churn@v2!"
    assert str(gitml.get_model_version("churn", "latest").version) == "v1"
    assert gitml.get_model_version("churn", "v2", repo=lab.root).deprecated

    with pytest.raises(VersionNotFoundError):
        gitml.get_model_version("churn", "v7")
    with pytest.raises(VersionNotFoundError, match="held by no version"):
        gitml.get_model_version("churn", "canary")
    with pytest.raises(ModelNotFoundError):
        gitml.get_model_version("fraud", "latest")
    with pytest.raises(InvalidNameError):
        gitml.get_model_version("churn", "Prod")
    with pytest.raises(InvalidNameError):
        gitml.register_model("Churn", r1)


def test_a_version_holding_two_stages_lists_both(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    ops.promote(ws, "churn", "v2", "production")
    ops.promote(ws, "churn", "v2", "staging")
    [v2] = [v for v in gitml.search_model_versions("name='churn'", repo=lab.root) if str(v.version) == "v2"]
    assert v2.stages == ("production", "staging")


def test_get_model_version_by_number_says_which_stages_it_holds(lab: Lab, ws: Workspace) -> None:
    two_versions(lab, ws)
    ops.promote(ws, "churn", "v1", "production")
    assert gitml.get_model_version("churn", "v1", repo=lab.root).stages == ("production",)


def test_api_calls_close_the_repository(tmp_path: Path) -> None:
    origin = init_bare(tmp_path / "origin.git")
    lab = make_lab(tmp_path / "repo", storage=tmp_path / "storage", origin=str(origin))
    rid = log_run(lab, {"model.json": b"{}"})
    ops.register(Workspace.find(lab.root), "churn", rid)
    lab.push_git()
    other = clone(origin.as_uri(), tmp_path / "other")  # file://: objects arrive in a pack
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert str(api.resolve_model("models:/churn/v1", repo=other, offline=True).version.version) == "v1"
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_search_model_versions(lab: Lab, ws: Workspace) -> None:
    r1 = log_run(lab, {"model.json": b"1"})
    r2 = log_run(lab, {"model.json": b"2"})
    for name, rid in (("churn", r1), ("churn", r2), ("churn-eu", r1), ("fraud", r2)):
        ops.register(ws, name, rid)

    def found(filter_string: str | None) -> list[str]:
        return [f"{m.name}@{m.version}" for m in gitml.search_model_versions(filter_string, repo=lab.root)]

    everything = ["churn@v1", "churn@v2", "churn-eu@v1", "fraud@v1"]
    assert found(None) == everything
    assert found("") == everything
    assert found("name='churn'") == ["churn@v1", "churn@v2"]
    assert found(f"name = 'churn' AND run_id = '{r2}'") == ["churn@v2"]
    assert found(f"run_id='{r1}'") == ["churn@v1", "churn-eu@v1"]
    assert found("name != 'churn'") == ["churn-eu@v1", "fraud@v1"]
    assert found("name LIKE 'churn%'") == ["churn@v1", "churn@v2", "churn-eu@v1"]
    assert found("name LIKE 'CHURN%'") == []
    assert found("name ILIKE 'CHURN%'") == ["churn@v1", "churn@v2", "churn-eu@v1"]
    assert found("name like 'f_aud' and version = 'v1'") == ["fraud@v1"]
    assert found("version != 'v1'") == ["churn@v2"]
    assert found("name='nothing'") == []
    assert found("name='churn' AND name='fraud'") == []
    for bad in (
        "name = churn",
        "name > 'a'",
        "stage = 'production'",
        "name='churn' OR name='fraud'",
        "name='churn' AND",
        "metrics.acc > 0.9",
    ):
        with pytest.raises(InvalidNameError) as info:
            gitml.search_model_versions(bad, repo=lab.root)
        assert info.value.hint is not None and "name='churn'" in info.value.hint


# -- directory models --------------------------------------------------------------------------------

FOLDER = {
    "model.pkl": bytes(range(256)) * 40,
    "config.json": b'{"layers": 3}\n',
    "vocab/words.txt": b"a\nb\nc\n",
    "vocab/deep/empty.bin": b"",
}


def test_directory_models_round_trip(tmp_path: Path) -> None:
    origin = init_bare(tmp_path / "origin.git")
    lab = make_lab(tmp_path / "repo", storage=tmp_path / "storage", origin=str(origin))
    # One folder logged from Python, one written by a command run with --artifact DIR.
    logged = log_run(lab, {"model": FOLDER})
    script = (
        "import pathlib\n"
        "for rel, data in " + repr(FOLDER) + ".items():\n"
        "    p = pathlib.Path('out') / rel\n"
        "    p.parent.mkdir(parents=True, exist_ok=True)\n"
        "    p.write_bytes(data)\n"
    )
    proc = gm(lab.root, "run", "--commit", "--artifact", "out", "--", sys.executable, "-c", script)
    ran = proc.stderr.split("gitml: run ", 1)[1].split()[0]
    a = gitml.register_model("bundle", logged, repo=lab.root)
    b = gitml.register_model("bundle", ran, repo=lab.root)
    assert (a.path, a.is_dir, b.path, b.is_dir) == ("model", True, "out", True)
    assert a.hash == b.hash == artifacts_yaml(lab.root, logged)["model"]["hash"].removeprefix("sha256:")
    gitml.promote("bundle", "v2", "production", repo=lab.root)
    assert api.push(repo=lab.root).ok
    lab.push_git()

    gm(lab.root, "get", "models:/bundle/v1", "-o", "got-v1")
    assert tree(lab.root / "got-v1") == FOLDER
    ci = clone(origin.as_uri(), tmp_path / "ci", "--depth", "1", "--no-tags")
    proc = gm(ci, "get", "models:/bundle/production", "-o", "got")
    assert proc.stdout.startswith("Wrote got (4 file(s), ")
    assert tree(ci / "got") == FOLDER
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    gm(nowhere, "get", "models:/bundle/latest", "--repo", str(origin), "-o", "direct")
    assert tree(nowhere / "direct") == FOLDER
    gm(nowhere, "get", "models:/bundle/v1", "--repo", origin.as_uri())  # no -o: the folder's own name
    assert tree(nowhere / "model") == FOLDER

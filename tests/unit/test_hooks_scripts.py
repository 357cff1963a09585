"""The pure parts of the hooks: shim scripts, pre-push input, binary detection, .gitml/ file checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from gitml.exceptions import UsageError
from gitml.hooks.precommit import BINARY_PROBE, check_gitml_file, is_binary
from gitml.hooks.prepush import RefUpdate, framework_updates, parse_push_lines
from gitml.hooks.runner import framework_mode, wants_stdin
from gitml.hooks.scripts import HOOK_NAMES, chained_path, is_gitml_hook, render, sh_quote

ROOT = Path(__file__).resolve().parents[2]
A = "a" * 40
B = "b" * 40
Z = "0" * 40

# -- shims ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_the_hooks_folder_holds_the_portable_shims(name: str) -> None:
    """hooks/<name> is what `gitml hooks install` writes, minus the recorded interpreter."""
    path = ROOT / "hooks" / name
    assert path.read_bytes() == render(name), (
        'regenerate: python -c "from gitml.hooks.scripts import render; import sys; '
        f"sys.stdout.buffer.write(render('{name}'))\" > hooks/{name}"
    )
    assert path.stat().st_mode & 0o111


@pytest.mark.parametrize("name", HOOK_NAMES)
@pytest.mark.parametrize("python", [None, "/opt/py 3/bin/python", "/tmp/it's $HOME `x`\n/python"])
def test_shims_are_valid_sh_and_marked(name: str, python: str | None) -> None:
    script = render(name, python)
    assert is_gitml_hook(script)
    assert script.startswith(b"#!/bin/sh\n")
    assert subprocess.run(["sh", "-n"], input=script, check=False).returncode == 0


@pytest.mark.parametrize("text", ["plain", "with space", "it's", '$HOME `id` \\ "q"', "new\nline", ""])
def test_sh_quote_gives_back_the_same_word(text: str) -> None:
    out = subprocess.run(
        ["sh", "-c", f"printf %s {sh_quote(text)}"], capture_output=True, text=True, check=True
    ).stdout
    assert out == text


def test_the_shim_runs_the_recorded_interpreter_with_the_arguments() -> None:
    """The shim execs `<python> -c <entry> hooks run --hook-path $0 NAME "$@"`; checked with a fake python."""
    fake = "/bin/echo"
    script = render("pre-push", fake).decode()
    proc = subprocess.run(
        ["sh", "-c", script, "/x/hooks/pre-push", "origin", "url with space"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.endswith(" hooks run --hook-path /x/hooks/pre-push pre-push origin url with space\n")
    assert "sys.path = [p for p in sys.path if p]" in proc.stdout


def test_unknown_hook_names_are_refused() -> None:
    with pytest.raises(ValueError):
        render("update")


def test_a_foreign_hook_is_not_ours() -> None:
    assert not is_gitml_hook(b"#!/bin/sh\nexec pre-commit hook-impl\n")


def test_chained_path_follows_the_hook_name_not_the_file_name() -> None:
    assert chained_path("/r/.git/hooks/pre-push.legacy", "pre-push") == Path(
        "/r/.git/hooks/pre-push.pre-gitml"
    )


# -- pre-push input -----------------------------------------------------------------------------------


def test_parse_push_lines() -> None:
    data = (
        f"refs/heads/main {A} refs/heads/main {B}\n"
        f"\n"
        f"(delete) {Z} refs/heads/old {B}\n"
        f"refs/tags/churn@v3 {A} refs/tags/churn@v3 {Z}\n"
    ).encode()
    updates = parse_push_lines(data)
    assert updates[0] == RefUpdate("refs/heads/main", A, "refs/heads/main", B)
    assert [u.is_delete for u in updates] == [False, True, False]
    assert [u.is_new for u in updates] == [False, False, True]


def test_parse_push_lines_accepts_sha256_and_nothing() -> None:
    assert parse_push_lines(f"HEAD {'c' * 64} refs/heads/x {'0' * 64}\n".encode())[0].is_new
    assert parse_push_lines(b"") == []


@pytest.mark.parametrize("line", ["refs/heads/main abc refs/heads/main def", "only three fields here", A])
def test_parse_push_lines_refuses_what_git_does_not_write(line: str) -> None:
    with pytest.raises(UsageError):
        parse_push_lines(line.encode())


def test_framework_updates() -> None:
    env = {"PRE_COMMIT_TO_REF": A, "PRE_COMMIT_FROM_REF": B, "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x"}
    assert framework_updates(env) == [RefUpdate("refs/heads/x", A, "", B)]
    new_history = framework_updates({"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x"})
    assert new_history[0].local_sha == "refs/heads/x" and new_history[0].is_new
    assert framework_updates({}) == []


def test_framework_mode_and_stdin() -> None:
    env = {"PRE_COMMIT_REMOTE_NAME": "origin"}
    assert framework_mode("pre-push", [], env)
    assert not wants_stdin("pre-push", [], env)
    assert wants_stdin("pre-push", ["origin", "url"], env)
    assert not wants_stdin("post-merge", ["0"], {})


# -- pre-commit ---------------------------------------------------------------------------------------


def test_is_binary_looks_at_the_first_8000_bytes_as_git_does() -> None:
    assert is_binary(b"abc\0def")
    assert not is_binary(b"plain text\n" * 10)
    assert not is_binary(b"x" * BINARY_PROBE + b"\0")
    assert is_binary(b"x" * (BINARY_PROBE - 1) + b"\0")
    assert not is_binary(b"")


RUN = "01jabcdefghjkmnpqrstvwxyz0"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("run.yaml", b"id: [unclosed\n"),
        ("params.yaml", b"- a list\n"),
        ("metrics.csv", b"key,value,step,timestamp\nloss,abc,1,2\n"),
        ("artifacts.yaml", b"a.txt: {hash: sha256:zz, size: 1}\n"),
    ],
)
def test_broken_run_files_are_named(name: str, data: bytes) -> None:
    reason = check_gitml_file(f".gitml/runs/{RUN}/{name}", data)
    assert reason is not None and name in reason


def test_good_and_unrelated_gitml_files_pass() -> None:
    assert check_gitml_file(f".gitml/runs/{RUN}/params.yaml", b"lr: 0.1\n") is None
    assert check_gitml_file(f".gitml/runs/{RUN}/metrics.csv", b"key,value,step,timestamp\nl,1,0,5\n") is None
    assert check_gitml_file(f".gitml/runs/{RUN}/output.log", b"\0anything") is None
    assert check_gitml_file(".gitml/.gitignore", b"cache/\n") is None
    assert check_gitml_file(".gitml/config.yaml", b"format: 1\nhooks: {max_file_size: 5MiB}\n") is None


def test_config_files() -> None:
    assert "not valid YAML" in (check_gitml_file(".gitml/config.yaml", b"a: [") or "")
    bad_remote = b"remotes: {s: {url: 's3://b', secret_access_key: x}}\n"
    assert "credentials" in (check_gitml_file(".gitml/config.yaml", bad_remote) or "")
    assert "never commit it" in (check_gitml_file(".gitml/config.local.yaml", b"{}") or "")


# -- the pre-commit framework's manifest --------------------------------------------------------------


def test_pre_commit_hooks_manifest() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {f"gitml-{name}" for name in HOOK_NAMES}
    for name in HOOK_NAMES:
        hook = by_id[f"gitml-{name}"]
        assert hook["entry"] == f"gitml hooks run {name}"
        assert hook["stages"] == [name]
        assert hook["pass_filenames"] is False and hook["always_run"] is True

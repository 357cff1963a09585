"""Tests for gitml.store.base: key layout, URL checks and redaction, retries and error mapping."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitml.exceptions import ConfigError, IntegrityError, StoreAuthError, StoreError
from gitml.store import base
from gitml.store.base import (
    RemoteSpec,
    check_remote_url,
    is_auth_error,
    is_transient,
    local_root,
    map_error,
    object_key,
    oid_from_key,
    redact,
    retrying,
)

OID = hashlib.sha256(b"x").hexdigest()

# -- keys --------------------------------------------------------------------------------------------------


def test_object_key_layout() -> None:
    assert object_key(OID) == f"sha256/{OID[:2]}/{OID[2:]}"


@pytest.mark.parametrize(
    "key",
    [
        object_key(OID),
        f"bucket/prefix/{object_key(OID)}",
        f"/abs/root/{object_key(OID)}",
        f"{object_key(OID)}/",
    ],
)
def test_oid_from_key(key: str) -> None:
    assert oid_from_key(key) == OID


@pytest.mark.parametrize(
    "key",
    [
        "",
        "sha256",
        f"tmp/{OID}",
        f"sha256/{OID}",
        f"sha256/{OID[:3]}/{OID[3:]}",
        f"sha256/{OID[:1]}/{OID[1:]}",
        f"md5/{OID[:2]}/{OID[2:]}",
        f"sha256/{OID[:2]}/{OID[2:]}.tmp",
        f"sha256/{OID[:2].upper()}/{OID[2:]}",
        f"sha256/{OID[:2]}/{OID[2:-1]}",
        f"sha256/zz/{OID[2:]}",
    ],
)
def test_oid_from_key_refuses_anything_else(key: str) -> None:
    assert oid_from_key(key) is None


def test_key_round_trip_for_many_oids() -> None:
    for i in range(50):
        oid = hashlib.sha256(str(i).encode()).hexdigest()
        assert oid_from_key(object_key(oid)) == oid


# -- redact ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3://user:pass@bucket/x", "s3://bucket/x"),
        ("https://AKIA123:s3cr3t@minio:9000/b", "https://minio:9000/b"),
        ("http://token@host/", "http://host/"),
        ("failed: GET https://u:p@h/a and https://v:q@i/b", "failed: GET https://h/a and https://i/b"),
        ("s3://bucket/x", "s3://bucket/x"),
        ("no url here", "no url here"),
        ("/local/path@v1", "/local/path@v1"),
    ],
)
def test_redact_strips_userinfo(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /b/k?X-Amz-Security-Token=FQoGZXIvYXdzE&X-Amz-Date=1", "FQoGZXIvYXdzE"),
        ("GET /b/k?X-Amz-Signature=abcdef0123&x=1", "abcdef0123"),
        ("config: secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG"),
        ("aws_secret_access_key = wJalrXUtnFEMI", "wJalrXUtnFEMI"),
        ('{"SecretAccessKey": "wJalrXUtnFEMI"}', "wJalrXUtnFEMI"),
        ("password='hunter2'", "hunter2"),
        ("session_token=IQoJb3JpZ2luX2Vj", "IQoJb3JpZ2luX2Vj"),
        ("secret=abc", "abc"),
    ],
)
def test_redact_hides_secret_parameters(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "***" in out


def test_redact_keeps_ordinary_words() -> None:
    text = "SignatureDoesNotMatch: The request signature we calculated does not match; token expired"
    assert redact(text) == text


# -- check_remote_url / local_root --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["s3://bucket", "s3://bucket/prefix/x", "/abs/path", "file:///abs/path", "gs://b/p", "https://h:9000/b"],
)
def test_check_remote_url_accepts(url: str) -> None:
    assert check_remote_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["s3://user:secret@bucket", "s3://AKIA:secret@bucket/x", "https://u:p@host/x", "s3://token@bucket"],
)
def test_check_remote_url_refuses_credentials_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_remote_url(url)
    assert "must not contain credentials" in str(info.value)
    assert "secret" not in str(info.value) and ":p@" not in str(info.value)
    assert info.value.hint is not None and "config.local.yaml" in info.value.hint
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("relative/path", "must be an absolute path"),
        ("./remote", "must be an absolute path"),
        ("remote", "must be an absolute path"),
        ("-x", "invalid remote URL '-x'"),
        ("--upload-pack=evil", "invalid remote URL"),
        ("s3://bucket\n", "invalid remote URL"),
        ("s3://bu\ncket", "invalid remote URL"),
        ("/abs\x00/x", "invalid remote URL"),
        ("", "invalid remote URL ''"),
        (" /abs", "invalid remote URL"),
        ("file://rel/path", "file URL must be absolute"),
    ],
)
def test_check_remote_url_refuses(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_remote_url(url)
    assert fragment in str(info.value)


def test_local_root() -> None:
    assert local_root("/abs/remote") == Path("/abs/remote")
    assert local_root("file:///abs/remote") == Path("/abs/remote")
    assert local_root("s3://bucket/x") is None
    assert local_root("https://host/x") is None


@pytest.mark.parametrize("url", ["file://rel", "file://host/path", "file://"])
def test_local_root_refuses_non_absolute_file_urls(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        local_root(url)
    assert repr(url) in str(info.value)
    assert "file:///path" in str(info.value)


def test_local_root_refuses_relative_paths() -> None:
    with pytest.raises(ConfigError) as info:
        local_root("remote/dir")
    assert "'remote/dir'" in str(info.value)
    assert info.value.hint is not None


def test_remote_spec_is_local() -> None:
    assert RemoteSpec("o", "/abs").is_local
    assert RemoteSpec("o", "file:///abs").is_local
    assert not RemoteSpec("o", "s3://b").is_local


# -- error classification and mapping ---------------------------------------------------------------------


class NoCredentialsError(Exception):
    """Stands for botocore's, matched by name."""


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError("denied"),
        NoCredentialsError("Unable to locate credentials"),
        OSError("An error occurred (InvalidAccessKeyId) when calling PutObject"),
        OSError("An error occurred (SignatureDoesNotMatch)"),
        OSError("403 Forbidden"),
        OSError("An error occurred (ExpiredToken)"),
    ],
)
def test_auth_errors_are_recognised_and_not_transient(exc: Exception) -> None:
    assert is_auth_error(exc)
    assert not is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionError("reset by peer"),
        ConnectionResetError(),
        TimeoutError(),
        OSError("503 Service Unavailable"),
        OSError("An error occurred (SlowDown)"),
        OSError("read timed out"),
        RuntimeError("500 Internal Server Error"),
    ],
)
def test_transient_errors(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError("gone"),
        IsADirectoryError(),
        ValueError("bad"),
        IntegrityError("corrupt"),
        KeyError("x"),
    ],
)
def test_not_transient(exc: Exception) -> None:
    assert not is_transient(exc)


def test_map_error_keeps_gitml_errors() -> None:
    err = IntegrityError("corrupt")
    assert map_error(err, url="s3://b", action="upload") is err


def test_map_error_never_shows_userinfo_or_secrets() -> None:
    exc = ConnectionError(
        "Could not connect to https://AKIA:s3cr3t@minio/b?X-Amz-Security-Token=TOKEN123\nsecond line secret"
    )
    err = map_error(exc, url="s3://AKIA:s3cr3t@bucket", action="upload")
    assert isinstance(err, StoreError)
    message = str(err)
    for secret in ("AKIA", "s3cr3t", "TOKEN123", "second line"):
        assert secret not in message, message
    assert message.startswith("s3://bucket: upload failed: Could not connect to https://minio/b")


def test_map_error_auth_names_the_cause_not_the_text() -> None:
    err = map_error(
        PermissionError("denied: secret_access_key=wJalr"), url="s3://u:pw@bucket", action="download"
    )
    assert isinstance(err, StoreAuthError)
    assert str(err) == "s3://bucket: download refused: credentials rejected or missing (PermissionError)"
    assert err.hint is not None
    assert err.exit_code == 9


# -- retrying -----------------------------------------------------------------------------------------------


class Flaky:
    """Raises the given exceptions in turn, then returns 'ok'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retrying_returns_at_once_on_success() -> None:
    sleeps: list[float] = []
    func = Flaky()
    assert retrying(func, url="s3://b", action="upload", sleep=sleeps.append) == "ok"
    assert func.calls == 1
    assert sleeps == []


def test_retrying_retries_a_transient_error_then_succeeds() -> None:
    sleeps: list[float] = []
    func = Flaky(ConnectionError("reset"), TimeoutError("slow"))
    assert retrying(func, url="s3://b", action="upload", sleep=sleeps.append, base=0.2, cap=5.0) == "ok"
    assert func.calls == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.2
    assert 0 <= sleeps[1] <= 0.4


def test_retrying_backoff_is_exponential_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[tuple[float, float]] = []

    def upper(lo: float, hi: float) -> float:
        bounds.append((lo, hi))
        return hi

    monkeypatch.setattr(base.random, "uniform", upper)
    sleeps: list[float] = []
    func = Flaky(*[ConnectionError("reset")] * 7)
    assert (
        retrying(func, url="s3://b", action="x", attempts=8, base=0.1, cap=1.0, sleep=sleeps.append) == "ok"
    )
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert all(lo == 0 for lo, _ in bounds), "full jitter: anywhere from 0 up to the bound"


def test_retrying_sleeps_are_jittered_and_bounded() -> None:
    sleeps: list[float] = []
    for _ in range(30):
        func = Flaky(*[ConnectionError("reset")] * 5)
        retrying(func, url="s3://b", action="x", attempts=6, base=0.5, cap=2.0, sleep=sleeps.append)
    assert len(sleeps) == 150
    assert all(0 <= s <= 2.0 for s in sleeps), "never above the cap"
    assert len(set(sleeps)) > 100, "randomised, so many clients do not retry in lockstep"
    assert sum(sleeps) < 150 * 2.0


def test_retrying_gives_up_after_attempts_with_store_error() -> None:
    sleeps: list[float] = []
    func = Flaky(*[ConnectionError("connection refused")] * 10)
    with pytest.raises(StoreError) as info:
        retrying(func, url="s3://bucket", action="upload", attempts=3, sleep=sleeps.append)
    assert func.calls == 3
    assert len(sleeps) == 2
    assert not isinstance(info.value, StoreAuthError)
    assert str(info.value) == "s3://bucket: upload failed: connection refused"
    assert info.value.hint is not None and "rerun to resume" in info.value.hint
    assert isinstance(info.value.__cause__, ConnectionError)
    assert info.value.exit_code == 9


def test_retrying_does_not_retry_permission_errors() -> None:
    sleeps: list[float] = []
    func = Flaky(PermissionError("Access Denied for s3://AKIA:secret@bucket secret=abc"))
    with pytest.raises(StoreAuthError) as info:
        retrying(func, url="s3://AKIA:secret@bucket", action="upload", sleep=sleeps.append)
    assert func.calls == 1
    assert sleeps == []
    assert "secret" not in str(info.value)
    assert "AKIA" not in str(info.value)
    assert "credentials rejected" in str(info.value)


@pytest.mark.parametrize("exc", [ValueError("bad value"), FileNotFoundError("no such key"), KeyError("k")])
def test_retrying_does_not_retry_permanent_errors(exc: Exception) -> None:
    sleeps: list[float] = []
    func = Flaky(exc)
    with pytest.raises(StoreError):
        retrying(func, url="s3://b", action="download", sleep=sleeps.append)
    assert func.calls == 1
    assert sleeps == []


def test_retrying_passes_gitml_errors_through_unchanged() -> None:
    err = IntegrityError("corrupt object")
    with pytest.raises(IntegrityError) as info:
        retrying(Flaky(err), url="s3://b", action="download", sleep=lambda s: None)
    assert info.value is err


def test_retrying_does_not_swallow_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        retrying(Flaky(KeyboardInterrupt()), url="s3://b", action="x", sleep=lambda s: None)

"""Tests for gitml.uri: the ``runs:/<run>/<path>`` grammar (pure)."""

from __future__ import annotations

import pytest

from gitml.exceptions import InvalidNameError
from gitml.uri import RunsURI, parse_uri

RUN = "20260101T120000-a1b2c3"


@pytest.mark.parametrize(
    ("text", "run", "path"),
    [
        (f"runs:/{RUN}/a/b.txt", RUN, "a/b.txt"),
        (f"runs:/{RUN}", RUN, ""),
        (f"runs:/{RUN}/", RUN, ""),
        (f"runs:/{RUN}/model", RUN, "model"),
        (f"runs:/{RUN}/model/", RUN, "model"),
        (f"runs:/{RUN}/dir with spaces/été.bin", RUN, "dir with spaces/été.bin"),
        ("runs:/baseline/model.pkl", "baseline", "model.pkl"),
        ("runs:/a1b2/x", "a1b2", "x"),
        ("runs:/my-run_1.2/x", "my-run_1.2", "x"),
        ("runs:/X/.hidden", "X", ".hidden"),
    ],
)
def test_parse_valid(text: str, run: str, path: str) -> None:
    uri = parse_uri(text)
    assert uri == RunsURI(run, path)
    assert uri.run == run
    assert uri.path == path


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (f"runs:/{RUN}/a/b.txt", f"runs:/{RUN}/a/b.txt"),
        (f"runs:/{RUN}", f"runs:/{RUN}"),
        (f"runs:/{RUN}/", f"runs:/{RUN}"),
        (f"runs:/{RUN}/a/", f"runs:/{RUN}/a"),
    ],
)
def test_str_is_canonical_and_parses_back(text: str, canonical: str) -> None:
    uri = parse_uri(text)
    assert str(uri) == canonical
    assert parse_uri(str(uri)) == uri


def test_child() -> None:
    root = parse_uri(f"runs:/{RUN}")
    assert root.child("a") == RunsURI(RUN, "a")
    assert root.child("a").child("b.txt") == RunsURI(RUN, "a/b.txt")
    assert str(root.child("a").child("b.txt")) == f"runs:/{RUN}/a/b.txt"


@pytest.mark.parametrize(
    "text",
    [
        "runs:/id/../x",
        "runs:/id/..",
        "runs:/id/a/../../x",
        "runs:/id/./x",
        "runs:/id/%2e%2e/x",
        "runs:/id/%2E%2E/x",
        "runs:/id/a%2fb",
        "runs:/id/a\x00b",
        "runs:/id/a\\..\\b",
        "runs:/id/C:\\x",
        "runs:/id/a//b",
        "runs:/id//etc/passwd",
        "runs:/id/a/b.",
        "runs:/id/a\nb",
    ],
)
def test_traversal_in_the_path_is_refused(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_uri(text)
    path = text[len("runs:/id/") :].rstrip("/")
    assert repr(path) in str(info.value), "the offending path is quoted"
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "text",
    [
        "runs:/../x",
        "runs:/./x",
        "runs:/.hidden/x",
        "runs:/-rf/x",
        "runs:/a b/x",
        "runs:/a\x00/x",
        "runs:/%2e%2e/x",
        "runs:/a:b/x",
        "runs:/" + "a" * 129,
        "runs:/",
        "runs:/ /x",
    ],
)
def test_bad_run_refs_are_refused(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_uri(text)
    assert "invalid run id" in str(info.value)
    assert repr(text) in str(info.value)


def test_a_128_character_run_ref_is_accepted() -> None:
    assert parse_uri("runs:/" + "a" * 128).run == "a" * 128


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("s3://bucket/x", "s3"),
        ("models:/m/1", "models"),
        ("file:///etc/passwd", "file"),
        ("http://example.com/x", "http"),
        ("RUNS:/id/x", "RUNS"),
        ("run:/id/x", "run"),
    ],
)
def test_unsupported_schemes_are_refused(text: str, scheme: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_uri(text)
    assert str(info.value) == f"unsupported artifact URI {text!r} (scheme {scheme!r})"
    assert info.value.hint == "use runs:/<run-id>/<path>"


@pytest.mark.parametrize("text", ["", "model.pkl", "/abs/path", "id/x"])
def test_no_scheme_is_refused(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_uri(text)
    assert str(info.value) == f"unsupported artifact URI {text!r}"


@pytest.mark.parametrize("text", ["runs://x", "runs://id/x", "runs:x", "runs:id/x", "runs:"])
def test_malformed_runs_uris_are_refused(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_uri(text)
    assert str(info.value) == f"malformed URI {text!r}"
    assert info.value.hint == "use runs:/<run-id>/<path>"


@pytest.mark.parametrize("value", [None, 1, b"runs:/id/x", ["runs:/id/x"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidNameError, match="unsupported artifact URI"):
        parse_uri(value)  # type: ignore[arg-type]

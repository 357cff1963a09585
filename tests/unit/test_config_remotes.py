"""Tests for the artifact parts of gitml.config: cache options, remotes, secrets, and set_top_level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitml import _yaml
from gitml.artifacts.cache import LINK_TYPES as CACHE_LINK_TYPES
from gitml.config import (
    DEFAULT_CONFIG_TEXT,
    LINK_TYPES,
    ArtifactsConfig,
    RemoteConfig,
    check_no_secrets,
    check_remote_name,
    load_config,
    parse_config,
    set_top_level,
)
from gitml.exceptions import ConfigError

# -- parse_config: cache and remotes -------------------------------------------------------------------


def test_artifact_defaults() -> None:
    artifacts = parse_config({}).artifacts
    assert artifacts == ArtifactsConfig()
    assert artifacts.cache_dir == ".gitml/cache"
    assert artifacts.link == ("reflink", "copy")
    assert artifacts.shared is False
    assert artifacts.jobs is None
    assert artifacts.gc_grace_days == 7.0
    assert artifacts.default_remote is None
    assert artifacts.remotes == {}


def test_default_config_text_gives_artifact_defaults() -> None:
    assert parse_config(_yaml.load(DEFAULT_CONFIG_TEXT)).artifacts == ArtifactsConfig()


def test_link_types_agree_with_the_cache() -> None:
    assert LINK_TYPES == CACHE_LINK_TYPES


def test_cache_options_are_read() -> None:
    artifacts = parse_config(
        {
            "cache": {
                "dir": "/srv/shared-cache",
                "link": ["hardlink", "symlink", "copy"],
                "shared": True,
                "jobs": 4,
                "gc_grace_days": 0.5,
            }
        }
    ).artifacts
    assert artifacts.cache_dir == "/srv/shared-cache"
    assert artifacts.link == ("hardlink", "symlink", "copy")
    assert artifacts.shared is True
    assert artifacts.jobs == 4
    assert artifacts.gc_grace_days == 0.5


def test_link_may_be_one_string() -> None:
    assert parse_config({"cache": {"link": "copy"}}).artifacts.link == ("copy",)


def test_integer_grace_days_become_float() -> None:
    grace = parse_config({"cache": {"gc_grace_days": 0}}).artifacts.gc_grace_days
    assert grace == 0.0 and isinstance(grace, float)


def test_remotes_are_read() -> None:
    artifacts = parse_config(
        {
            "remotes": {
                "origin": {
                    "url": "s3://bucket/prefix",
                    "endpoint_url": "http://127.0.0.1:9000",
                    "region": "eu",
                },
                "backup": "/mnt/nas/gitml",
                "nas.2": {"url": "file:///mnt/nas2", "profile": "team", "anon": False},
            },
            "default_remote": "origin",
        }
    ).artifacts
    assert artifacts.default_remote == "origin"
    assert artifacts.remotes["origin"] == RemoteConfig(
        "origin", "s3://bucket/prefix", "http://127.0.0.1:9000", {"region": "eu"}
    )
    assert artifacts.remotes["backup"] == RemoteConfig("backup", "/mnt/nas/gitml", None, {})
    assert artifacts.remotes["nas.2"].options == {"profile": "team", "anon": False}


def test_null_sections_mean_no_remotes() -> None:
    artifacts = parse_config({"remotes": None, "cache": None, "default_remote": None}).artifacts
    assert artifacts == ArtifactsConfig()


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"cache": ["x"]}, ["'cache' must be a mapping"]),
        ({"cache": {"dir": ""}}, ["cache.dir must be a path"]),
        ({"cache": {"dir": "  "}}, ["cache.dir must be a path"]),
        ({"cache": {"dir": 5}}, ["cache.dir must be a path"]),
        ({"cache": {"link": [1]}}, ["cache.link", "[1]"]),
        ({"cache": {"link": {"a": 1}}}, ["cache.link"]),
        ({"cache": {"link": ["reflink", "junction"]}}, ["cache.link", "'junction'", "reflink, hardlink"]),
        ({"cache": {"link": "hardlinks"}}, ["cache.link", "'hardlinks'"]),
        ({"cache": {"shared": "yes"}}, ["cache.shared", "'yes'"]),
        ({"cache": {"shared": 1}}, ["cache.shared", "1"]),
        ({"cache": {"jobs": 0}}, ["cache.jobs", "0"]),
        ({"cache": {"jobs": -3}}, ["cache.jobs", "-3"]),
        ({"cache": {"jobs": "8"}}, ["cache.jobs", "'8'"]),
        ({"cache": {"jobs": True}}, ["cache.jobs", "True"]),
        ({"cache": {"jobs": 2.5}}, ["cache.jobs", "2.5"]),
        ({"cache": {"gc_grace_days": -1}}, ["cache.gc_grace_days", "-1"]),
        ({"cache": {"gc_grace_days": "7d"}}, ["cache.gc_grace_days", "'7d'"]),
        ({"cache": {"gc_grace_days": False}}, ["cache.gc_grace_days", "False"]),
        ({"remotes": ["s3://b"]}, ["'remotes' must map names"]),
        ({"remotes": "s3://b"}, ["'remotes' must map names"]),
        ({"remotes": {"origin": {"endpoint_url": "http://x"}}}, ["remote 'origin' needs a url"]),
        ({"remotes": {"origin": {"url": 5}}}, ["remote 'origin' needs a url"]),
        ({"remotes": {"origin": None}}, ["remote 'origin' needs a url"]),
        ({"remotes": {"origin": ["s3://b"]}}, ["remote 'origin' needs a url"]),
        (
            {"remotes": {"origin": {"url": "s3://b", "bucket": "x"}}},
            ["remote 'origin'", "unknown options: bucket"],
        ),
        (
            {"remotes": {"origin": {"url": "s3://b", "zeta": 1, "alpha": 2}}},
            ["unknown options: alpha, zeta"],
        ),
        ({"remotes": {"origin": "s3://b"}, "default_remote": "backup"}, ["default_remote 'backup'"]),
        ({"default_remote": "origin"}, ["default_remote 'origin' is not one of the remotes"]),
    ],
)
def test_bad_values_name_the_field(data: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source=".gitml/config.yaml")
    message = str(info.value)
    assert message.startswith(".gitml/config.yaml: "), "the message names the file"
    for fragment in fragments:
        assert fragment in message, message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    "name", ["", "-x", ".hidden", "a b", "a/b", "a:b", "ü", "x" * 65, "a\nb", 5, None, "../x"]
)
def test_bad_remote_names(name: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"remotes": {name: "s3://b"}})
    assert repr(name) in str(info.value)
    assert info.value.hint is not None


@pytest.mark.parametrize("name", ["origin", "a", "nas-2", "s3_backup", "x.y", "A1", "x" * 64, "_x"])
def test_good_remote_names(name: str) -> None:
    assert check_remote_name(name) == name
    assert name in parse_config({"remotes": {name: "s3://b"}}).artifacts.remotes


# -- secrets: never in the committed file --------------------------------------------------------------


@pytest.fixture
def gitml_dir(tmp_path: Path) -> Path:
    d = tmp_path / ".gitml"
    d.mkdir()
    return d


@pytest.mark.parametrize(
    "option", ["access_key_id", "secret_access_key", "session_token", "password", "token"]
)
def test_load_config_refuses_secrets_in_the_committed_file(gitml_dir: Path, option: str) -> None:
    (gitml_dir / "config.yaml").write_text(
        f"format: 1\nremotes:\n  origin:\n    url: s3://bucket\n    {option}: TOPSECRETVALUE\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(gitml_dir)
    message = str(info.value)
    assert str(gitml_dir / "config.yaml") in message
    assert "'origin'" in message
    assert option in message
    assert "TOPSECRETVALUE" not in message, "the secret itself is never shown"
    assert info.value.hint is not None and "config.local.yaml" in info.value.hint


@pytest.mark.parametrize(
    "remotes",
    [
        "remotes:\n  origin: s3://AKIA:TOPSECRETVALUE@bucket\n",
        "remotes:\n  origin: {url: 's3://AKIA:TOPSECRETVALUE@bucket/x'}\n",
        "remotes:\n  origin: {url: s3://b, endpoint_url: 'http://u:TOPSECRETVALUE@minio:9000'}\n",
    ],
)
def test_load_config_refuses_credentials_in_a_committed_url(gitml_dir: Path, remotes: str) -> None:
    (gitml_dir / "config.yaml").write_text(remotes)
    with pytest.raises(ConfigError) as info:
        load_config(gitml_dir)
    assert "credentials" in str(info.value)
    assert "'origin'" in str(info.value)
    assert "TOPSECRETVALUE" not in str(info.value)


def test_load_config_accepts_secrets_in_the_local_file_merged_over_the_committed_remote(
    gitml_dir: Path,
) -> None:
    (gitml_dir / "config.yaml").write_text(
        "format: 1\n# a comment\nremotes:\n  origin:\n    url: s3://bucket/prefix\n    region: eu-west-1\n"
        "default_remote: origin\n"
    )
    (gitml_dir / "config.local.yaml").write_text(
        "remotes:\n  origin:\n    access_key_id: AKIA123\n    secret_access_key: s3cr3t\n"
        "  mine:\n    url: /mnt/private\n    password: pw\n"
        "cache:\n  dir: /srv/cache\n"
    )
    artifacts = load_config(gitml_dir).artifacts
    origin = artifacts.remotes["origin"]
    assert origin.url == "s3://bucket/prefix"
    assert origin.options == {
        "region": "eu-west-1",
        "access_key_id": "AKIA123",
        "secret_access_key": "s3cr3t",
    }
    assert artifacts.remotes["mine"].options == {"password": "pw"}
    assert artifacts.default_remote == "origin"
    assert artifacts.cache_dir == "/srv/cache"


def test_local_file_may_choose_the_default_remote(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("remotes:\n  a: s3://a\n  b: {url: s3://b}\ndefault_remote: a\n")
    (gitml_dir / "config.local.yaml").write_text("default_remote: b\n")
    assert load_config(gitml_dir).artifacts.default_remote == "b"


def test_local_file_default_remote_must_exist(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("remotes:\n  a: s3://a\n")
    (gitml_dir / "config.local.yaml").write_text("default_remote: nope\n")
    with pytest.raises(ConfigError, match="default_remote 'nope'"):
        load_config(gitml_dir)


def test_check_no_secrets_ignores_odd_shapes() -> None:
    check_no_secrets({}, source="x")
    check_no_secrets({"remotes": None}, source="x")
    check_no_secrets({"remotes": ["a"]}, source="x")
    check_no_secrets(
        {"remotes": {"a": None, "b": "s3://b", "c": {"url": "s3://c", "profile": "p"}}}, source="x"
    )


# -- set_top_level ----------------------------------------------------------------------------------------


def test_set_top_level_replaces_a_block_and_keeps_everything_else() -> None:
    remotes_old = "remotes:\n  old: {url: s3://old}\n  older: {url: s3://older}\n"
    text = (
        "# header comment\nformat: 1\ndefaults:\n  experiment: x  # trailing comment\n"
        + remotes_old
        + "# about the cache\ncache:\n  dir: .gitml/cache\n"
    )
    new = set_top_level(text, "remotes", "remotes:\n  origin: {url: s3://new}\n")
    assert new == text.replace(remotes_old, "remotes:\n  origin: {url: s3://new}\n")
    assert _yaml.load(new)["remotes"] == {"origin": {"url": "s3://new"}}
    assert _yaml.load(new)["cache"] == {"dir": ".gitml/cache"}


def test_set_top_level_appends_when_missing() -> None:
    text = "format: 1\ncache:\n  dir: x\n"
    assert (
        set_top_level(text, "default_remote", "default_remote: origin\n") == text + "default_remote: origin\n"
    )


def test_set_top_level_appends_after_a_file_without_final_newline() -> None:
    assert (
        set_top_level("format: 1", "default_remote", "default_remote: a\n")
        == "format: 1\ndefault_remote: a\n"
    )


def test_set_top_level_on_an_empty_text() -> None:
    assert set_top_level("", "remotes", "remotes:\n  a: s3://a\n") == "remotes:\n  a: s3://a\n"
    assert set_top_level("", "remotes", None) == ""


def test_set_top_level_removes_a_block_with_none() -> None:
    text = "format: 1\nremotes:\n  a: s3://a\n\n# next section\ncache:\n  dir: x\ndefault_remote: a\n"
    out = set_top_level(text, "remotes", None)
    assert out == "format: 1\n# next section\ncache:\n  dir: x\ndefault_remote: a\n"
    out = set_top_level(out, "default_remote", None)
    assert out == "format: 1\n# next section\ncache:\n  dir: x\n"


def test_set_top_level_keeps_the_comment_before_the_next_section() -> None:
    text = "remotes:\n  a: s3://a\n# Cache settings\n# (two lines)\ncache:\n  dir: x\n"
    out = set_top_level(text, "remotes", "remotes:\n  b: s3://b\n")
    assert out == "remotes:\n  b: s3://b\n# Cache settings\n# (two lines)\ncache:\n  dir: x\n"


def test_set_top_level_keeps_a_comment_inside_the_next_section() -> None:
    text = "default_remote: a\ncache:\n  # indented comment\n  dir: x\n"
    assert set_top_level(text, "default_remote", "default_remote: b\n") == (
        "default_remote: b\ncache:\n  # indented comment\n  dir: x\n"
    )


def test_set_top_level_matches_the_whole_key_only() -> None:
    text = "remotes_note: keep\nremotes:\n  a: s3://a\nremote: keep too\n"
    out = set_top_level(text, "remotes", "remotes:\n  b: s3://b\n")
    assert out == "remotes_note: keep\nremotes:\n  b: s3://b\nremote: keep too\n"


def test_set_top_level_ignores_indented_keys_of_the_same_name() -> None:
    text = "other:\n  remotes: nested\nformat: 1\n"
    out = set_top_level(text, "remotes", "remotes:\n  a: s3://a\n")
    assert out == text + "remotes:\n  a: s3://a\n"


def test_set_top_level_on_the_default_config_text_keeps_it_valid() -> None:
    text = set_top_level(DEFAULT_CONFIG_TEXT, "remotes", "remotes:\n  origin: {url: 's3://b'}\n")
    text = set_top_level(text, "default_remote", "default_remote: origin\n")
    for line in DEFAULT_CONFIG_TEXT.splitlines():
        assert line in text.splitlines(), f"lost {line!r}"
    artifacts = parse_config(_yaml.load(text)).artifacts
    assert artifacts.default_remote == "origin"
    assert artifacts.remotes["origin"].url == "s3://b"
    assert artifacts.link == ("reflink", "copy")
    again = set_top_level(text, "remotes", None)
    again = set_top_level(again, "default_remote", None)
    assert again == DEFAULT_CONFIG_TEXT

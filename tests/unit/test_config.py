"""Tests for gitml.config: parse_config (pure) and load_config (config.yaml + config.local.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitml import _yaml
from gitml.config import DEFAULT_CONFIG_TEXT, FORMAT_VERSION, Config, RunConfig, load_config, parse_config
from gitml.exceptions import ConfigError

# -- parse_config ---------------------------------------------------------------------------------


def test_parse_config_defaults() -> None:
    config = parse_config({})
    assert config.format == FORMAT_VERSION
    assert config.experiment == "default"
    assert config.run == RunConfig()
    assert config.run.params_files == ("params.yaml",)
    assert config.run.metrics_files == ("metrics.json", "metrics.yaml")
    assert config.run.log_limit == 1024 * 1024


def test_default_config_text_parses_to_defaults() -> None:
    config = parse_config(_yaml.load(DEFAULT_CONFIG_TEXT))
    assert config.format == FORMAT_VERSION
    assert config.experiment == Config().experiment
    assert config.run == RunConfig()


def test_parse_config_reads_fields() -> None:
    config = parse_config(
        {
            "format": 1,
            "defaults": {"experiment": "churn"},
            "run": {"params_files": ["p.yaml", "q.yaml"], "metrics_files": ["m.json"], "log_limit": 0},
        }
    )
    assert config.experiment == "churn"
    assert config.run.params_files == ("p.yaml", "q.yaml")
    assert config.run.metrics_files == ("m.json",)
    assert config.run.log_limit == 0


def test_parse_config_keeps_raw() -> None:
    data = {"format": 1, "remotes": {"origin": {"url": "s3://bucket/x"}}}
    assert parse_config(data).raw["remotes"] == {"origin": {"url": "s3://bucket/x"}}


def test_null_sections_mean_defaults() -> None:
    config = parse_config({"defaults": None, "run": None})
    assert config.experiment == "default"
    assert config.run == RunConfig()


def test_files_given_as_one_string_become_a_tuple() -> None:
    config = parse_config({"run": {"params_files": "params.yaml", "metrics_files": "out/metrics.json"}})
    assert config.run.params_files == ("params.yaml",)
    assert config.run.metrics_files == ("out/metrics.json",)


@pytest.mark.parametrize("fmt", [0, -1, "1", 1.0, 1.5, None, True, [1]], ids=repr)
def test_bad_format(fmt: Any) -> None:
    with pytest.raises(ConfigError, match="format"):
        parse_config({"format": fmt}, source="repo/.gitml/config.yaml")


def test_bad_format_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"repo/\.gitml/config\.yaml"):
        parse_config({"format": "x"}, source="repo/.gitml/config.yaml")


def test_newer_format_asks_for_an_upgrade() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"format": FORMAT_VERSION + 1})
    error = info.value
    assert str(FORMAT_VERSION + 1) in str(error)
    assert "upgrade" in f"{error} {error.hint or ''}".lower()


@pytest.mark.parametrize("limit", [-1, "1MB", "1048576", 1.5, True, None, [1]], ids=repr)
def test_bad_log_limit(limit: Any) -> None:
    with pytest.raises(ConfigError, match="log_limit"):
        parse_config({"run": {"log_limit": limit}})


@pytest.mark.parametrize("files", [[1], ["a", None], {"a": 1}, 3, None], ids=repr)
def test_bad_file_lists(files: Any) -> None:
    with pytest.raises(ConfigError, match="params_files"):
        parse_config({"run": {"params_files": files}})
    with pytest.raises(ConfigError, match="metrics_files"):
        parse_config({"run": {"metrics_files": files}})


@pytest.mark.parametrize("data", [{"defaults": ["x"]}, {"run": "fast"}, {"defaults": "x"}], ids=repr)
def test_sections_must_be_mappings(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_config(data)


@pytest.mark.parametrize("experiment", ["", "   ", 3, None, ["a"]], ids=repr)
def test_bad_default_experiment(experiment: Any) -> None:
    with pytest.raises(ConfigError, match="experiment"):
        parse_config({"defaults": {"experiment": experiment}})


def test_config_error_exit_code() -> None:
    assert ConfigError.exit_code == 3


# -- load_config ----------------------------------------------------------------------------------


@pytest.fixture
def gitml_dir(tmp_path: Path) -> Path:
    path = tmp_path / ".gitml"
    path.mkdir()
    return path


def test_load_config_without_files_gives_defaults(gitml_dir: Path) -> None:
    config = load_config(gitml_dir)
    assert config.run == RunConfig()
    assert config.experiment == "default"


def test_load_config_reads_default_text(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text(DEFAULT_CONFIG_TEXT)
    assert load_config(gitml_dir).run == RunConfig()


def test_load_config_empty_file_gives_defaults(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("")
    (gitml_dir / "config.local.yaml").write_text("# nothing\n")
    assert load_config(gitml_dir).run == RunConfig()


def test_local_config_is_merged_over_config(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text(
        "format: 1\n"
        "defaults:\n  experiment: shared\n"
        "run:\n  params_files: [p.yaml]\n  log_limit: 10\n"
        "remotes:\n  origin:\n    url: s3://bucket/team\n    region: eu-west-1\n"
    )
    (gitml_dir / "config.local.yaml").write_text(
        "run:\n  log_limit: 20\nremotes:\n  origin:\n    profile: mine\n"
    )
    config = load_config(gitml_dir)
    assert config.experiment == "shared"
    assert config.run.params_files == ("p.yaml",), "keys absent from the overlay are kept"
    assert config.run.log_limit == 20, "the overlay wins"
    assert config.raw["remotes"]["origin"] == {
        "url": "s3://bucket/team",
        "region": "eu-west-1",
        "profile": "mine",
    }


def test_local_config_alone(gitml_dir: Path) -> None:
    (gitml_dir / "config.local.yaml").write_text("defaults:\n  experiment: mine\n")
    assert load_config(gitml_dir).experiment == "mine"


def test_local_config_replaces_lists(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("run:\n  metrics_files: [a.json, b.json]\n")
    (gitml_dir / "config.local.yaml").write_text("run:\n  metrics_files: [c.json]\n")
    assert load_config(gitml_dir).run.metrics_files == ("c.json",)


@pytest.mark.parametrize("name", ["config.yaml", "config.local.yaml"])
@pytest.mark.parametrize(
    "text", ["run: [unclosed\n", "a: b: c\n", "\tbad: tab\n", "key: !!python/name:os.system\n"]
)
def test_bad_yaml_is_a_config_error(gitml_dir: Path, name: str, text: str) -> None:
    (gitml_dir / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(gitml_dir)
    assert name in str(info.value)
    assert "\n" not in str(info.value), "one line"


@pytest.mark.parametrize("name", ["config.yaml", "config.local.yaml"])
@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_is_a_config_error(gitml_dir: Path, name: str, text: str) -> None:
    (gitml_dir / name).write_text(text)
    with pytest.raises(ConfigError, match="mapping"):
        load_config(gitml_dir)


def test_non_utf8_is_a_config_error(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_bytes(b"format: 1\nname: \xff\xfe\n")
    with pytest.raises(ConfigError):
        load_config(gitml_dir)


def test_newer_format_in_local_config_is_refused(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("format: 1\n")
    (gitml_dir / "config.local.yaml").write_text(f"format: {FORMAT_VERSION + 1}\n")
    with pytest.raises(ConfigError):
        load_config(gitml_dir)


def test_bad_field_in_file_is_a_config_error(gitml_dir: Path) -> None:
    (gitml_dir / "config.yaml").write_text("run:\n  log_limit: lots\n")
    with pytest.raises(ConfigError, match="log_limit"):
        load_config(gitml_dir)


def test_run_fsync_setting() -> None:
    from gitml.config import parse_config
    from gitml.exceptions import ConfigError

    assert parse_config({}).run.fsync is False
    assert parse_config({"run": {"fsync": True}}).run.fsync is True
    with pytest.raises(ConfigError, match=r"run\.fsync"):
        parse_config({"run": {"fsync": "yes please"}})


def test_review_and_hooks_settings() -> None:
    from gitml.config import parse_config

    config = parse_config(
        {
            "metrics": {"loss": "min", "acc": "max"},
            "diff": {"compare_by": ["experiment", "params.model"]},
            "hooks": {"max_file_size": "5MiB", "pull": True},
        }
    )
    assert dict(config.review.metrics) == {"loss": "min", "acc": "max"}
    assert config.review.compare_by == ("experiment", "params.model")
    assert (config.hooks.max_file_size, config.hooks.pull) == (5 * 1024 * 1024, True)
    defaults = parse_config({})
    assert (
        defaults.review.compare_by == ("experiment", "name") and defaults.hooks.max_file_size == 1024 * 1024
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"metrics": {"loss": "lower"}}, "metrics.loss must be min or max"),
        ({"metrics": ["loss"]}, "'metrics' must map metric names to min or max"),
        ({"diff": {"compare_by": ["colour"]}}, "diff.compare_by: unknown field 'colour'"),
        ({"hooks": {"max_file_size": "big"}}, "hooks.max_file_size must be a size"),
        ({"hooks": {"pull": "yes"}}, "hooks.pull must be true or false"),
    ],
)
def test_bad_review_and_hooks_settings(data: dict[str, object], message: str) -> None:
    from gitml.config import parse_config
    from gitml.exceptions import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config(data)


@pytest.mark.parametrize(
    ("text", "size"),
    [(1024, 1024), ("500KB", 500_000), ("5MiB", 5 * 1024**2), ("1.5G", 1_500_000_000), ("10 b", 10)],
)
def test_parse_size(text: object, size: int) -> None:
    from gitml.config import parse_size

    assert parse_size(text, where="x") == size

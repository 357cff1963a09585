"""Tests for gitml._yaml: the fast dumper round-trips through both the C and the pure safe loaders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitml import _yaml

TRICKY_STRINGS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "NO",
    "On",
    "OFF",
    "null",
    "Null",
    "NULL",
    "~",
    "true",
    "True",
    "FALSE",
    "nan",
    "NaN",
    ".nan",
    "inf",
    ".inf",
    "-.inf",
    "+.inf",
    "1e3",
    "1.0e+3",
    "0x10",
    "0o17",
    "0b101",
    "0777",
    "1_000",
    "1",
    "-1",
    "+1",
    "0.5",
    ".5",
    "1.",
    "2026-11-26",
    "2026-11-26T10:49:25.123Z",
    "12:30",
    "190:20:30",
    ": x",
    "- x",
    "-",
    "?",
    "? x",
    "#x",
    "a: b",
    "a:b",
    "a #b",
    "'q'",
    '"d"',
    "{x}",
    "[x]",
    "*x",
    "&x",
    "!x",
    "!!str",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "<<",
    "=",
    ",",
    " lead",
    "trail ",
    " ",
    "",
    "multi\nline",
    "trailing newline\n",
    "\n",
    "cr\rlf",
    "tab\t",
    "\ttab",
    "back\\slash",
    "naïve ✓",
    "日本語",
    "emoji 🎉",
    "\x07",
    "\x00",
    "\x1b[31mred",
    "a" * 2000,
    "{{7*7}}",
    "${HOME}",
    "$(touch S)",
    "; touch S",
    "`touch S`",
    "--flag",
    "a/b/c",
    "/abs/path",
    "plain words here",
]

# Characters a YAML reader refuses or folds when written unescaped (C1 controls, DEL, NEL,
# line/paragraph separators, BOM, non-characters): the dumper must escape them.
UNUSUAL_CHARACTERS = ["\x7f", "\x80", "\x85", "\x9f", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe"]

FLOATS = [
    0.0,
    -0.0,
    0.1,
    -0.1,
    1.0,
    1.5,
    1e-05,
    -1e-05,
    1e16,
    1e20,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    123456789.123456789,
    float("nan"),
    float("inf"),
    float("-inf"),
]

INTS = [0, 1, -1, 7, 10**6, 2**31, 2**63, -(2**63), 10**30]


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types; NaN equals NaN and -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def round_trip(value: dict[str, Any]) -> str:
    """Dump ``value`` and check that gitml's loader and PyYAML's pure safe loader both read it back."""
    text = _yaml.dump(value)
    assert isinstance(text, str)
    assert text.endswith("\n")
    fast = _yaml.load(text)
    assert same(fast, value), f"gitml load mismatch:\n{text!r}\n{fast!r}"
    pure = yaml.load(text, Loader=yaml.SafeLoader)  # the pure-Python safe_load
    assert same(pure, value), f"safe_load mismatch:\n{text!r}\n{pure!r}"
    assert same(yaml.safe_load(text), value)
    assert same(_yaml.load(text.encode("utf-8")), value), "bytes input"
    assert same(_yaml.load_fast(text), value), f"load_fast mismatch:\n{text!r}"
    assert same(_yaml.load_fast(text.encode("utf-8")), value)
    return text


# -- scalars --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=repr)
def test_tricky_string_value_round_trips(text: str) -> None:
    round_trip({"k": text})


@pytest.mark.parametrize("text", [t for t in TRICKY_STRINGS if len(t) < 1000], ids=repr)
def test_tricky_string_key_round_trips(text: str) -> None:
    round_trip({text: "v"})


@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=repr)
def test_tricky_string_in_list_round_trips(text: str) -> None:
    round_trip({"k": [text, text]})


@pytest.mark.parametrize("char", UNUSUAL_CHARACTERS, ids=repr)
def test_unusual_unicode_characters_round_trip(char: str) -> None:
    round_trip({"k": f"a{char}b", f"k{char}": char})


@pytest.mark.parametrize("value", FLOATS, ids=repr)
def test_float_round_trips(value: float) -> None:
    round_trip({"x": value})
    round_trip({"x": [value]})


@pytest.mark.parametrize("value", INTS, ids=repr)
def test_int_round_trips(value: int) -> None:
    round_trip({"x": value, "y": [value]})


@pytest.mark.parametrize("value", [True, False, None])
def test_bool_and_none_round_trip(value: object) -> None:
    round_trip({"x": value, "y": [value]})


def test_float_formatting_is_yaml_11_float() -> None:
    """PyYAML (YAML 1.1) reads `1e-05` as a string: floats need a dot and a signed exponent."""
    for value in (1e-05, 1e20, 1e16, 5e-324):
        text = _yaml.format_scalar(value)
        assert isinstance(_yaml.load(f"x: {text}")["x"], float), text


def test_format_scalar_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        _yaml.format_scalar(b"bytes")
    with pytest.raises(TypeError):
        _yaml.format_scalar(object())


# -- documents ------------------------------------------------------------------------------------


def test_mixed_document_round_trips() -> None:
    doc: dict[str, Any] = {f"s{i}": s for i, s in enumerate(TRICKY_STRINGS)}
    doc.update({f"f{i}": f for i, f in enumerate(FLOATS)})
    doc.update({f"i{i}": n for i, n in enumerate(INTS)})
    doc.update(
        {
            "t": True,
            "f": False,
            "none": None,
            "empty_map": {},
            "empty_list": [],
            "nested": {
                "a": {"b": {"c": "deep", "yes": "no", "list": ["x", 1, 0.1, None, True, "null"]}},
                "empty_map": {},
                "empty_list": [],
                "after": "sibling",
            },
            "list": ["a", "yes", 1, 1.5, None, False, "", "- x"],
            "list_of_lists": [["a", "b"], [], ["yes", "~"]],
            "list_of_maps": [{"name": "a", "v": 1}, {}, {"name": "on", "v": None}],
            "after_lists": "still here",
        }
    )
    round_trip(doc)


def test_nested_sequences_with_floats_round_trip() -> None:
    round_trip({"k": [[0.1, 1e-05, 1e20, -0.0], [1.5]]})


def test_nested_sequences_with_nan_and_inf_round_trip() -> None:
    round_trip({"k": [[float("nan"), float("inf"), float("-inf")]]})


def test_maps_in_lists_with_floats_round_trip() -> None:
    round_trip({"k": [{"lr": 1e-05, "wd": 1e20, "loss": float("nan")}]})


def test_maps_in_lists_with_tricky_strings_round_trip() -> None:
    round_trip({"k": [{s: s} for s in TRICKY_STRINGS if len(s) < 1000]})


def test_tuples_are_written_as_lists() -> None:
    assert _yaml.load(_yaml.dump({"k": (1, "a", None)})) == {"k": [1, "a", None]}


def test_keys_keep_their_order() -> None:
    doc = {"z": 1, "a": 2, "m": 3}
    text = round_trip(doc)
    assert list(_yaml.load(text)) == ["z", "a", "m"]


def test_dump_is_deterministic() -> None:
    doc = {"b": [1, 2], "a": {"x": "yes"}}
    assert _yaml.dump(doc) == _yaml.dump(dict(doc))


def test_empty_mapping_round_trips() -> None:
    assert _yaml.load(_yaml.dump({})) == {}
    assert yaml.safe_load(_yaml.dump({})) == {}


# -- safety ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '!!python/object/apply:os.system ["touch x"]',
        'x: !!python/object/apply:os.system ["touch x"]',
        "!!python/object/apply:subprocess.call [[touch, x]]",
        "!!python/name:os.system",
        "!!python/object:builtins.object {}",
        '!!python/object/new:os.system ["touch x"]',
    ],
)
def test_load_refuses_python_tags(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(yaml.YAMLError):
        _yaml.load(text)
    assert list(tmp_path.iterdir()) == [], "nothing may be created"


def test_yaml_error_alias() -> None:
    assert _yaml.YAMLError is yaml.YAMLError


@pytest.mark.parametrize("text", ["{{7*7}}", "${HOME}", "$(touch S)", "{% raw %}", "#{1+1}"])
def test_templates_are_never_evaluated(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dumped = round_trip({"k": text, text: "v"})
    assert _yaml.load(dumped) == {"k": text, text: "v"}
    assert "49" not in dumped
    assert list(tmp_path.iterdir()) == []


def test_load_bad_yaml_raises_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError):
        _yaml.load("a: [unclosed")


HAND_WRITTEN = [
    "a: 1  # a comment\n",
    "# header\na: 1\n",
    "a: [1, 2, 3]\n",
    "a: {b: 1}\n",
    "a: &x 1\nb: *x\n",
    "a: 012\n",
    "a: 1e3\n",
    "a: 0x1f\n",
    "a: y\n",
    "a: 2026-11-26\n",
    "a: 12:30:00\n",
    "a: 1\na: 2\n",
    "a:\n    b: 1\n",
    "a:   1\n",
    "a: 'single'\n",
    "a: |\n  block\n",
    "a: 1\r\nb: 2\r\n",
    "a:\tb\n",
    "- 1\n- 2\n",
    "a: 1",
    "",
    "a:\n- 1\n- [2, 3]\n- {x: 1}\n",
    "x: 1.5\ny: -0.0\nz: .NaN\n",
    '"q\\":x": 1\n',
]


@pytest.mark.parametrize("text", HAND_WRITTEN, ids=repr)
def test_load_fast_agrees_with_yaml_on_hand_written_files(text: str) -> None:
    """load_fast takes its fast path only where YAML's meaning is unambiguous; otherwise YAML decides."""
    try:
        expected = _yaml.load(text)  # the safe loader gitml falls back to (libyaml when present)
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            _yaml.load_fast(text)
        return
    assert same(_yaml.load_fast(text), expected)


def test_load_fast_takes_the_fast_path_on_dumped_files(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "id": "01m8br8np2pg8t3qfcg88sdpcz",
        "n": 3,
        "x": 0.5,
        "tags": {"a": "b"},
        "cmd": ["python", "t.py"],
    }
    text = _yaml.dump(value)
    monkeypatch.setattr(_yaml, "load", lambda data: pytest.fail(f"fell back to PyYAML on {data!r}"))
    assert same(_yaml.load_fast(text), value)

"""Tests for gitml.tracking.filter: parsing, evaluation, order-by and sorting (pure, no I/O)."""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest

from gitml.exceptions import FilterSyntaxError
from gitml.tracking.filter import (
    And,
    Comparison,
    Expr,
    Field,
    Not,
    Or,
    OrderKey,
    fields,
    matches,
    parse_filter,
    parse_order_by,
    sort_records,
)

M = Field("metrics", "acc")


def rec(
    metrics: Mapping[str, object] | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    attributes: Mapping[str, object] | None = None,
) -> dict[str, Mapping[str, object]]:
    out: dict[str, Mapping[str, object]] = {}
    for kind, section in (
        ("metrics", metrics),
        ("params", params),
        ("tags", tags),
        ("attributes", attributes),
    ):
        if section is not None:
            out[kind] = section
    return out


def parsed(text: str) -> Expr:
    expr = parse_filter(text)
    assert expr is not None
    return expr


def m(text: str, record: Mapping[str, Mapping[str, object]]) -> bool:
    return matches(parsed(text), record)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp() * 1000)


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty_filter_is_none_and_matches_everything(text: str | None) -> None:
    assert parse_filter(text) is None
    assert matches(None, {}) is True
    assert fields(None) == set()


def test_simple_comparison() -> None:
    assert parse_filter("metrics.acc > 0.9") == Comparison(M, ">", 0.9)


@pytest.mark.parametrize(
    ("symbol", "op"),
    [("=", "="), ("==", "="), ("!=", "!="), ("<>", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")],
)
def test_symbol_operators_are_normalised(symbol: str, op: str) -> None:
    assert parse_filter(f"metrics.acc {symbol} 1") == Comparison(M, op, 1)
    assert parse_filter(f"metrics.acc{symbol}1") == Comparison(M, op, 1)


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("metrics.acc LIKE 'a%'", "LIKE", "a%"),
        ("metrics.acc like 'a%'", "LIKE", "a%"),
        ("metrics.acc ILIKE 'a%'", "ILIKE", "a%"),
        ('metrics.acc iLiKe "a%"', "ILIKE", "a%"),
        ("metrics.acc IN (1, 'b', true)", "IN", (1, "b", True)),
        ("metrics.acc in ('x')", "IN", ("x",)),
        ("metrics.acc NOT IN (1,2)", "NOT IN", (1, 2)),
        ("metrics.acc not  in (1)", "NOT IN", (1,)),
        ("metrics.acc IS NULL", "IS NULL", None),
        ("metrics.acc is not null", "IS NOT NULL", None),
    ],
)
def test_keyword_operators(text: str, op: str, value: object) -> None:
    assert parse_filter(text) == Comparison(M, op, value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1),
        ("-3", -3),
        ("+3", 3),
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("1.5E-3", 0.0015),
        ("-1e+2", -100.0),
        ("'abc'", "abc"),
        ('"abc"', "abc"),
        ("''", ""),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'C:\dir'", "C:\\dir"),
        ("'a \"b\"'", 'a "b"'),
        ("true", True),
        ("FALSE", False),
        ("True", True),
    ],
)
def test_values(literal: str, value: object) -> None:
    expr = parsed(f"params.x = {literal}")
    assert isinstance(expr, Comparison)
    assert expr.value == value
    assert type(expr.value) is type(value)


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("metrics", "metrics"),
        ("metric", "metrics"),
        ("METRICS", "metrics"),
        ("params", "params"),
        ("param", "params"),
        ("parameters", "params"),
        ("tags", "tags"),
        ("tag", "tags"),
        ("attributes", "attributes"),
        ("attribute", "attributes"),
        ("attr", "attributes"),
        ("run", "attributes"),
    ],
)
def test_prefix_aliases(prefix: str, kind: str) -> None:
    key = "status" if kind == "attributes" else "k"
    assert parse_filter(f"{prefix}.{key} = 'x'") == Comparison(Field(kind, key), "=", "x")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("run_name = 'x'", "name"),
        ("attributes.run_name = 'x'", "name"),
        ("name = 'x'", "name"),
        ("STATUS = 'x'", "status"),
        ("attr.status = 'x'", "status"),
        ("run.start_time = 1", "start_time"),
        ("run_id = 'x'", "run_id"),
        ("commit = 'x'", "commit"),
        ("branch = 'x'", "branch"),
        ("dirty = true", "dirty"),
        ("user = 'x'", "user"),
        ("host = 'x'", "host"),
        ("duration > 1", "duration"),
        ("experiment = 'x'", "experiment"),
        ("end_time > 1", "end_time"),
        ("attributes.`run_name` = 'x'", "name"),
    ],
)
def test_attribute_names_and_aliases(text: str, key: str) -> None:
    expr = parsed(text)
    assert isinstance(expr, Comparison)
    assert expr.field == Field("attributes", key)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics.`my metric` > 1", Field("metrics", "my metric")),
        ('tags."mlflow.user" = 1', Field("tags", "mlflow.user")),
        ("params.model.depth = 1", Field("params", "model.depth")),
        ("params.a-b/c:d_e = 1", Field("params", "a-b/c:d_e")),
        ("metrics.`a = b AND c` = 1", Field("metrics", "a = b AND c")),
        ("tags.`it\\`s` = 1", Field("tags", "it`s")),
        ('tags."say \\"x\\"" = 1', Field("tags", 'say "x"')),
        ("metrics.`weird (key)`>1", Field("metrics", "weird (key)")),
        ("Metrics.Acc = 1", Field("metrics", "Acc")),
    ],
)
def test_field_keys(text: str, field: Field) -> None:
    expr = parsed(text)
    assert isinstance(expr, Comparison)
    assert expr.field == field


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Comparison(Field("metrics", k), "=", 1) for k in "abc")
    assert parse_filter("metrics.a = 1 OR metrics.b = 1 AND metrics.c = 1") == Or((a, And((b, c))))
    assert parse_filter("metrics.a = 1 and metrics.b = 1 or metrics.c = 1") == Or((And((a, b)), c))
    assert parse_filter("metrics.a = 1 AND metrics.b = 1 AND metrics.c = 1") == And((a, b, c))
    assert parse_filter("metrics.a = 1 OR metrics.b = 1 OR metrics.c = 1") == Or((a, b, c))


def test_parentheses_group() -> None:
    a, b, c = (Comparison(Field("metrics", k), "=", 1) for k in "abc")
    assert parse_filter("(metrics.a = 1 OR metrics.b = 1) AND metrics.c = 1") == And((Or((a, b)), c))
    assert parse_filter("((metrics.a = 1))") == a
    assert parse_filter("metrics.a = 1 AND (metrics.b = 1 OR (metrics.c = 1))") == And((a, Or((b, c))))


def test_not() -> None:
    a, b = (Comparison(Field("metrics", k), "=", 1) for k in "ab")
    assert parse_filter("NOT metrics.a = 1") == Not(a)
    assert parse_filter("not (metrics.a = 1 or metrics.b = 1)") == Not(Or((a, b)))
    assert parse_filter("NOT NOT metrics.a = 1") == Not(Not(a))
    assert parse_filter("NOT metrics.a = 1 AND metrics.b = 1") == And((Not(a), b))


def test_fields_lists_every_field_read() -> None:
    expr = parse_filter(
        "metrics.acc > 1 AND (params.lr = 1 OR NOT tags.x IS NULL) AND status = 'x' AND metrics.acc < 2"
    )
    assert fields(expr) == {M, Field("params", "lr"), Field("tags", "x"), Field("attributes", "status")}


def test_comparisons_are_hashable_and_picklable() -> None:
    expr = parsed("tags.x LIKE 'a%' AND metrics.a IN (1, 2) AND start_time > '2026-01-01'")
    assert hash(expr) == hash(
        parsed("tags.x LIKE 'a%' AND metrics.a IN (1, 2) AND start_time > '2026-01-01'")
    )
    clone = pickle.loads(pickle.dumps(expr))
    assert clone == expr
    assert matches(
        clone, rec(tags={"x": "ab"}, metrics={"a": 2}, attributes={"start_time": ms("2026-02-01")})
    )


def test_bad_operator_in_direct_construction() -> None:
    with pytest.raises(ValueError, match="operator"):
        Comparison(M, "~", 1)


# ---------------------------------------------------------------- parse errors


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("metrics.acc >", 13, "expected a value"),
        ("metrics.acc >   ", 16, "expected a value"),
        ("metrics.acc > 0.9 and", 21, "expected a field"),
        ("metrics.acc > 0.9 OR ", 21, "expected a field"),
        ("metrics.acc >> 1", 13, "expected a value"),
        ("metrics.acc = = 1", 14, "expected a value"),
        ("params.x = 'abc", 11, "unterminated"),
        ('params.x = "abc', 11, "unterminated"),
        (r"params.x = 'abc\'", 11, "unterminated"),
        ("metrics.`my metric > 1", 8, "unterminated"),
        ('tags."mlflow.user = 1', 5, "unterminated"),
        ("(metrics.a > 1", 14, "')'"),
        ("((metrics.a > 1)", 16, "')'"),
        ("(metrics.a > 1 metrics.b", 15, "')'"),
        ("metrics.a > 1)", 13, "unbalanced"),
        ("()", 1, "expected a field"),
        ("foo.bar = 1", 0, "unknown field prefix 'foo'"),
        ("metrics.a = 1 AND foo.bar = 1", 18, "unknown field prefix"),
        ("attributes.bogus = 1", 11, "unknown attribute 'bogus'"),
        ("bogus = 1", 0, "unknown attribute 'bogus'"),
        ("metrics.a = 1 OR nope > 2", 17, "unknown attribute"),
        ("metrics.acc LIKE", 16, "quoted pattern"),
        ("metrics.acc LIKE 5", 17, "quoted pattern"),
        ("metrics.acc ILIKE x", 18, "quoted pattern"),
        ("metrics.acc", 11, "comparison operator"),
        ("metrics.acc 1", 12, "comparison operator"),
        ("metrics.acc > 1 metrics.b > 2", 16, "AND, OR"),
        ("params.opt = adam", 13, "expected a value"),
        ("metrics.a > nan", 12, "expected a value"),
        ("metrics.a > -inf", 12, "expected a value"),
        ("metrics.a = NULL", 12, "expected a value"),
        ("metrics.a IN ()", 14, "expected a value"),
        ("metrics.a IN (1,)", 16, "expected a value"),
        ("metrics.a IN (1 2)", 16, "',' or ')'"),
        ("metrics.a IN 1", 13, "'('"),
        ("metrics.a IN (1", 15, "',' or ')'"),
        ("metrics.a NOT LIKE 'x'", 14, "IN after NOT"),
        ("metrics.a IS 1", 13, "expected NULL"),
        ("metrics.a IS NOT", 16, "expected NULL"),
        ("metrics. > 1", 8, "missing key"),
        ("tags.'x' = 1", 5, "missing key"),
        ("metrics.a > true", 10, "true/false"),
        ("start_time > 'yesterday'", 13, "not a valid time"),
        ("start_time IN ('2026-01-01', 'soon')", 29, "not a valid time"),
        ("metrics.a ! 1", 10, "unexpected '!'"),
        ("`acc` > 1", 0, "unexpected '`'"),
        ("1 = 1", 0, "expected a field"),
        ("'x' = 1", 0, "expected a field"),
        ("AND metrics.a = 1", 0, "expected a field"),
        ("NOT", 3, "expected a field"),
    ],
)
def test_syntax_errors_report_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    err = info.value
    assert err.position == position, str(err)
    assert err.text == text
    assert fragment in err.message
    assert err.hint
    # the rendered message points at the position
    assert err.message.endswith(" " * (2 + position) + "^")


def test_syntax_error_hint_for_unquoted_string() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("params.optimizer = adam")
    assert info.value.hint is not None and "quote strings" in info.value.hint


# ---------------------------------------------------------------- matching: numbers and operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc = 0.5", True),
        ("metrics.acc == 0.5", True),
        ("metrics.acc = 0.6", False),
        ("metrics.acc != 0.6", True),
        ("metrics.acc <> 0.5", False),
        ("metrics.acc < 0.6", True),
        ("metrics.acc < 0.5", False),
        ("metrics.acc <= 0.5", True),
        ("metrics.acc > 0.4", True),
        ("metrics.acc > 0.5", False),
        ("metrics.acc >= 0.5", True),
        ("metrics.acc >= 5e-1", True),
        ("metrics.acc > -1", True),
        ("metrics.acc IN (0.1, 0.5)", True),
        ("metrics.acc IN (0.1, 0.2)", False),
        ("metrics.acc NOT IN (0.1, 0.2)", True),
        ("metrics.acc NOT IN (0.5)", False),
        ("metrics.acc IS NULL", False),
        ("metrics.acc IS NOT NULL", True),
        ("metrics.acc LIKE '0.5'", True),
        ("metrics.acc LIKE '0.%'", True),
        ("metrics.acc = '0.5'", True),
        ("metrics.acc = '0.50'", True),
        ("metrics.acc > '0.4'", True),
        ("metrics.acc = 'abc'", False),
        ("metrics.acc > 'abc'", False),
        ("metrics.acc = true", False),
    ],
)
def test_numeric_metric(text: str, expected: bool) -> None:
    assert m(text, rec(metrics={"acc": 0.5})) is expected


def test_int_and_float_compare_numerically() -> None:
    assert m("metrics.step = 3", rec(metrics={"step": 3.0}))
    assert m("metrics.step = 3.0", rec(metrics={"step": 3}))
    assert m("metrics.step < 10", rec(metrics={"step": 9}))
    big = 2**62 + 1
    assert m(f"metrics.big = {big}", rec(metrics={"big": big}))
    assert not m(f"metrics.big = {big - 1}", rec(metrics={"big": big}))


@pytest.mark.parametrize(
    "text",
    [
        "metrics.x = 1",
        "metrics.x != 1",
        "metrics.x <> 1",
        "metrics.x < 1",
        "metrics.x <= 1",
        "metrics.x > 1",
        "metrics.x >= 1",
        "metrics.x LIKE '%'",
        "metrics.x ILIKE '%'",
        "metrics.x IN (1, 'a')",
        "metrics.x NOT IN (1, 'a')",
        "metrics.x IS NOT NULL",
        "metrics.x = true",
        "metrics.x = ''",
    ],
)
@pytest.mark.parametrize(
    "record",
    [{}, rec(metrics={}), rec(metrics={"y": 1}), rec(metrics={"x": None}), rec(params={"x": 1})],
)
def test_absent_values_never_match(text: str, record: Mapping[str, Mapping[str, object]]) -> None:
    assert m(text, record) is False
    assert m("metrics.x IS NULL", record) is True


def test_not_is_plain_negation_even_for_absent_values() -> None:
    assert m("NOT metrics.x > 1", {}) is True
    assert m("NOT metrics.x IN (1)", {}) is True
    assert m("metrics.x NOT IN (1)", {}) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.x = 1", False),
        ("metrics.x != 1", True),
        ("metrics.x < 1", False),
        ("metrics.x <= 1", False),
        ("metrics.x > 1", False),
        ("metrics.x >= 1", False),
        ("metrics.x IN (1, 2)", False),
        ("metrics.x NOT IN (1, 2)", True),
        ("metrics.x IS NULL", False),
        ("metrics.x IS NOT NULL", True),
        ("metrics.x = 'nan'", True),
        ("metrics.x LIKE 'nan'", True),
    ],
)
def test_nan_follows_ieee(text: str, expected: bool) -> None:
    assert m(text, rec(metrics={"x": math.nan})) is expected


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        (math.inf, "metrics.x > 1e308", True),
        (math.inf, "metrics.x >= 1e400", True),
        (math.inf, "metrics.x = 'inf'", True),
        (math.inf, "metrics.x < 0", False),
        (-math.inf, "metrics.x < -1e308", True),
        (-math.inf, "metrics.x != 0", True),
        ("inf", "params.x > 5", True),
        ("NaN", "params.x > 5", False),
        ("NaN", "params.x < 5", False),
        ("NaN", "params.x = 'NaN'", True),
    ],
)
def test_infinities_and_nan_strings(value: object, text: str, expected: bool) -> None:
    record = rec(metrics={"x": value}) if text.startswith("metrics") else rec(params={"x": value})
    assert m(text, record) is expected


# ---------------------------------------------------------------- matching: params as strings or numbers


@pytest.mark.parametrize("stored", ["0.01", 0.01, "1e-2", "0.010"])
@pytest.mark.parametrize("text", ["params.lr = 0.01", "params.lr = 1e-2", "params.lr IN (0.5, 0.01)"])
def test_numeric_literal_matches_numeric_strings_and_numbers(stored: object, text: str) -> None:
    assert m(text, rec(params={"lr": stored}))
    assert not m(text.replace("0.01", "0.02").replace("1e-2", "2e-2"), rec(params={"lr": stored}))


@pytest.mark.parametrize(
    ("stored", "text", "expected"),
    [
        (0.01, "params.lr = '0.01'", True),
        (0.01, "params.lr = '1e-2'", True),
        (0.01, "params.lr != '0.01'", False),
        (3, "params.n = '3'", True),
        (3, "params.n = '3.0'", True),
        (3, "params.n IN ('3', 'x')", True),
        ("0.01", "params.lr = '0.01'", True),
        ("0.01", "params.lr = '0.010'", False),  # two strings compare as text
        ("64", "params.batch > 32", True),
        ("64", "params.batch < 128", True),
        ("64", "params.batch > '128'", True),  # two strings: lexicographic
        ("auto", "params.batch > 32", False),
        ("auto", "params.batch < 32", False),
        ("auto", "params.batch = 32", False),
        ("auto", "params.batch != 32", True),
        ("sgd", "params.opt > 'adam'", True),
        ("sgd", "params.opt < 'adam'", False),
        ("adam", "params.opt <= 'adam'", True),
        ("adam", "params.opt = 'adam'", True),
        ("adam", "params.opt = 'Adam'", False),
        ("adam", 'params.opt = "adam"', True),
        ("adam", "params.opt IN ('sgd', 'adam')", True),
        ("adam", "params.opt NOT IN ('sgd', 'adam')", False),
        ("", "params.opt = ''", True),
        ("", "params.opt IS NULL", False),
    ],
)
def test_param_comparisons(stored: object, text: str, expected: bool) -> None:
    assert m(text, rec(params={"lr": stored, "n": stored, "batch": stored, "opt": stored})) is expected


@pytest.mark.parametrize(
    ("stored", "text", "expected"),
    [
        (True, "attributes.dirty = true", True),
        (True, "dirty = TRUE", True),
        (True, "dirty = false", False),
        (True, "dirty != false", True),
        (False, "dirty = false", True),
        (True, "dirty = 'true'", True),
        (True, "dirty = 'True'", True),
        (False, "dirty = 'FALSE'", True),
        (True, "dirty = 1", False),
        (True, "dirty = 'yes'", False),
        (True, "dirty IN (false, true)", True),
        (True, "dirty LIKE 'tr%'", True),
        ("true", "dirty = true", True),
        ("TRUE", "dirty = true", True),
        ("false", "dirty = true", False),
        (1, "dirty = true", False),
    ],
)
def test_booleans(stored: object, text: str, expected: bool) -> None:
    assert m(text, rec(attributes={"dirty": stored})) is expected


# ---------------------------------------------------------------- LIKE / ILIKE


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("a.b%", "a.bc", True),
        ("a.b%", "axb", False),
        ("a.b%", "axbc", False),
        ("%", "", True),
        ("%", "anything", True),
        ("a%", "abc", True),
        ("a%", "bac", False),
        ("%c", "abc", True),
        ("%b%", "abc", True),
        ("a_c", "abc", True),
        ("a_c", "ac", False),
        ("a_c", "abbc", False),
        ("___", "abc", True),
        ("abc", "ABC", False),
        ("abc", "abcd", False),
        ("(a|b)", "(a|b)", True),
        ("(a|b)", "a", False),
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("a+", "aa", False),
        ("a+", "a+", True),
        ("a*", "aaa", False),
        ("a?", "a", False),
        ("^a$", "^a$", True),
        ("^a$", "a", False),
        ("{1}", "{1}", True),
        ("a\\b", "a\\b", True),
        ("50\\%", "50%", True),
        ("50\\%", "500", False),
        ("a\\_c", "a_c", True),
        ("a\\_c", "abc", False),
        ("line%", "line1\nline2", True),
        ("%é%", "café!", True),
    ],
)
def test_like(pattern: str, value: str, expected: bool) -> None:
    expr = Comparison(Field("tags", "t"), "LIKE", pattern)
    assert matches(expr, rec(tags={"t": value})) is expected


def test_like_parsed_with_escapes() -> None:
    assert m(r"tags.t LIKE '50\%'", rec(tags={"t": "50%"}))
    assert not m(r"tags.t LIKE '50\%'", rec(tags={"t": "500"}))
    assert m(r"tags.t LIKE 'it\'s%'", rec(tags={"t": "it's here"}))
    assert m(r"tags.t LIKE 'C:\dir%'", rec(tags={"t": "C:\\dir\\x"}))


@pytest.mark.parametrize(
    ("op", "pattern", "value", "expected"),
    [
        ("LIKE", "Adam%", "adamw", False),
        ("ILIKE", "Adam%", "adamw", True),
        ("ILIKE", "ADAM", "adam", True),
        ("ILIKE", "a.b%", "AXB", False),
        ("ILIKE", "a.b%", "A.B", True),
        ("LIKE", "0.0%", 0.01, True),
        ("LIKE", "1", 1, True),
        ("LIKE", "1", 1.0, False),
        ("ILIKE", "TRUE", True, True),
    ],
)
def test_like_case_and_non_strings(op: str, pattern: str, value: object, expected: bool) -> None:
    assert matches(parsed(f"tags.t {op} '{pattern}'"), rec(tags={"t": value})) is expected


def test_like_regex_is_compiled_once() -> None:
    expr = parsed("tags.t LIKE 'a%'")
    assert isinstance(expr, Comparison)
    regex = expr._regex
    assert regex is not None
    matches(expr, rec(tags={"t": "abc"}))
    assert expr._regex is regex


# ---------------------------------------------------------------- attributes and times


def test_attributes() -> None:
    record = rec(attributes={"status": "FINISHED", "name": "bright-owl", "run_id": "abc123", "user": "ana"})
    assert m("status = 'FINISHED'", record)
    assert m("attributes.status IN ('FINISHED', 'FAILED')", record)
    assert m("run_name LIKE 'bright%'", record)
    assert m("attr.name = 'bright-owl'", record)
    assert m("run.run_id LIKE 'abc%'", record)
    assert not m("user != 'ana'", record)
    assert m("host IS NULL", record)


START = ms("2026-11-26T10:00:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"start_time = {START}", True),
        (f"start_time = '{START}'", True),
        (f"start_time > {START - 1}", True),
        ("start_time > '2026-11-26'", True),
        ("start_time < '2026-11-27'", True),
        ("start_time >= '2026-11-26T10:00:00Z'", True),
        ("start_time > '2026-11-26T10:00:00Z'", False),
        ("start_time = '2026-11-26T10:00:00'", True),
        ("start_time = '2026-11-26T10:00:00.000Z'", True),
        ("start_time = '2026-11-26T11:00:00+01:00'", True),
        ("start_time = '2026-11-26 10:00:00'", True),
        ("start_time < '2026-11-26T09:59:59.999Z'", False),
        ("start_time IN ('2026-11-26T10:00:00Z', 0)", True),
        ("start_time NOT IN ('2026-11-26T10:00:00Z')", False),
        ("end_time IS NULL", True),
        ("end_time > '2026-01-01'", False),
        ("attributes.start_time > '2026-11-26' AND start_time < '2026-11-27'", True),
    ],
)
def test_time_literals(text: str, expected: bool) -> None:
    assert m(text, rec(attributes={"start_time": START})) is expected


def test_time_literal_direct_construction() -> None:
    expr = Comparison(Field("attributes", "end_time"), ">", "2026-11-26")
    assert matches(expr, rec(attributes={"end_time": ms("2026-11-26T00:00:01")}))
    assert not matches(expr, rec(attributes={"end_time": ms("2026-11-25T23:59:59")}))


# ---------------------------------------------------------------- boolean structure


@pytest.mark.parametrize(("a", "b", "c"), [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)])
def test_precedence_truth_table(a: int, b: int, c: int) -> None:
    record = rec(metrics={"a": a, "b": b, "c": c})
    assert m("metrics.a = 1 OR metrics.b = 1 AND metrics.c = 1", record) is bool(a or (b and c))
    assert m("(metrics.a = 1 OR metrics.b = 1) AND metrics.c = 1", record) is bool((a or b) and c)
    assert m("NOT (metrics.a = 1 OR metrics.b = 1) OR metrics.c = 1", record) is bool((not (a or b)) or c)
    assert m("NOT metrics.a = 1 AND NOT metrics.b = 1", record) is bool((not a) and (not b))
    assert m("metrics.a = 1 and (metrics.b = 1 or metrics.c = 1)", record) is bool(a and (b or c))


def test_mixed_query() -> None:
    expr = parsed(
        "metrics.acc > 0.9 AND (params.optimizer = 'adam' OR tags.\"mlflow.user\" ILIKE 'ANA%') "
        "AND status != 'FAILED' AND params.`batch size` IN (32, 64)"
    )
    good = rec(
        metrics={"acc": 0.95},
        params={"optimizer": "sgd", "batch size": "64"},
        tags={"mlflow.user": "ana.lopez"},
        attributes={"status": "FINISHED"},
    )
    assert matches(expr, good)
    assert not matches(expr, {**good, "metrics": {"acc": 0.5}})
    assert not matches(expr, {**good, "tags": {}})
    assert matches(expr, {**good, "tags": {}, "params": {"optimizer": "adam", "batch size": 32}})
    assert not matches(expr, {**good, "attributes": {"status": "FAILED"}})


def test_many_records_parse_once() -> None:
    expr = parse_filter(
        "metrics.acc > 0.5 AND (params.lr IN (0.01, 0.1) OR tags.team LIKE 'ml-%') AND NOT status = 'FAILED'"
    )
    records = [
        rec(
            metrics={"acc": (i % 100) / 100},
            params={"lr": ("0.01", 0.1, "0.5")[i % 3]},
            tags={"team": f"ml-{i % 7}"} if i % 2 else {},
            attributes={"status": "FAILED" if i % 11 == 0 else "FINISHED"},
        )
        for i in range(20_000)
    ]
    hits = [r for r in records if matches(expr, r)]
    expected = [
        r
        for i, r in enumerate(records)
        if (i % 100) / 100 > 0.5 and (i % 3 != 2 or i % 2 == 1) and i % 11 != 0
    ]
    assert hits == expected
    assert len(hits) > 1000


# ---------------------------------------------------------------- order by


def test_parse_order_by() -> None:
    acc, lr, start = M, Field("params", "lr"), Field("attributes", "start_time")
    assert parse_order_by(None) == []
    assert parse_order_by("") == []
    assert parse_order_by([]) == []
    assert parse_order_by(["", "  "]) == []
    assert parse_order_by("metrics.acc") == [OrderKey(acc, False)]
    assert parse_order_by("metrics.acc DESC") == [OrderKey(acc, True)]
    assert parse_order_by("metrics.acc desc, params.lr asc,start_time") == [
        OrderKey(acc, True),
        OrderKey(lr, False),
        OrderKey(start, False),
    ]
    assert parse_order_by(["metric.acc Desc", "param.lr", "attr.start_time DESC"]) == [
        OrderKey(acc, True),
        OrderKey(lr, False),
        OrderKey(start, True),
    ]
    assert parse_order_by(["metrics.`a, b` DESC", 'tags."x y"']) == [
        OrderKey(Field("metrics", "a, b"), True),
        OrderKey(Field("tags", "x y"), False),
    ]
    assert parse_order_by("run_name") == [OrderKey(Field("attributes", "name"), False)]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("metrics.acc DESC,", 17),
        ("metrics.acc up", 12),
        ("metrics.acc DESC DESC", 17),
        ("metrics.a,,b", 10),
        (",metrics.a", 0),
        ("foo.bar", 0),
        ("bogus DESC", 0),
        ("metrics.`acc", 8),
        ("metrics.acc > 1", 12),
    ],
)
def test_parse_order_by_errors(text: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(text)
    assert info.value.position == position, str(info.value)
    assert info.value.hint


def _sorted_ids(records: list[dict[str, Any]], order: str) -> list[object]:
    def get(r: dict[str, Any]) -> Mapping[str, Mapping[str, object]]:
        return rec(metrics=r.get("m"), params=r.get("p"))

    return [r["id"] for r in sort_records(records, parse_order_by(order), get=get)]


RECORDS: list[dict[str, Any]] = [
    {"id": "a", "m": {"acc": 0.5}},
    {"id": "b", "m": {}},
    {"id": "c", "m": {"acc": 0.9}},
    {"id": "d", "m": {"acc": math.nan}},
    {"id": "e", "m": {"acc": 0.1}},
    {"id": "f"},
    {"id": "g", "m": {"acc": 0.5}},
    {"id": "h", "m": {"acc": None}},
]


def test_sort_absent_and_nan_last_both_directions() -> None:
    assert _sorted_ids(RECORDS, "metrics.acc") == ["e", "a", "g", "c", "b", "d", "f", "h"]
    assert _sorted_ids(RECORDS, "metrics.acc DESC") == ["c", "a", "g", "e", "b", "d", "f", "h"]


def test_sort_is_stable_and_multi_key() -> None:
    records: list[dict[str, Any]] = [
        {"id": 1, "m": {"acc": 0.5}, "p": {"lr": "0.1"}},
        {"id": 2, "m": {"acc": 0.9}, "p": {"lr": "0.01"}},
        {"id": 3, "m": {"acc": 0.5}, "p": {"lr": "0.01"}},
        {"id": 4, "m": {"acc": 0.9}},
        {"id": 5, "m": {"acc": 0.5}, "p": {"lr": "0.1"}},
    ]
    assert _sorted_ids(records, "metrics.acc DESC, params.lr") == [2, 4, 3, 1, 5]
    assert _sorted_ids(records, "metrics.acc DESC, params.lr DESC") == [2, 4, 1, 5, 3]
    assert _sorted_ids(records, "params.lr DESC, metrics.acc") == [1, 5, 3, 2, 4]
    assert _sorted_ids(records, "") == [1, 2, 3, 4, 5]


def test_sort_numbers_numerically_and_mixed_types_without_error() -> None:
    records: list[dict[str, Any]] = [
        {"id": "ten", "p": {"x": "10"}},
        {"id": "two", "p": {"x": 2}},
        {"id": "word", "p": {"x": "abc"}},
        {"id": "none", "p": {}},
        {"id": "nine", "p": {"x": "9.5"}},
        {"id": "bool", "p": {"x": True}},
        {"id": "nan", "p": {"x": "nan"}},
        {"id": "inf", "p": {"x": math.inf}},
        {"id": "list", "p": {"x": [1, 2]}},
        {"id": "neg", "p": {"x": "-1e3"}},
    ]
    ascending = _sorted_ids(records, "params.x")
    assert ascending == ["neg", "two", "nine", "ten", "inf", "list", "word", "bool", "none", "nan"]
    descending = _sorted_ids(records, "params.x DESC")
    assert descending == ["inf", "ten", "nine", "two", "neg", "bool", "word", "list", "none", "nan"]


def test_sort_accepts_any_iterable_and_getter() -> None:
    runs = iter([("r1", 3), ("r2", 1), ("r3", 2)])
    out = sort_records(runs, [OrderKey(M, False)], get=lambda run: {"metrics": {"acc": run[1]}})
    assert [r[0] for r in out] == ["r2", "r3", "r1"]

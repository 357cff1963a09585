"""Run-search filters and order-by clauses: parse once, evaluate on many records.

MLflow's ``search_runs`` filter grammar, extended with ``OR``, ``NOT`` and parentheses
(``AND`` binds tighter than ``OR``)::

    metrics.acc > 0.9 AND (params.optimizer = 'adam' OR tags."mlflow.user" LIKE 'ana%')

A field is ``PREFIX.KEY`` (``metrics``, ``params``, ``tags``, ``attributes`` or an alias; the
key is a bare name, dots allowed, or quoted with backticks or double quotes) or a bare
attribute name such as ``status``. Evaluation runs on plain mappings (``Record``): no I/O
here, and ``fields`` tells callers which values a filter needs loaded.

A comparison on an absent value is False (``IS NULL`` aside); ``NOT`` is plain negation.
Numbers and numeric strings compare numerically, other strings as text; ordering a number
against a non-numeric string is False. Times take epoch ms or ISO-8601 text (naive = UTC).
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn, TypeAlias, TypeVar

from gitml.exceptions import FilterSyntaxError

__all__ = ["And", "Comparison", "Expr", "Field", "Not", "Or", "OrderKey", "Record"]
__all__ += ["fields", "matches", "parse_filter", "parse_order_by", "sort_records"]

Record: TypeAlias = Mapping[str, Mapping[str, object]]  # kind -> key -> value; missing = absent
R = TypeVar("R")

_PREFIXES = {
    "metrics": "metrics", "metric": "metrics",
    "params": "params", "param": "params", "parameters": "params",
    "tags": "tags", "tag": "tags",
    "attributes": "attributes", "attribute": "attributes", "attr": "attributes", "run": "attributes",
}  # fmt: skip
_ATTRIBUTES = frozenset(
    "run_id name status experiment start_time end_time user host duration commit branch dirty".split()
)
_ATTRIBUTE_ALIASES = {"run_name": "name"}
_TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"})
_KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"})

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMERIC_TEXT = re.compile(rf"{_NUMBER}|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_INT_TEXT = re.compile(r"[+-]?\d+")
_WORD = r"[A-Za-z0-9_.\-/:]"
_QUOTED = {q: re.compile(rf"{q}(?:\\.|[^\\{q}])*{q}", re.DOTALL) for q in "'\"`"}
_SQ, _DQ, _BQ = (_QUOTED[q].pattern for q in "'\"`")
_TOKEN = re.compile(
    rf"(?P<op>==|!=|<>|<=|>=|=|<|>)|(?P<punct>[(),])|(?P<str>{_SQ}|{_DQ})|(?P<num>{_NUMBER})(?!{_WORD})"
    rf"|(?P<field>[A-Za-z0-9_\-/:]+\.(?P<key>{_BQ}|{_DQ}))|(?P<word>{_WORD}+)",
    re.DOTALL,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_FIELD_HINT = (
    "fields look like metrics.acc, params.lr, tags.`my tag`, attributes.status "
    "or a bare attribute (" + ", ".join(sorted(_ATTRIBUTES)) + ")"
)
_FILTER_HINT = "write e.g. metrics.acc > 0.9 AND params.optimizer = 'adam'; quote strings with '…'"
_VALUE_HINT = "values are numbers, 'quoted strings', true or false; quote strings with '…'"
_IN_HINT = "write e.g. params.optimizer IN ('adam', 'sgd')"


@dataclasses.dataclass(frozen=True)
class Field:
    """One value a filter reads: ``kind`` is metrics, params, tags or attributes."""

    kind: str
    key: str


@dataclasses.dataclass(frozen=True)
class _Lit:
    """A literal prepared once for comparisons."""

    text: str | None  # the literal's text when it is a string
    num: int | float | None  # its number: a numeric literal, a numeric string, or a time in epoch ms
    is_number: bool  # the literal itself is a number (or a time), not a string
    boolean: bool | None


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``field op value``; ``value`` is a tuple for IN / NOT IN and None for IS [NOT] NULL."""

    field: Field
    op: str
    value: object
    _lits: tuple[_Lit, ...] = dataclasses.field(init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")
        is_time = self.field.kind == "attributes" and self.field.key in _TIME_ATTRIBUTES
        value = self.value
        values = tuple(value) if "IN" in self.op and isinstance(value, (tuple, list)) else (value,)
        object.__setattr__(self, "_lits", tuple(_literal(v, is_time) for v in values))
        like = self.op in ("LIKE", "ILIKE")
        object.__setattr__(self, "_regex", _like_regex(str(value), self.op == "ILIKE") if like else None)


@dataclasses.dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Not:
    item: Expr


Expr: TypeAlias = Comparison | And | Or | Not


@dataclasses.dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool


def _parse_number(text: str) -> int | float | None:
    """The number a string spells (ints stay exact; nan/inf accepted), or None."""
    if _INT_TEXT.fullmatch(text):
        return int(text)
    return float(text) if _NUMERIC_TEXT.fullmatch(text) else None


def _iso_to_ms(text: str) -> int | None:
    """Epoch milliseconds of an ISO-8601 date or time (naive means UTC), or None."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" and text else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _literal(value: object, is_time: bool) -> _Lit:
    if isinstance(value, bool):
        return _Lit(None, None, False, value)
    if isinstance(value, (int, float)):
        return _Lit(None, value, True, None)
    text = value if isinstance(value, str) else str(value)
    number = _parse_number(text)
    if is_time and number is None and (ms := _iso_to_ms(text)) is not None:
        return _Lit(None, ms, True, None)
    return _Lit(text, number, False, None)


def _text(value: object) -> str:
    """The text form LIKE and string comparisons see for a stored value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as a regex: % any run, _ any one char, \\% \\_ \\\\ literal, all else literal."""
    parts: list[str] = []
    for piece in re.findall(r"\\[%_\\]|.", pattern, re.DOTALL):
        special = {"%": ".*", "_": "."}.get(piece)
        parts.append(special or re.escape(piece[-1]))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _equals(value: object, lit: _Lit) -> bool:
    if isinstance(value, bool):
        if lit.boolean is not None:
            return value is lit.boolean
        return lit.text is not None and lit.text.lower() == _text(value)
    if lit.boolean is not None:
        return isinstance(value, str) and value.lower() == _text(lit.boolean)
    if isinstance(value, (int, float)):
        return (lit.num is not None and value == lit.num) or (lit.text is not None and str(value) == lit.text)
    if isinstance(value, str) and lit.is_number:
        number = _parse_number(value)
        return number is not None and number == lit.num
    return lit.text is not None and _text(value) == lit.text


_ORDER: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le}
_ORDER.update({">": operator.gt, ">=": operator.ge})


def _ordered(value: object, lit: _Lit, compare: Callable[[Any, Any], bool]) -> bool:
    """Numbers (and numeric strings against numbers) numerically, strings lexicographically."""
    if isinstance(value, bool) or lit.boolean is not None:
        return False
    if isinstance(value, (int, float)):
        return lit.num is not None and compare(value, lit.num)
    if isinstance(value, str):
        if lit.is_number:
            number = _parse_number(value)
            return number is not None and compare(number, lit.num)
        return lit.text is not None and compare(value, lit.text)
    return False


def _like(regex: re.Pattern[str] | None, value: object) -> bool:
    return regex is not None and regex.fullmatch(_text(value)) is not None


_TESTS: dict[str, Callable[[Comparison, object], bool]] = {
    "=": lambda c, v: v is not None and _equals(v, c._lits[0]),
    "!=": lambda c, v: v is not None and not _equals(v, c._lits[0]),
    "IN": lambda c, v: v is not None and any(_equals(v, lit) for lit in c._lits),
    "NOT IN": lambda c, v: v is not None and not any(_equals(v, lit) for lit in c._lits),
    "IS NULL": lambda c, v: v is None,
    "IS NOT NULL": lambda c, v: v is not None,
    **dict.fromkeys(("LIKE", "ILIKE"), lambda c, v: v is not None and _like(c._regex, v)),
    **dict.fromkeys(_ORDER, lambda c, v: v is not None and _ordered(v, c._lits[0], _ORDER[c.op])),
}


def _lookup(record: Record, field: Field) -> object:
    section = record.get(field.kind)
    return None if section is None else section.get(field.key)


def _evaluate(expr: Expr, record: Record) -> bool:
    if isinstance(expr, Comparison):
        return _TESTS[expr.op](expr, _lookup(record, expr.field))
    if isinstance(expr, And):
        return all(_evaluate(item, record) for item in expr.items)
    if isinstance(expr, Or):
        return any(_evaluate(item, record) for item in expr.items)
    return not _evaluate(expr.item, record)


@dataclasses.dataclass(frozen=True)
class _Tok:
    kind: str  # op, num, str, word, field (prefix + quoted key), "(", ")", ",", end
    pos: int
    text: str  # source text
    value: str = ""  # decoded string, word, or the quoted key of a field token
    key_pos: int = 0  # where a field token's key starts

    def describe(self) -> str:
        return "end of input" if self.kind == "end" else repr(self.text)


def _unquote(quoted: str) -> str:
    return re.sub(r"\\([\\'\"`])", r"\1", quoted[1:-1])


def _lex(text: str) -> Iterator[_Tok]:
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            while True:
                yield _Tok("end", pos, "")
        match = _TOKEN.match(text, pos)
        # a quote that never closes, where a token starts or right after "prefix."
        at = pos if match is None else match.end() if match.group().endswith(".") else len(text)
        if text[at : at + 1] in _QUOTED and not _QUOTED[text[at]].match(text, at):
            hint = f"close it with a matching {text[at]}; write {text[at]} inside it as \\{text[at]}"
            raise FilterSyntaxError("unterminated quote", text=text, position=at, hint=hint)
        if match is None:
            raise FilterSyntaxError(f"unexpected {text[pos]!r}", text=text, position=pos, hint=_FILTER_HINT)
        kind, source = match.lastgroup or "", match.group()
        if kind == "field":
            yield _Tok(kind, pos, source, _unquote(match["key"]), match.start("key"))
        else:
            value = _unquote(source) if kind == "str" else source
            yield _Tok(source if kind == "punct" else kind, pos, source, value)
        pos = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = _lex(text)
        self.tok = next(self._tokens)

    def advance(self) -> _Tok:
        tok, self.tok = self.tok, next(self._tokens)
        return tok

    def take(self, *keywords: str) -> _Tok | None:
        if self.tok.kind == "word" and self.tok.value.upper() in keywords:
            return self.advance()
        return None

    def fail(self, message: str, position: int, hint: str) -> NoReturn:
        raise FilterSyntaxError(message, text=self.text, position=position, hint=hint)

    def expected(self, what: str, hint: str) -> NoReturn:
        self.fail(f"expected {what}, got {self.tok.describe()}", self.tok.pos, hint)

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.take("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items = [self.parse_unary()]
        while self.take("AND"):
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Expr:
        if self.take("NOT"):
            return Not(self.parse_unary())
        if self.tok.kind != "(":
            return self.parse_comparison()
        opening = self.advance()
        inner = self.parse_or()
        if self.tok.kind == ")":
            self.advance()
            return inner
        if self.tok.kind == "end":
            self.expected(f"')' to close the '(' opened at position {opening.pos}", _FILTER_HINT)
        self.expected("')', AND or OR", _FILTER_HINT)

    def parse_field(self) -> Field:
        tok = self.tok
        if tok.kind == "field" or (tok.kind == "word" and "." in tok.value):
            prefix, key, key_pos = tok.text.split(".")[0], tok.value, tok.key_pos
            if tok.kind == "word":
                prefix, key = tok.value.split(".", 1)
                key_pos = tok.pos + len(prefix) + 1
            kind = _PREFIXES.get(prefix.lower())
            if kind is None:
                self.fail(f"unknown field prefix {prefix!r}", tok.pos, _FIELD_HINT)
            if not key:
                self.fail(f"missing key after {prefix + '.'!r}", key_pos, _FIELD_HINT)
        elif tok.kind == "word" and tok.value.upper() not in _KEYWORDS:
            kind, key, key_pos = "attributes", tok.value, tok.pos
        else:
            self.expected("a field", _FIELD_HINT)
        if kind == "attributes":
            name = _ATTRIBUTE_ALIASES.get(key.lower(), key.lower())
            if name not in _ATTRIBUTES:
                self.fail(f"unknown attribute {key!r}", key_pos, _FIELD_HINT)
            key = name
        self.advance()
        return Field(kind, key)

    def parse_comparison(self) -> Comparison:
        field = self.parse_field()
        if self.tok.kind == "op":
            symbol = self.advance()
            op = {"==": "=", "<>": "!="}.get(symbol.text, symbol.text)
            value = self.parse_value(field, op)
            if isinstance(value, bool) and op in _ORDER:
                self.fail(f"{op!r} cannot compare with true/false", symbol.pos, "use = or != with true/false")
            return Comparison(field, op, value)
        if keyword := self.take("LIKE", "ILIKE"):
            if self.tok.kind != "str":
                self.expected(f"a quoted pattern after {keyword.text}", "e.g. tags.user LIKE 'ana%'")
            return Comparison(field, keyword.value.upper(), self.advance().value)
        if self.take("NOT"):
            if not self.take("IN"):
                self.expected("IN after NOT", "only IN follows NOT here; write NOT (tags.x LIKE 'a%')")
            return Comparison(field, "NOT IN", self.parse_list(field))
        if self.take("IN"):
            return Comparison(field, "IN", self.parse_list(field))
        if self.take("IS"):
            negated = self.take("NOT") is not None
            if not self.take("NULL"):
                self.expected("NULL", "write IS NULL or IS NOT NULL")
            return Comparison(field, "IS NOT NULL" if negated else "IS NULL", None)
        self.expected("a comparison operator", "operators: = != < <= > >= LIKE ILIKE IN NOT IN IS [NOT] NULL")

    def parse_value(self, field: Field, after: str) -> object:
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            return _parse_number(tok.text)
        if tok.kind == "str":
            is_time = field.kind == "attributes" and field.key in _TIME_ATTRIBUTES
            if is_time and _parse_number(tok.value) is None and _iso_to_ms(tok.value) is None:
                hint = "write epoch milliseconds or an ISO-8601 time such as '2026-11-26T10:00:00Z'"
                self.fail(f"{tok.text} is not a valid time", tok.pos, hint)
            return self.advance().value
        if tok.kind == "word" and tok.value.lower() in ("true", "false"):
            return self.advance().value.lower() == "true"
        hint = "write IS NULL / IS NOT NULL" if tok.value.upper() == "NULL" else _VALUE_HINT
        if tok.value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            hint = "nan and inf are not literals; compare with a number, or quote them ('nan') as text"
        self.expected(f"a value after {after!r}", hint)

    def parse_list(self, field: Field) -> tuple[object, ...]:
        if self.tok.kind != "(":
            self.expected("'(' to start the IN list", _IN_HINT)
        values = [self.parse_value(field, self.advance().text)]
        while self.tok.kind == ",":
            values.append(self.parse_value(field, self.advance().text))
        if self.tok.kind != ")":
            self.expected("',' or ')' in the IN list", _IN_HINT)
        self.advance()
        return tuple(values)


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter; None for an empty or blank one (which matches every run)."""
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    expr = parser.parse_or()
    if parser.tok.kind == ")":
        parser.fail("unbalanced ')'", parser.tok.pos, "remove it or add a matching '('")
    if parser.tok.kind != "end":
        parser.expected("AND, OR or end of input", _FILTER_HINT)
    return expr


def fields(expr: Expr | None) -> set[Field]:
    """Every field ``expr`` reads."""
    if expr is None:
        return set()
    if isinstance(expr, Comparison):
        return {expr.field}
    if isinstance(expr, Not):
        return fields(expr.item)
    return {field for item in expr.items for field in fields(item)}


def matches(expr: Expr | None, record: Record) -> bool:
    """Whether ``record`` satisfies ``expr`` (None matches everything)."""
    return True if expr is None else _evaluate(expr, record)


def parse_order_by(items: Sequence[str] | str | None) -> list[OrderKey]:
    """Parse order-by items like ``"metrics.acc DESC"``; one string may hold several, comma-separated."""
    keys: list[OrderKey] = []
    for item in [items] if isinstance(items, str) else (items or ()):
        parser = _Parser(item)
        while parser.tok.kind != "end":
            field = parser.parse_field()
            direction = parser.take("ASC", "DESC")
            keys.append(OrderKey(field, direction is not None and direction.value.upper() == "DESC"))
            if parser.tok.kind != "end" and parser.tok.kind != ",":
                parser.expected("ASC, DESC or ','", "write e.g. 'metrics.acc DESC, params.lr'")
            if parser.advance().kind == "," and parser.tok.kind == "end":
                parser.expected("a field after ','", _FIELD_HINT)
    return keys


def _sort_value(value: object) -> int | float | str | None:
    """Numbers (and numeric strings) as numbers, NaN as absent, anything else as text."""
    if isinstance(value, str):
        number = _parse_number(value)
        value = value if number is None else number
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if value != value else value
    return None if value is None else _text(value)


def sort_records(records: Iterable[R], order: Sequence[OrderKey], *, get: Callable[[R], Record]) -> list[R]:
    """Stable multi-key sort; per key numbers, then strings, then absent/NaN, in either direction."""
    rows = [(get(record), record) for record in records]
    for key in reversed(order):
        keyed = [(_sort_value(_lookup(row[0], key.field)), row) for row in rows]
        present = [(value, row) for value, row in keyed if value is not None]
        sign = -1 if key.descending else 1  # keeps numbers ahead of strings when reversed
        present.sort(key=lambda pair: (sign * isinstance(pair[0], str), pair[0]), reverse=key.descending)
        rows = [row for _, row in present] + [row for value, row in keyed if value is None]
    return [record for _, record in rows]

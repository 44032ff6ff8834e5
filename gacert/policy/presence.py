"""Which series an instant PromQL query needs over its range, as one query that
says, at each step, whether they were all there.

An instant query over the window (`increase(x[$__range])`) returns one
number however much of the window its series cover: a six-hour hole in the
data does not show. Its coverage is measured instead by a range query over
the window of the presence of the series it reads: `count(x)` is there at a
step when any series of `x` has a sample within the lookback. Selectors
combine as the query combines them:

- most operators and functions need every operand: `count(a) and count(b)`;
- `a or b` needs either: `count(a) or count(b)`; when one side reads no
  series at all (`... or vector(0)`), the other is optional: its absence is
  a value the query gives on purpose;
- `a unless b` needs `a` only; `absent(...)` needs nothing;
- a selector read at one instant (no range, or `@`) is not read over the
  window and is left out.

Offsets carry over (`x[1d] offset 7d` is measured as `count(x offset 7d)`, in
the window seven days back), subquery offsets included. Only the syntax
tree is read; the result works on any Prometheus-compatible server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gacert.policy import promql

__all__ = ["Presence", "presence"]

_OPERATORS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
_OPTIONAL_FUNCTIONS = ("absent", "absent_over_time")


@dataclass(frozen=True)
class Presence:
    """What an instant query reads over a range.

    `expression` is the PromQL whose points say the series it needs were
    there, None when it needs none; `reads_range` whether any selector is
    read over a range at all; `longest_range_seconds` the longest such range.
    """

    expression: str | None
    reads_range: bool
    longest_range_seconds: float


@dataclass(frozen=True)
class _Needs:
    """The selectors one part of a query needs: `terms` joined by `joiner`, each a
    presence expression; `reads` whether it reads any series at all."""

    terms: tuple[str, ...]
    reads: bool
    ranged: bool
    longest: float

    def expression(self) -> str | None:
        return " and ".join(self.terms) if self.terms else None


_NOTHING = _Needs((), False, False, 0.0)


def presence(query: str) -> Presence | None:
    """The presence query of `query`, or None when it is not PromQL."""
    try:
        tree = promql.parse(query)
    except ValueError:
        return None
    needs = _walk(tree, timedelta(0), in_range=False)
    return Presence(needs.expression(), needs.ranged, needs.longest)


def _walk(node: Any, offset: timedelta, *, in_range: bool) -> _Needs:
    kind = type(node).__name__
    if kind == "VectorSelector":
        if not in_range or node.at is not None:
            return _Needs((), True, False, 0.0)
        return _Needs((f"count({_selector(node, offset)})",), True, True, 0.0)
    if kind == "MatrixSelector":
        if node.vector_selector.at is not None:  # a range at a fixed instant
            return _Needs((), True, False, 0.0)
        return _with_range(_walk(node.vector_selector, offset, in_range=True), node.range)
    if kind == "SubqueryExpr":
        if node.at is not None:
            return _Needs((), True, False, 0.0)
        inner = _walk(node.expr, offset + (node.offset or timedelta(0)), in_range=True)
        return _with_range(inner, node.range)
    if kind == "Call":
        parts = [_walk(a, offset, in_range=in_range) for a in node.args]
        if node.func.name in _OPTIONAL_FUNCTIONS:
            return _optional(parts)
        return _all(parts)
    if kind == "AggregateExpr":
        parts = [_walk(node.expr, offset, in_range=in_range)]
        if node.param is not None:
            parts.append(_walk(node.param, offset, in_range=in_range))
        return _all(parts)
    if kind == "BinaryExpr":
        return _binary(str(node.op).strip().lower(), _walk(node.lhs, offset, in_range=in_range),
                       _walk(node.rhs, offset, in_range=in_range))
    if kind in ("ParenExpr", "UnaryExpr"):
        return _walk(node.expr, offset, in_range=in_range)
    return _NOTHING  # NumberLiteral, StringLiteral


def _binary(operator: str, left: _Needs, right: _Needs) -> _Needs:
    if operator == "unless":
        return _all([left, _optional([right])])
    if operator != "or":
        return _all([left, right])
    if not (left.reads and right.reads):  # `x or vector(0)`: x may be absent on purpose
        return _optional([left, right])
    either = [n.expression() for n in (left, right)]
    terms: tuple[str, ...] = ()
    if either[0] and either[1]:
        terms = (f"(({either[0]}) or ({either[1]}))",)
    return _Needs(terms, True, left.ranged or right.ranged, max(left.longest, right.longest))


def _all(parts: list[_Needs]) -> _Needs:
    terms = tuple(dict.fromkeys(t for p in parts for t in p.terms))
    return _Needs(terms, any(p.reads for p in parts), any(p.ranged for p in parts),
                  max((p.longest for p in parts), default=0.0))


def _optional(parts: list[_Needs]) -> _Needs:
    """What `parts` read, none of it needed."""
    combined = _all(parts)
    return _Needs((), combined.reads, combined.ranged, combined.longest)


def _with_range(inner: _Needs, length: timedelta) -> _Needs:
    return _Needs(inner.terms, inner.reads, True, max(inner.longest, length.total_seconds()))


def _selector(node: Any, extra_offset: timedelta) -> str:
    """A vector selector as PromQL, with `extra_offset` (a subquery's) added to its own."""
    matchers = node.matchers
    if matchers.or_matchers:
        groups = [", ".join(_matcher(m) for m in group) for group in matchers.or_matchers]
        inside = " or ".join(groups)
    else:
        inside = ", ".join(_matcher(m) for m in matchers.matchers)
    millis = round(((node.offset or timedelta(0)) + extra_offset).total_seconds() * 1000)
    shift = f" offset {millis // 1000}s" if millis % 1000 == 0 else f" offset {millis}ms"
    shift = shift if millis else ""
    return f"{node.name or ''}{{{inside}}}{shift}"


def _matcher(matcher: Any) -> str:
    operator = _OPERATORS[str(matcher.op).rsplit(".", 1)[-1]]
    # A JSON string is a PromQL double-quoted string: the same escapes.
    return f"{matcher.name}{operator}{json.dumps(matcher.value, ensure_ascii=False)}"

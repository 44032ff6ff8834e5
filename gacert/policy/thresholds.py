"""Thresholds read back from a check's rules, for charts and error budgets.

A rule such as `value >= p99_latency_ms_max` compares the value with
something that does not depend on it; that something, evaluated with the
run's params, is a threshold that can be drawn as a line. Rules that are not
such comparisons (`labels['service'] != 'x' and value > 1`) give no line,
which is better than a wrong one.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gacert.policy.expressions import ExpressionSyntaxError, compile_expression, evaluate

RULE_ORDER = ("fail", "warn", "pass")
_VALUE_NAMES = {"value", "labels", "series_count"}
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
_SYMBOLS: dict[type[ast.cmpop], str] = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=",
                                        ast.Lt: "<", ast.Eq: "==", ast.NotEq: "!="}


@dataclass(frozen=True)
class Threshold:
    rule: str       # "fail", "warn" or "pass"
    operator: str   # how the value compares with it: ">=", ">", "<=", "<", "==", "!="
    value: float
    expression: str  # the rule as written


def thresholds(rules: Mapping[str, str | None], params: Mapping[str, Any]) -> list[Threshold]:
    """Every `value OP bound` comparison in the rules, with the bound evaluated."""
    try:
        key = tuple(sorted(params.items()))
        hash(key)
    except TypeError:  # a param that is not a plain value: nothing to cache on
        return _thresholds(tuple((r, rules.get(r)) for r in RULE_ORDER), params)
    return list(_cached(tuple((r, rules.get(r)) for r in RULE_ORDER), key))


@lru_cache(maxsize=4096)
def _cached(rules: tuple[tuple[str, str | None], ...],
            params: tuple[tuple[str, Any], ...]) -> tuple[Threshold, ...]:
    # Reports show the same rules many times (tables, criteria, charts).
    return tuple(_thresholds(rules, dict(params)))


def _thresholds(rules: tuple[tuple[str, str | None], ...],
                params: Mapping[str, Any]) -> list[Threshold]:
    found: list[Threshold] = []
    for rule, text in rules:
        if not text:
            continue
        try:
            expression = compile_expression(text)
        except ExpressionSyntaxError:
            continue
        if "labels" in expression.names:  # holds for some series only: no one line
            continue
        for operator, bound, mirrored in _comparisons(expression.tree):
            number = _bound(bound, params)
            if number is None:
                continue
            found.append(Threshold(rule, operator, number, text))
            if mirrored and number != 0:  # abs(value) >= x: the line at -x too
                found.append(Threshold(rule, _FLIPPED[operator], -number, text))
    return found


def _comparisons(node: ast.expr) -> Iterator[tuple[str, ast.expr, bool]]:
    """(operator as seen from the value, the other side, is it abs(value))."""
    if isinstance(node, ast.BoolOp):
        for operand in node.values:
            yield from _comparisons(operand)
        return
    if not isinstance(node, ast.Compare):
        return
    operands = [node.left, *node.comparators]
    for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
        symbol = _SYMBOLS.get(type(op))
        if symbol is None:
            continue
        if _is_value(left) and _free_of_value(right):
            yield symbol, right, _is_abs(left)
        elif _is_value(right) and _free_of_value(left):
            yield _FLIPPED[symbol], left, _is_abs(right)


def _is_value(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "value") or _is_abs(node)


def _is_abs(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "abs" and len(node.args) == 1
            and isinstance(node.args[0], ast.Name) and node.args[0].id == "value")


def _free_of_value(node: ast.expr) -> bool:
    return not any(isinstance(n, ast.Name) and n.id in _VALUE_NAMES for n in ast.walk(node))


def _bound(node: ast.expr, params: Mapping[str, Any]) -> float | None:
    try:
        result = evaluate(compile_expression(ast.unparse(node)), {**params, "params": params})
    except Exception:  # an unknown name or a bad operand: no line, not a failure
        return None
    if isinstance(result, bool) or not isinstance(result, int | float):
        return None
    number = float(result)
    return number if math.isfinite(number) else None

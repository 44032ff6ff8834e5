"""The shape of a rule: where it compares the value with a bound, and which way.

A rule such as `value >= p99_latency_ms_max` compares the value with
something that does not depend on it. This module finds such comparisons in
a parsed rule, turned so that the value is on the left (`5 < value` is
`value > 5`). It is the one place that reads a rule's shape:

- `comparisons` runs once per rule when the policy is loaded; the result
  rides on `gacert.model.Expression` to the thresholds written to the
  results (charts, error budgets) and to `worse_direction`;
- `orient` is what the validator's rule analysis (gacert.policy.rulecheck)
  applies to every comparison it meets;
- `worse_direction` tells evaluation which series of a tie is the worst.

Only the syntax tree is read here; nothing is evaluated.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from gacert.model import CompareOperator, Comparison, Expression, Rules

__all__ = ["FLIPPED", "SERIES_NAMES", "SYMBOLS", "Oriented", "comparisons", "free_names",
           "orient", "worse_direction"]

# The names a rule reads that change with the series being judged.
SERIES_NAMES = ("value", "labels", "series_count")
SYMBOLS: dict[type[ast.cmpop], CompareOperator] = {
    ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<", ast.Eq: "==", ast.NotEq: "!="}
# The same comparison seen from the other side: `a < b` is `b > a`.
FLIPPED: dict[CompareOperator, CompareOperator] = {
    ">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
# For an ordering: whether the comparison holds for the larger values.
_HOLDS_ABOVE: dict[CompareOperator, bool] = {">=": True, ">": True, "<=": False, "<": False}


@dataclass(frozen=True)
class Oriented:
    """One comparison of the value, turned so that the value is on the left."""

    operator: CompareOperator
    bound: ast.expr  # the other side; reads none of SERIES_NAMES
    names: frozenset[str]  # the names the bound reads
    absolute: bool  # the value side is abs(value)


def orient(left: ast.expr, op: ast.cmpop, right: ast.expr) -> Oriented | None:
    """`left op right` as `value OP bound`, or None when it is not such a comparison."""
    symbol = SYMBOLS.get(type(op))
    if symbol is None:  # in, not in: no bound
        return None
    for value, bound, operator in ((left, right, symbol), (right, left, FLIPPED[symbol])):
        if _is_value(value):
            names = free_names(bound)
            if names.isdisjoint(SERIES_NAMES):
                return Oriented(operator, bound, names, _is_abs(value))
    return None


def comparisons(tree: ast.expr) -> tuple[Comparison, ...]:
    """The comparisons of the value with a bound that `tree` joins with and / or."""
    return tuple(Comparison(o.operator, Expression(ast.unparse(o.bound), o.bound, o.names),
                            o.absolute) for o in _oriented(tree))


def _oriented(node: ast.expr) -> Iterator[Oriented]:
    # Only and / or: under a `not`, or inside a function call, a comparison
    # no longer says for which values the rule holds.
    if isinstance(node, ast.BoolOp):
        for operand in node.values:
            yield from _oriented(operand)
    elif isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
            found = orient(left, op, right)
            if found is not None:
                yield found


def worse_direction(rules: Rules) -> int:
    """+1 if larger values are worse (fail: value > x), -1 if smaller are, 0 if unknown.

    The first rule, in the order rules apply, whose orderings of the value
    (abs(value) aside) all point the same way decides; a band such as
    `value < 1 or value > 9` points both ways and says nothing.
    """
    for rule, expression in rules.items():
        above = {_HOLDS_ABOVE[c.operator] for c in expression.comparisons
                 if c.operator in _HOLDS_ABOVE and not c.absolute}
        if len(above) == 1:
            # A pass rule states what is good: `pass: value < x` means larger is worse.
            worse_if_larger = above.pop() != (rule == "pass")
            return 1 if worse_if_larger else -1
    return 0


def free_names(node: ast.expr) -> frozenset[str]:
    """The names `node` reads, without those of the functions it calls."""
    names: set[str] = set()
    called: set[int] = set()
    for child in ast.walk(node):  # breadth first: a call comes before its function's name
        if isinstance(child, ast.Call):
            called.add(id(child.func))
        elif isinstance(child, ast.Name) and id(child) not in called:
            names.add(child.id)
    return frozenset(names)


def _is_value(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "value") or _is_abs(node)


def _is_abs(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "abs" and len(node.args) == 1 and not node.keywords
            and isinstance(node.args[0], ast.Name) and node.args[0].id == "value")


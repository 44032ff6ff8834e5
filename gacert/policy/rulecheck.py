"""What a check's rules reveal before any run.

Errors, which every run would otherwise meet as a check in `error`:

- `params['name']` or `params.name` naming no param;
- a part of an expression that reads no measured value but raises when
  computed with the params' defaults: `9 ** 9 ** 9` (too large),
  `'x' * 10 ** 6` (a giant string), `1 / 0`;
- an ordering comparison of the (numeric) value with a string.

Warnings, about thresholds that contradict each other. They are judged only
where that can be done soundly: each rule a comparison of `value` with
numbers computed from constants and params (or an `and`, `or`, `not` of
such comparisons), so that the set of values each rule matches is known
exactly. Rules apply fail first, then warn, then pass; a value that matches
none passes only when there is no pass rule. NaN never reaches the rules
(such a series has no data), but +Inf and -Inf do.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from gacert.errors import Problem
from gacert.model import CompareOperator, Expression, Rules
from gacert.policy.expressions import CHECK_NAMES, CONSTANTS, FUNCTIONS, evaluate
from gacert.policy.params import closest
from gacert.policy.ruleshape import SYMBOLS, orient

# Names a rule may read that hold no measured value, besides the params.
_NOT_MEASURED = frozenset(CONSTANTS) | frozenset(FUNCTIONS)
INF = math.inf


class Locate(Protocol):
    """Turns a finding on one rule ("pass", "warn", "fail") of the check into a Problem
    located in the policy file."""

    def __call__(self, rule: str, message: str, *, hint: str = "",
                 severity: str = "error") -> Problem: ...


class Scope:
    """The params' defaults, as an expression sees them when nothing is measured.

    `measured` are the names a probe source provides at run time; they shadow
    params of the same name then, so they are never taken as constants.
    `declared` are all the params' names, also of those whose default the
    schema refused (and which are therefore not in `defaults`).
    """

    def __init__(self, defaults: Mapping[str, Any], measured: frozenset[str] = frozenset(),
                 declared: frozenset[str] | None = None) -> None:
        self.defaults = dict(defaults)
        self.declared = frozenset(defaults) if declared is None else declared
        # A param may not take a built-in name (validation refuses it); should
        # one try, `value` must still never look constant.
        self.names = {name: value for name, value in self.defaults.items()
                      if name not in measured and name not in CHECK_NAMES}
        self.names["params"] = self.defaults
        self.known = (self.names.keys() | _NOT_MEASURED) - measured

    def is_constant(self, node: ast.AST) -> bool:
        """Whether `node` reads only constants and params."""
        return all(n.id in self.known for n in ast.walk(node) if isinstance(n, ast.Name))

    def compute(self, node: ast.expr) -> Any:
        """The value of a constant `node`; raises what the run would raise."""
        return evaluate(Expression(ast.unparse(node), node, frozenset()), self.names)


def expression_errors(rule: str, expression: Expression, scope: Scope,
                      locate: Locate) -> list[Problem]:
    """Errors of one rule that no measured value can avoid."""
    findings = _unknown_param_keys(rule, expression.tree, scope, locate)
    if not findings:
        findings = _raising_parts(rule, expression.tree, scope, locate)
    return findings


def _unknown_param_keys(rule: str, tree: ast.expr, scope: Scope,
                        locate: Locate) -> list[Problem]:
    findings = []
    for node in ast.walk(tree):
        key = _params_key(node)
        if key is not None and key not in scope.declared:
            names = sorted(scope.declared)
            findings.append(locate(rule, f"params[{key!r}] names no param",
                                   hint=closest(key, names)
                                   or f"params: {', '.join(names) or 'none'}"))
    return findings


def _params_key(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and _is_name(node.value, "params"):
        return node.attr
    if isinstance(node, ast.Subscript) and _is_name(node.value, "params") \
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    return None


def _raising_parts(rule: str, node: ast.expr, scope: Scope, locate: Locate) -> list[Problem]:
    """Compute each largest constant part; report those that raise."""
    if scope.is_constant(node):
        try:
            scope.compute(node)
        except Exception as exc:  # the run would record this as the check's error
            return [locate(rule, f"{_short(ast.unparse(node))} cannot be computed: "
                                 f"{_reason(exc)}")]
        return []
    return [finding for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)
            for finding in _raising_parts(rule, child, scope, locate)]


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "will not evaluate something that long" in text:
        return "the result would be a giant string or list"
    return text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


# --- sets of values, as sorted disjoint intervals of the extended reals ---------


@dataclass(frozen=True)
class Interval:
    low: float
    low_closed: bool
    high: float
    high_closed: bool

    def is_empty(self) -> bool:
        return self.low > self.high or (self.low == self.high
                                        and not (self.low_closed and self.high_closed))


ValueSet = tuple[Interval, ...]
EVERYTHING: ValueSet = (Interval(-INF, True, INF, True),)
NOTHING: ValueSet = ()


def union(*sets: ValueSet) -> ValueSet:
    pieces = sorted((i for s in sets for i in s if not i.is_empty()),
                    key=lambda i: (i.low, not i.low_closed))
    merged: list[Interval] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is None or piece.low > last.high or (
                piece.low == last.high and not (last.high_closed or piece.low_closed)):
            merged.append(piece)
        elif piece.high > last.high or (piece.high == last.high and piece.high_closed):
            merged[-1] = Interval(last.low, last.low_closed, piece.high, piece.high_closed)
    return tuple(merged)


def complement(values: ValueSet) -> ValueSet:
    gaps = []
    low, low_closed = -INF, True
    for piece in values:
        gaps.append(Interval(low, low_closed, piece.low, not piece.low_closed))
        low, low_closed = piece.high, not piece.high_closed
    gaps.append(Interval(low, low_closed, INF, True))
    return union(tuple(gaps))


def intersection(*sets: ValueSet) -> ValueSet:
    return complement(union(*(complement(s) for s in sets)))


def difference(values: ValueSet, removed: ValueSet) -> ValueSet:
    return intersection(values, complement(removed))


def _comparison(op: CompareOperator, bound: float | str) -> ValueSet:
    """The values v for which `v <op> bound` holds."""
    if isinstance(bound, str):  # a number never equals a string
        return EVERYTHING if op == "!=" else NOTHING
    if math.isnan(bound):
        return EVERYTHING if op == "!=" else NOTHING
    point = (Interval(bound, True, bound, True),)
    sets: dict[CompareOperator, ValueSet] = {
        "<": (Interval(-INF, True, bound, False),),
        "<=": (Interval(-INF, True, bound, True),),
        ">": (Interval(bound, False, INF, True),),
        ">=": (Interval(bound, True, INF, True),),
        "==": point,
        "!=": complement(point),
    }
    return union(sets[op])


_OPERATORS: dict[CompareOperator, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


class _Unknown(Exception):
    """The rule is not of a form whose matched values can be told exactly."""


def matched_values(node: ast.expr, scope: Scope) -> ValueSet:
    """The values of `value` for which the rule holds; raises _Unknown if unsure."""
    if isinstance(node, ast.BoolOp):
        parts = [matched_values(v, scope) for v in node.values]
        return intersection(*parts) if isinstance(node.op, ast.And) else union(*parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return complement(matched_values(node.operand, scope))
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        return intersection(*(_pair(sides[i], op, sides[i + 1], scope)
                              for i, op in enumerate(node.ops)))
    if scope.is_constant(node):
        return EVERYTHING if _constant(node, scope) else NOTHING
    raise _Unknown


def _pair(left: ast.expr, op: ast.cmpop, right: ast.expr, scope: Scope) -> ValueSet:
    symbol = SYMBOLS.get(type(op))
    if symbol is None:
        raise _Unknown
    if scope.is_constant(left) and scope.is_constant(right):
        try:
            held = _OPERATORS[symbol](_constant(left, scope), _constant(right, scope))
        except TypeError:
            raise _Unknown from None
        return EVERYTHING if held else NOTHING
    oriented = orient(left, op, right)
    if oriented is None or oriented.absolute or not scope.is_constant(oriented.bound):
        raise _Unknown
    return _comparison(oriented.operator, _bound(oriented.operator, oriented.bound, scope))


def _constant(node: ast.expr, scope: Scope) -> Any:
    try:
        return scope.compute(node)
    except Exception:  # reported by expression_errors; here it only ends the analysis
        raise _Unknown from None


def _bound(op: CompareOperator, node: ast.expr, scope: Scope) -> float | str:
    bound = _constant(node, scope)
    if isinstance(bound, str) and op in ("==", "!="):
        return bound
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise _Unknown  # an ordering with a string raises: see string_ordering
    return bound


def string_ordering(expression: Expression, scope: Scope) -> str | None:
    """The string `value` is ordered against, when the rule's first comparison does that.

    Only the first comparison of a rule is sure to run for every value (`or`,
    `and` and chains may skip the others), so only it makes the rule raise
    for every value.
    """
    node = expression.tree
    if not isinstance(node, ast.Compare):
        return None
    oriented = orient(node.left, node.ops[0], node.comparators[0])
    if oriented is None or oriented.operator in ("==", "!=") \
            or not scope.is_constant(oriented.bound):
        return None
    try:
        bound = scope.compute(oriented.bound)
    except Exception:  # reported by expression_errors
        return None
    return bound if isinstance(bound, str) else None


# --- findings over a whole check ---------------------------------------------


def threshold_findings(rules: Rules, scope: Scope, locate: Locate) -> list[Problem]:
    """Contradictions between the `pass`, `warn` and `fail` rules of one check."""
    written: dict[str, Expression] = dict(rules.items())
    sets: dict[str, ValueSet] = {}
    findings: list[Problem] = []
    for rule, expression in written.items():
        text = string_ordering(expression, scope)
        if text is not None:
            findings.append(locate(rule, f"expression {expression.text!r} orders the numeric "
                                         f"value against the string {text!r}, which raises "
                                         "at run time for every value"))
            continue
        with suppress(_Unknown):
            sets[rule] = matched_values(expression.tree, scope)
    if findings or len(sets) != len(written):
        return findings  # a rule we cannot judge could change every conclusion below
    return _contradictions(written, sets, locate)


def _contradictions(rules: Mapping[str, Expression], sets: Mapping[str, ValueSet],
                    locate: Locate) -> list[Problem]:
    hint = _defaults_hint(rules)

    def warning(rule: str, message: str) -> Problem:
        return locate(rule, message, hint=hint, severity="warning")

    findings: list[Problem] = []
    for rule, values in sets.items():
        if not values:
            findings.append(warning(rule, f"{rule} never holds: no value satisfies "
                                          f"{rules[rule].text!r}"))
    fail, warn = sets.get("fail", NOTHING), sets.get("warn", NOTHING)
    if "fail" in sets and warn and not difference(warn, fail):
        findings.append(warning("warn", f"warn never applies: every value that "
                                f"matches {rules['warn'].text!r} also matches fail "
                                f"({rules['fail'].text!r}), which is checked first"))
    if "pass" in sets and sets["pass"] and not difference(sets["pass"], union(fail, warn)):
        findings.append(warning("pass", "no value can pass: every value that meets "
                                f"{rules['pass'].text!r} matches fail or warn first"))
    elif "pass" not in sets and union(fail, warn) == EVERYTHING:
        findings.append(warning("fail" if "fail" in sets else "warn",
                                "no value can pass: every value matches fail or warn "
                                "(and there is no pass rule)"))
    return findings


def _defaults_hint(rules: Mapping[str, Expression]) -> str:
    reads_params = any(isinstance(n, ast.Name) and n.id != "value" and n.id not in _NOT_MEASURED
                       for e in rules.values() for n in ast.walk(e.tree))
    return "judged with the params' defaults" if reads_params else ""

"""Rule expressions (`pass`, `warn`, `fail`): parsed once, checked, run sandboxed.

An expression is Python expression syntax restricted to comparisons,
arithmetic, boolean logic, a few functions and the names a check provides.
It is parsed with `ast` at load time (so a policy with a bad expression never
starts a run), checked against a whitelist of node types and names, and
evaluated by simpleeval from the already parsed tree.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from simpleeval import AttributeDoesNotExist, SimpleEval, safe_add, safe_mult

from gacert.model import Expression
from gacert.policy.ruleshape import SERIES_NAMES, comparisons, free_names

# Names every expression may use besides the params of its policy: `baseline` is
# the previous release's results (`baseline.value`, see gacert.engine.baseline).
CHECK_NAMES = (*SERIES_NAMES, "params", "baseline")
BASELINE_KEYS = ("value",)
CONSTANTS: dict[str, Any] = {
    "true": True, "false": False, "True": True, "False": False, "None": None,
    "nan": math.nan, "inf": math.inf,
}
def _round(number: Any, ndigits: int = 0) -> float:
    # A huge negative ndigits makes Python build 10 ** -ndigits as a big
    # integer; no threshold needs more than a handful of digits.
    if not isinstance(ndigits, int) or abs(ndigits) > 15:
        raise ValueError(f"round(): ndigits must be a whole number from -15 to 15, not {ndigits}")
    return round(float(number), ndigits)


FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "round": _round}
# Keys of mappings (`labels.service`, `params.job`, a probe's `latency.p99`) are
# read with dots; only chains rooted at a name, never private attributes.

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.UnaryOp, ast.USub, ast.UAdd, ast.Not,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Call, ast.Name, ast.Load, ast.Constant, ast.Attribute, ast.Subscript, ast.IfExp,
    ast.Tuple, ast.List,
)
MAX_EXPRESSION_CHARS = 2000
# The evaluator recurses once per level; `- - - ... 1` or `1 + 1 + ... + 1` a
# thousand deep would exhaust Python's stack at run time. Rules need a handful.
MAX_NESTING = 50


def _float_power(base: Any, exponent: Any) -> float:
    # simpleeval's own `**` accepts operands up to 4,000,000 and then spends
    # half a minute on a big-integer power; in floating point a huge power
    # overflows at once, which we report instead of burning CPU.
    try:
        result: float = float(base) ** float(exponent)
        return result
    except OverflowError:
        raise ValueError(f"{base} ** {exponent} is too large") from None


OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: safe_add, ast.Sub: operator.sub, ast.Mult: safe_mult, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _float_power,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Gt: operator.gt, ast.Lt: operator.lt,
    ast.GtE: operator.ge, ast.LtE: operator.le, ast.Not: operator.not_,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class ExpressionSyntaxError(ValueError):
    """The text is not an allowed expression; the message says why."""


def compile_expression(text: str) -> Expression:
    """Parse and check `text`; raise ExpressionSyntaxError with a plain reason."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(f"expression is {len(text)} characters; at most "
                                    f"{MAX_EXPRESSION_CHARS} are allowed")
    # A literal YAML block may span lines; an expression is one logical line.
    source = text.strip().replace("\r\n", " ").replace("\n", " ")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if _is_statement(source):
            raise ExpressionSyntaxError(
                "an expression cannot assign or hold several statements") from None
        raise ExpressionSyntaxError(f"does not parse: {exc.msg}") from None
    depth = _nesting(tree)
    if depth > MAX_NESTING:
        raise ExpressionSyntaxError(f"expression nests {depth} levels deep; at most "
                                    f"{MAX_NESTING} are allowed")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionSyntaxError(_describe_forbidden(node))
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ExpressionSyntaxError(
                f"only these functions may be called: {', '.join(FUNCTIONS)}")
        elif isinstance(node, ast.Attribute) and not _is_key_path(node):
            raise ExpressionSyntaxError(
                "only keys of named mappings may be read with dots (labels.service, latency.p99)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) \
                and len(node.value) > 200:
            raise ExpressionSyntaxError("a string constant longer than 200 characters")
    return Expression(text=text, tree=tree.body, names=free_names(tree.body),
                      comparisons=comparisons(tree.body))


def _nesting(tree: ast.AST) -> int:
    """How deep the tree is, counted without recursion (the tree may be very deep)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _is_key_path(node: ast.Attribute) -> bool:
    """`a.b.c` where `a` is a name and no part is private (`_x`, `__class__`)."""
    target: ast.expr = node
    while isinstance(target, ast.Attribute):
        if target.attr.startswith("_"):
            return False
        target = target.value
    return isinstance(target, ast.Name)


def _is_statement(source: str) -> bool:
    try:
        module = ast.parse(source, mode="exec")
    except SyntaxError:
        return False
    return len(module.body) != 1 or not isinstance(module.body[0], ast.Expr)


def _describe_forbidden(node: ast.AST) -> str:
    if isinstance(node, ast.NamedExpr):
        return "an expression cannot assign (:=)"
    if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp |
                  ast.GeneratorExp):
        return "lambdas and comprehensions are not allowed"
    return f"{type(node).__name__} is not allowed in an expression"


def baseline_misuse(expression: Expression) -> str | None:
    """Why the expression reads `baseline` other than as `baseline.value`, or None."""
    parents = {id(child): node for node in ast.walk(expression.tree)
               for child in ast.iter_child_nodes(node)}
    for node in ast.walk(expression.tree):
        if not (isinstance(node, ast.Name) and node.id == "baseline"):
            continue
        parent = parents.get(id(node))
        if not isinstance(parent, ast.Attribute):
            return "baseline is read only as baseline.value"
        if parent.attr not in BASELINE_KEYS:
            return f"baseline has no key {parent.attr!r}: read baseline.value"
    return None


def unknown_names(expression: Expression, known: set[str]) -> list[str]:
    """The names `expression` reads that are neither built in nor in `known`."""
    allowed = known | set(CHECK_NAMES) | CONSTANTS.keys()
    return sorted(expression.names - allowed)


class _KeysOnlyEval(SimpleEval):  # type: ignore[misc]
    """simpleeval with dots that read mapping keys and nothing else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Tuple and list displays pass compile_expression (`value in (1, 2)`,
        # `labels.service in ['a', 'b']`); plain SimpleEval refuses them at run time.
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(item) for item in node.elts)
        self.nodes[ast.List] = lambda node: [self._eval(item) for item in node.elts]

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        container = self._eval(node.value)
        if isinstance(container, Mapping) and node.attr in container:
            return container[node.attr]
        if isinstance(container, Mapping):
            known = ", ".join(sorted(map(str, container))) or "none"
            raise AttributeDoesNotExist(f"no key {node.attr!r} (keys: {known})", self.expr)
        raise AttributeDoesNotExist(
            f"{type(container).__name__} has no keys; cannot read .{node.attr}", self.expr)


def evaluate(expression: Expression, names: Mapping[str, Any]) -> Any:
    """Run `expression` with `names` (plus constants); errors propagate as exceptions."""
    evaluator = _KeysOnlyEval(operators=OPERATORS, functions=FUNCTIONS,
                              names={**CONSTANTS, **names})
    return evaluator.eval(expression.text, previously_parsed=expression.tree)

"""A param changes a PromQL query only as a value: it never closes a string, a
matcher list, a selector or a function call.

Two checks, both before anything is queried:

1. Each place a param is used is read from the query template (inside a
   string, a label matcher list `{...}`, a range `[...]`, after `offset` or
   `@`, or elsewhere in the expression), and the value must be one thing of
   that kind on its own: the body of one string, a list of label matchers,
   one duration, one number or metric name. `tars"} or vector(100) or x{a="`
   is no string body, so it is refused.
2. The query rendered with the values used is parsed and its structure (the
   tree with every literal, label value, duration and metric name blanked)
   compared with the query rendered with the policy's defaults. A param used
   as a matcher list keeps the value used in both, as it was checked on its own.

Values are refused rather than escaped: escaping would change what a value
means (a regular expression's backslashes), and a refusal says so plainly.
`gacert validate` runs the first check on the defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from gacert.errors import UsageError
from gacert.policy import promql
from gacert.policy.variables import QUERY_VARIABLE, render_query

__all__ = ["Use", "check_params", "default_faults", "uses", "value_fault"]

Context = Literal["string", "matchers", "range", "offset", "at", "expression"]
_PROBE = "__gacert_value__"  # a metric name no query uses, to parse a value alone
_WHAT: dict[Context, str] = {
    "string": "the body of one string", "matchers": "a list of label matchers",
    "range": "one duration", "offset": "one duration", "at": "one timestamp",
    "expression": "one number or metric name",
}


@dataclass(frozen=True)
class Use:
    """One place a query template reads a param: its name and what surrounds it."""

    name: str
    context: Context
    quote: str = ""  # the string's quote character, for the string context


def uses(template: str) -> list[Use]:
    """Every variable the template reads, with its context, in order."""
    found: list[Use] = []
    quote = ""
    braces = brackets = 0
    index = 0
    while index < len(template):
        char = template[index]
        match = QUERY_VARIABLE.match(template, index) if char == "$" else None
        if match is not None:
            if match.group(0) != "$$":
                name = match.group("braced") or match.group("bare")
                found.append(Use(name, "string", quote) if quote else
                             Use(name, _context(template[:index], braces, brackets)))
            index = match.end()
            continue
        if quote:
            if char == "\\" and quote != "`":
                index += 1  # the escaped character cannot end the string
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "#":  # a comment, to the end of the line
            newline = template.find("\n", index)
            index = len(template) if newline < 0 else newline
            continue
        else:
            braces += {"{": 1, "}": -1}.get(char, 0)
            brackets += {"[": 1, "]": -1}.get(char, 0)
            braces, brackets = max(braces, 0), max(brackets, 0)
        index += 1
    return found


def _context(before: str, braces: int, brackets: int) -> Context:
    if braces:
        return "matchers"
    if brackets:
        return "range"
    if re.search(r"\boffset\s*$", before):
        return "offset"
    if before.rstrip().endswith("@"):
        return "at"
    return "expression"


def value_fault(value: str, use: Use) -> str | None:
    """Why `value` cannot stand where `use` puts it, or None when it is one value."""
    try:
        tree = promql.parse(_alone(value, use))
    except ValueError:
        tree = None
    if tree is not None and _is_one_value(tree, use.context):
        return None
    if use.context == "string":
        return f"it would end the {use.quote}...{use.quote} string it is used in"
    return f"it is not {_WHAT[use.context]}, as its place in the query needs"


def _alone(value: str, use: Use) -> str:
    """The value in a query of its own, in the kind of place it is used."""
    return {
        "string": f"{use.quote}{value}{use.quote}",
        "matchers": f"{_PROBE}{{{value}}}",
        "range": f"{_PROBE}[{value}]",
        "offset": f"{_PROBE} offset {value}",
        "at": f"{_PROBE} @ {value}",
        "expression": value,
    }[use.context]


def _is_one_value(tree: Any, context: Context) -> bool:
    kind = type(tree).__name__
    if context == "string":
        return kind == "StringLiteral"
    if context == "expression":
        if kind == "NumberLiteral":
            return math.isfinite(tree.val)
        return kind == "VectorSelector" and _bare(tree) and not _matchers(tree)
    if context == "range":
        return kind == "MatrixSelector" and _bare(tree.vector_selector) \
            and not _matchers(tree.vector_selector)
    if kind != "VectorSelector" or tree.name != _PROBE:
        return False
    if context == "matchers":
        return _bare(tree)
    if context == "offset":
        return tree.offset is not None and tree.at is None and not _matchers(tree)
    return tree.at is not None and tree.offset is None and not _matchers(tree)  # at


def _bare(selector: Any) -> bool:
    return selector.offset is None and selector.at is None


def _matchers(selector: Any) -> bool:
    return bool(selector.matchers.matchers or selector.matchers.or_matchers)


def default_faults(template: str, defaults: Mapping[str, str]) -> list[tuple[str, str]]:
    """(param, why) for each default that cannot stand where the template uses it."""
    faults = []
    for use in uses(template):
        if use.name in defaults:
            fault = value_fault(defaults[use.name], use)
            if fault is not None:
                faults.append((use.name, fault))
    return faults


def check_params(queries: Sequence[tuple[str, str]], values: Mapping[str, str],
                 defaults: Mapping[str, str], window: Mapping[str, str],
                 overridden: Collection[str]) -> None:
    """Refuse (UsageError, exit 2) a param value that would change a query's structure.

    `queries` are (where, template) pairs of the PromQL a run will send; `values`
    and `defaults` the params as query text; `overridden` the params set at run
    time, which are the ones a structure change can come from.
    """
    for where, template in queries:
        template_uses = [u for u in uses(template) if u.name in values]
        for use in template_uses:
            fault = value_fault(values[use.name], use)
            if fault is not None:
                _refuse(use.name, values[use.name], fault, where)
        as_matchers = {u.name for u in template_uses if u.context == "matchers"}
        changed = [n for n in dict.fromkeys(u.name for u in template_uses) if n in overridden
                   and n not in as_matchers and values[n] != defaults.get(n)]
        if changed:
            _compare_structure(where, template, values, defaults, window, as_matchers, changed)


def _compare_structure(where: str, template: str, values: Mapping[str, str],
                       defaults: Mapping[str, str], window: Mapping[str, str],
                       as_matchers: set[str], changed: list[str]) -> None:
    reference = {**defaults, **{n: values[n] for n in as_matchers}, **window}
    try:
        expected = _shape(promql.parse(render_query(template, reference)))
    except ValueError:
        return  # the defaults do not parse: `gacert validate` and the source say so
    for name in changed:  # one at a time, so that the refusal names the param at fault
        rendered = render_query(template, {**reference, name: values[name]})
        try:
            shape = _shape(promql.parse(rendered))
        except ValueError as exc:
            _refuse(name, values[name], f"the query would no longer be PromQL ({exc})", where)
        if shape != expected:
            _refuse(name, values[name], "it changes the structure of the query, not only a "
                    "value in it", where)


def _refuse(name: str, value: str, fault: str, where: str) -> NoReturn:
    raise UsageError(f"param {name} = {value!r} is refused: {fault} ({where}); a param may "
                     "change a query only as a value")


def _shape(node: Any) -> tuple[Any, ...]:
    """The structure of a parsed query: node kinds, functions, operators, label names
    and modifiers, with every literal, label value, duration and metric name blanked."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        return (kind, node.name is not None, node.offset is not None, node.at is not None,
                tuple(sorted((m.name, str(m.op)) for m in node.matchers.matchers)),
                tuple(tuple(sorted((m.name, str(m.op)) for m in group))
                      for group in node.matchers.or_matchers))
    if kind == "MatrixSelector":
        return (kind, _shape(node.vector_selector))
    if kind == "SubqueryExpr":
        return (kind, _shape(node.expr), node.offset is not None, node.at is not None)
    if kind == "Call":
        return (kind, node.func.name, tuple(_shape(a) for a in node.args))
    if kind == "AggregateExpr":
        param = _shape(node.param) if node.param is not None else None
        return (kind, str(node.op), _modifier(node.modifier), _shape(node.expr), param)
    if kind == "BinaryExpr":
        return (kind, str(node.op), _modifier(node.modifier), _shape(node.lhs),
                _shape(node.rhs))
    if kind in ("ParenExpr", "UnaryExpr"):
        return (kind, _shape(node.expr))
    return (kind,)  # NumberLiteral, StringLiteral: values


def _modifier(modifier: Any) -> str | None:
    return None if modifier is None else str(modifier)

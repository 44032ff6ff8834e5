"""gacert.policy.rulecheck: what rules reveal before a run, and the sets of values they match.

The property tests compare the exact value sets with what the evaluator
says at sample points (every bound, between bounds, the infinities), and
check that each threshold warning is true of every sample value.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gacert.errors import Problem
from gacert.model import Rules
from gacert.policy.expressions import compile_expression, evaluate
from gacert.policy.rulecheck import (
    EVERYTHING,
    NOTHING,
    Interval,
    Scope,
    ValueSet,
    complement,
    expression_errors,
    intersection,
    matched_values,
    threshold_findings,
    union,
)

INF = math.inf
DEFAULTS = {"lim": 1000, "low": 800, "job": "api", "zero": 0}
SCOPE = Scope(DEFAULTS)


def locate(rule: str, message: str, *, hint: str = "", severity: str = "error") -> Problem:
    """Findings located by their rule alone, as `path`."""
    return Problem("policy.yaml", 0, 0, rule, message, hint, severity)


def compiled(texts: dict[str, str]) -> Rules:
    rule = {name: compile_expression(text) for name, text in texts.items()}
    return Rules(pass_=rule.get("pass"), warn=rule.get("warn"), fail=rule.get("fail"))


def contains(values: ValueSet, x: float) -> bool:
    return any((i.low < x or (i.low == x and i.low_closed))
               and (x < i.high or (x == i.high and i.high_closed)) for i in values)


def holds(text: str, value: float) -> bool:
    names: dict[str, Any] = {**DEFAULTS, "params": DEFAULTS, "value": value, "labels": {}}
    return bool(evaluate(compile_expression(text), names))


def samples(bounds: list[float]) -> list[float]:
    finite = sorted({b for b in bounds if math.isfinite(b)} | {0.0})
    between = [(a + b) / 2 for a, b in itertools.pairwise(finite)]
    return [-INF, INF, *finite, *between, finite[0] - 1, finite[-1] + 1]


# --- the interval algebra -------------------------------------------------------------


def test_complement_of_everything_is_nothing_and_back() -> None:
    assert complement(EVERYTHING) == NOTHING
    assert complement(NOTHING) == EVERYTHING


def test_union_merges_touching_intervals() -> None:
    left = (Interval(-INF, True, 1, False),)
    right = (Interval(1, True, INF, True),)
    assert union(left, right) == EVERYTHING
    assert union(left, (Interval(1, False, INF, True),)) == complement(
        (Interval(1, True, 1, True),))


def test_intersection_of_a_point_and_an_open_interval_is_empty() -> None:
    assert intersection((Interval(1, True, 1, True),), (Interval(1, False, 2, True),)) == NOTHING


# --- matched values against the evaluator -----------------------------------------------

OPS = ["<", "<=", ">", ">=", "==", "!="]
BOUNDS = ["1000", "800", "lim", "low", "lim * 0.8", "-5", "0", "inf", "-inf", "nan",
          "params['lim']", "max(low, 900)"]


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    op, bound = draw(st.sampled_from(OPS)), draw(st.sampled_from(BOUNDS))
    if draw(st.booleans()):
        return f"value {op} {bound}"
    return f"{bound} {op} value"


rules = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda r: f"not ({r})"),
    ),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(rules)
def test_matched_values_agree_with_the_evaluator(rule: str) -> None:
    values = matched_values(compile_expression(rule).tree, SCOPE)
    for x in samples([1000, 800, 900, 640, -5, 0]):
        assert contains(values, x) == holds(rule, x), (rule, x, values)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["pass", "warn", "fail"]), rules, min_size=1))
def test_every_threshold_warning_is_true(chosen: dict[str, str]) -> None:
    findings = threshold_findings(compiled(chosen), SCOPE, locate)
    points = samples([1000, 800, 900, 640, -5, 0])
    for finding in findings:
        for x in points:
            matched = {name: holds(text, x) for name, text in chosen.items()}
            if finding.message.startswith("warn never applies"):
                assert not matched["warn"] or matched["fail"], (chosen, x)
            elif finding.message.startswith("no value can pass"):
                assert decide(matched) != "pass", (chosen, x)
            elif "never holds" in finding.message:
                assert not matched[finding.path], (chosen, x)


def decide(matched: dict[str, bool]) -> str:
    """The status rules give, in the order gacert.engine.evaluate applies them."""
    if matched.get("fail"):
        return "fail"
    if matched.get("warn"):
        return "warn"
    return "pass" if matched.get("pass", True) else "fail"


def test_a_rule_on_labels_cannot_be_judged() -> None:
    rules = compiled({"fail": "value > 1 and labels.zone == 'a'", "warn": "value > 2"})
    assert threshold_findings(rules, SCOPE, locate) == []


def test_a_measured_name_is_never_a_constant() -> None:
    # A probe's measurement shadows a param of the same name at run time.
    scope = Scope({"latency": 5}, measured=frozenset({"latency"}))
    rules = compiled({"fail": "value > latency", "warn": "value > latency * 2"})
    assert threshold_findings(rules, scope, locate) == []


# --- errors no value avoids ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("value > 10 ** 400", "10 ** 400 cannot be computed: 10 ** 400 is too large",
                     id="an overflowing power"),
        pytest.param("value > job * 100000", "the result would be a giant string or list",
                     id="a giant string from a param"),
        pytest.param("value > lim / zero", "lim / zero cannot be computed: division by zero",
                     id="a division by a zero param"),
        pytest.param("value > round(1, 99)", "ndigits must be a whole number",
                     id="a function call that raises"),
    ],
)
def test_a_constant_part_that_raises_is_an_error(text: str, message: str) -> None:
    findings = expression_errors("fail", compile_expression(text), SCOPE, locate)
    assert [f.severity for f in findings] == ["error"]
    assert message in findings[0].message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("value > lim * 0.8", id="arithmetic on params"),
        pytest.param("value ** 2 > 10 ** 300", id="a large but finite power"),
    ],
)
def test_constant_parts_that_compute_are_fine(text: str) -> None:
    assert expression_errors("fail", compile_expression(text), SCOPE, locate) == []


def test_a_raising_part_is_an_error_even_when_only_some_values_reach_it() -> None:
    # `or` skips the division while value > 0, and raises for every other value.
    findings = expression_errors("fail", compile_expression("value > 0 or 1 / zero > 0"), SCOPE,
                                 locate)
    assert [f.message for f in findings] == ["1 / zero > 0 cannot be computed: division by zero"]

"""A check's thresholds: the bounds its rules compare the value with, as numbers.

Each rule's comparisons were found when the policy was loaded
(gacert.policy.ruleshape); here their bounds are computed with the run's
params. Evaluation writes the result into each check of results.json, where
charts draw the lines and reports read error budgets. A rule that reads
`labels` holds for some series only, and a bound that is no finite number
under the params (a probe's measurement, a string) gives no line: better no
line than a wrong one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gacert.model import Expression, Rules, Threshold
from gacert.policy.expressions import evaluate
from gacert.policy.ruleshape import FLIPPED

__all__ = ["thresholds"]


def thresholds(rules: Rules, params: Mapping[str, Any]) -> tuple[Threshold, ...]:
    """Every `value OP bound` of the rules (fail, warn, pass) with its bound computed."""
    names = {**params, "params": dict(params)}
    found: list[Threshold] = []
    for rule, expression in rules.items():
        if "labels" in expression.names:
            continue
        for comparison in expression.comparisons:
            bound = _number(comparison.bound, names)
            if bound is None:
                continue
            found.append(Threshold(rule, comparison.operator, bound, expression.text))
            if comparison.absolute and bound != 0:  # abs(value) >= x: the line at -x too
                found.append(Threshold(rule, FLIPPED[comparison.operator], -bound,
                                       expression.text))
    return tuple(found)


def _number(bound: Expression, names: Mapping[str, Any]) -> float | None:
    try:
        result = evaluate(bound, names)
        if isinstance(result, bool) or not isinstance(result, int | float):
            return None
        number = float(result)  # an integer too large for a float raises here
    except Exception:  # an unknown name or a bad operand: no line, not a failure
        return None
    return number if math.isfinite(number) else None

"""Plan a run: the window, the params and every query rendered for it.

The plan is also what `gacert plan` prints, so a user sees exactly what will
be sent before anything is. Planning refuses (exit 2) a param value that
would change the structure of a PromQL query rather than a value in it
(gacert.policy.paramsafety), so that such a value never reaches a source.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from gacert.engine.coverage import PROMQL_SOURCE, CoveragePlan, plan_coverage
from gacert.model import Check, ParamValue, Policy, Query, Window
from gacert.policy.paramsafety import check_params
from gacert.policy.variables import format_param, render_query


@dataclass(frozen=True)
class PlannedCheck:
    check: Check
    query: Query
    # How the evidence's coverage of the window is measured; None when built by hand.
    coverage: CoveragePlan | None = None


@dataclass(frozen=True)
class Plan:
    window: Window
    params: Mapping[str, ParamValue]
    checks: tuple[PlannedCheck, ...]


def build_plan(policy: Policy, window: Window, params: Mapping[str, ParamValue],
               overridden: Collection[str] = ()) -> Plan:
    """Every check's query rendered for the window; `overridden` names the params set
    at run time, whose values are checked to change their queries only as values."""
    values = {name: format_param(value) for name, value in params.items()}
    defaults = {name: format_param(p.default) for name, p in policy.params.items()}
    window_values = window.variables()
    check_params(_promql_templates(policy), values, defaults, window_values, overridden)
    variables = {**values, **window_values}
    reference = render_query(policy.window.coverage_reference, variables).strip()
    planned = []
    for check in policy.checks:
        text = render_query(check.query, variables).strip()
        source_type = policy.sources[check.source].type
        planned.append(PlannedCheck(
            check,
            Query(check_id=check.id, text=text, mode=check.mode, start=window.start,
                  end=window.end, step_seconds=window.step_seconds),
            plan_coverage(check, text, source_type, window, reference)))
    return Plan(window=window, params=dict(params), checks=tuple(planned))


def _promql_templates(policy: Policy) -> list[tuple[str, str]]:
    """(where, template) of every PromQL query a run may send."""
    found = [(f"check {c.id}", c.query) for c in policy.checks
             if policy.sources[c.source].type == PROMQL_SOURCE]
    if found:
        found.append(("window.coverage.reference", policy.window.coverage_reference))
    return found

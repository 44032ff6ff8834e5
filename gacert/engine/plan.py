"""Plan a run: the window, the params and every query rendered for it.

The plan is also what `gacert plan` prints, so a user sees exactly what will
be sent before anything is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gacert.model import Check, ParamValue, Policy, Query, Window
from gacert.policy.variables import format_param, render_query


@dataclass(frozen=True)
class PlannedCheck:
    check: Check
    query: Query


@dataclass(frozen=True)
class Plan:
    window: Window
    params: Mapping[str, ParamValue]
    checks: tuple[PlannedCheck, ...]


def build_plan(policy: Policy, window: Window, params: Mapping[str, ParamValue]) -> Plan:
    variables = {name: format_param(value) for name, value in params.items()}
    variables.update(window.variables())
    planned = tuple(
        PlannedCheck(check, Query(
            check_id=check.id,
            text=render_query(check.query, variables).strip(),
            mode=check.mode,
            start=window.start,
            end=window.end,
            step_seconds=window.step_seconds,
        ))
        for check in policy.checks
    )
    return Plan(window=window, params=dict(params), checks=planned)

"""Plan a run: the window, the params and every query rendered for it.

The plan is also what `gacert plan` prints, so a user sees exactly what will
be sent before anything is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gacert.errors import UsageError
from gacert.policy import Check, ParamValue, Policy
from gacert.sources.base import Query
from gacert.window import Window

# `$$` is a literal dollar; `${name}` and `$name` are params or window variables.
# A `$` before anything else (a regex anchor such as `:9090$"`) stays as it is.
QUERY_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}"
                            r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class PlannedCheck:
    check: Check
    query: Query


@dataclass(frozen=True)
class Plan:
    window: Window
    params: Mapping[str, ParamValue]
    checks: tuple[PlannedCheck, ...]


def query_variable_names(text: str) -> list[str]:
    """Every variable a query template reads, in order (for validation)."""
    return [m.group("braced") or m.group("bare") for m in QUERY_VARIABLE.finditer(text)
            if m.group(0) != "$$"]


def format_param(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_query(text: str, variables: Mapping[str, str]) -> str:
    """`text` with its variables replaced; an unknown name is a UsageError."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        if name not in variables:
            raise UsageError(f"query variable ${name} is neither a param nor a window variable")
        return variables[name]
    return QUERY_VARIABLE.sub(replace, text)


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

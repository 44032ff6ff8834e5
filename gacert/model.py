"""The types that cross stages, as frozen dataclasses: one module every stage imports.

    policy YAML --gacert.policy--> Policy, Check, Rules (compiled Expressions)
    window options --gacert.engine.window--> Window
    Window + Policy --gacert.engine.plan--> Query (one per check)
    Query --a gacert.sources adapter--> Fetched (Series, measurements, evidence)
    Fetched --gacert.engine.fetch--> Outcome (data or the error sentence)
    Outcome --gacert.engine.evaluate--> CheckResult, then RunResult
    RunResult --gacert.engine.results--> the results document (gacert.document)

Nothing here does I/O or imports a stage; stages import from here.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from gacert.durations import format_duration

Status = Literal["pass", "warn", "fail", "no_data", "error"]
ParamValue = bool | int | float | str

Verdict = Literal["pass", "warn", "fail", "error"]


# --- the policy (built by gacert.policy) ----------------------------------------

@dataclass(frozen=True)
class Expression:
    """A parsed rule expression and the free names it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]


DEFAULT_WINDOW = "24h"
DEFAULT_STEP = "1m"
DEFAULT_SCRAPE_INTERVAL = "15s"
OTHER_SECTION_ID = "other"


@dataclass(frozen=True)
class WindowDefaults:
    duration_seconds: float
    step_seconds: float
    scrape_interval_seconds: float


@dataclass(frozen=True)
class Param:
    name: str
    default: ParamValue
    description: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """A source as written: settings keep `${VAR}` until the run interpolates them."""

    id: str
    type: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Rules:
    """The expressions that decide a check, each optional (at least one is set)."""

    pass_: Expression | None
    warn: Expression | None
    fail: Expression | None

    def items(self) -> list[tuple[str, Expression]]:
        named = (("fail", self.fail), ("warn", self.warn), ("pass", self.pass_))
        return [(name, expr) for name, expr in named if expr is not None]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    description: str
    source: str
    query: str
    mode: Literal["instant", "range"]
    over_time: str | None
    series: str
    unit: str
    precision: int
    rules: Rules
    no_data: Status
    gate: bool
    tags: tuple[str, ...]
    section: str
    # The policy line where the check starts (its `- id:`), for CI annotations
    # that point at it; 0 when unknown.
    line: int = 0


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    description: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str
    version: int
    name: str
    title: str
    description: str
    labels: Mapping[str, str]
    window: WindowDefaults
    params: Mapping[str, Param]
    sources: Mapping[str, SourceSpec]
    checks: tuple[Check, ...]
    report_title: str
    sections: tuple[Section, ...]
    # Report kind ('report', 'ga_day', 'html', 'email') -> template path as written,
    # relative to the policy file; kinds not named use the built-in templates.
    report_templates: Mapping[str, str] = field(default_factory=dict)


# --- the window (resolved by gacert.engine.window) ------------------------------

@dataclass(frozen=True)
class Window:
    """A closed interval [start, end] in UTC and the resolution of range queries."""

    start: datetime
    end: datetime
    step_seconds: float
    scrape_interval_seconds: float

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def variables(self) -> dict[str, str]:
        """Window variables by name (without `$`), as Grafana users know them."""
        range_s = self.duration_seconds
        step = self.step_seconds
        rate_interval = max(step + self.scrape_interval_seconds, 4 * self.scrape_interval_seconds)
        return {
            "__range": f"{round(range_s)}s",
            "__range_s": str(round(range_s)),
            "__range_ms": str(round(range_s * 1000)),
            "__interval": format_duration(step),
            "__interval_s": str(round(step)),
            "__interval_ms": str(round(step * 1000)),
            "__rate_interval": format_duration(rate_interval),
            "__from": str(round(self.start.timestamp() * 1000)),
            "__to": str(round(self.end.timestamp() * 1000)),
        }


# The names of the window variables (without `$`), for validation.
WINDOW_VARIABLES = tuple(
    Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC), 60, 15).variables()
)


# --- what sources answer (the contract of gacert.sources) ----------------------

Mode = Literal["instant", "range"]


@dataclass(frozen=True)
class Query:
    """What one check asks of its source, fully rendered for the window."""

    check_id: str
    text: str  # the query after params and window variables were substituted
    mode: Mode
    start: datetime  # timezone-aware UTC
    end: datetime  # timezone-aware UTC; instant queries are evaluated here
    step_seconds: float  # resolution of range queries


@dataclass(frozen=True)
class Series:
    """One labelled time series: for an instant query, a single point."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix seconds, value); NaN and +-Inf kept


@dataclass(frozen=True)
class Fetched:
    """A source's answer to one query.

    Query sources (Prometheus) return series only. Probe sources (http,
    websocket, command, file) also return their `measurements`: named values
    (numbers, or mappings of numbers such as `latency.p99`) that rule
    expressions may read by name, and `evidence`: JSON-able raw data (samples,
    failures by cause) recorded in the results for auditors.
    """

    series: tuple[Series, ...]
    warnings: tuple[str, ...] = field(default=())
    measurements: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the fetch stage got for one check: data, or the error sentence."""

    fetched: Fetched | None
    error: str | None
    seconds: float


# --- results (made by gacert.engine.evaluate, written by gacert.engine.results) ---

@dataclass(frozen=True)
class SeriesResult:
    labels: Mapping[str, str]
    value: float | None
    status: Status
    points: tuple[tuple[float, float], ...] | None  # range checks only


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    description: str
    section: str
    source: str
    gate: bool
    tags: tuple[str, ...]
    status: Status
    value: float | None
    unit: str
    precision: int
    reason: str
    decided_by: str | None
    expression: str | None
    rules: Mapping[str, str | None]
    no_data: Status
    query: str
    mode: str
    over_time: str | None
    series_reduction: str
    series: tuple[SeriesResult, ...]
    warnings: tuple[str, ...]
    error: str | None
    duration_seconds: float
    measurements: Mapping[str, Any]  # a probe's named values, as rules saw them
    evidence: Mapping[str, Any]  # a probe's raw data (samples, failures by cause)
    line: int = 0  # the check's line in the policy file; 0 when unknown


@dataclass(frozen=True)
class SourceInfo:
    id: str
    type: str
    endpoint: str


@dataclass(frozen=True)
class Timings:
    started_at: str
    finished_at: str
    duration_seconds: float
    fetch_seconds: float


@dataclass(frozen=True)
class RunResult:
    status: Verdict
    policy: Policy
    window: Window
    params: Mapping[str, Any]
    sources: tuple[SourceInfo, ...]
    timings: Timings
    checks: tuple[CheckResult, ...]

"""The policy model: what a validated policy file means, as frozen dataclasses.

`gacert.validate` builds a `Policy` from a YAML document that passed the
schema; nothing downstream reads the YAML again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gacert.expressions import Expression

Status = Literal["pass", "warn", "fail", "no_data", "error"]
ParamValue = bool | int | float | str

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

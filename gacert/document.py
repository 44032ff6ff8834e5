"""The results document (results.json) as types, for every stage that reads it.

`gacert.engine.results` turns a RunResult into this document and reads it
back (validated against schemas/results.schema.json); reports, packages and
the terminal summary read nothing else. It is JSON, so its parts are
TypedDicts that follow the schema key by key: a key the schema requires is
required here, one it leaves optional is NotRequired. Readers must ignore
keys they do not know, so a part may carry more keys than listed.

Numbers JSON cannot hold are written as the strings "NaN", "+Inf" and "-Inf"
(`JsonNumber`). Only a probe's `measurements` and `evidence` are arbitrary
JSON, and typed as such.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from gacert.model import ParamValue, Status, Verdict

__all__ = [
    "ChangeDocument",
    "CheckDocument",
    "CheckStateDocument",
    "CoverageDocument",
    "CoverageRuleDocument",
    "FieldChangeDocument",
    "GaDayDocument",
    "GapDocument",
    "JsonNumber",
    "NonFinite",
    "NotificationDocument",
    "OriginDocument",
    "OriginPolicyDocument",
    "OverrideDocument",
    "Point",
    "PolicyDocument",
    "RegradeDocument",
    "RegradeSummaryDocument",
    "ResultsDocument",
    "RulesDocument",
    "ScoreCheckDocument",
    "ScoreDocument",
    "SectionDocument",
    "SeriesDocument",
    "SloDocument",
    "SnapshotDocument",
    "SourceDocument",
    "StatusChangeDocument",
    "SummaryDocument",
    "SummaryOfSeries",
    "ThresholdDocument",
    "TimingsDocument",
    "TracePoint",
    "TrendDocument",
    "WaiverDocument",
    "WaiversDocument",
    "WatchDocument",
    "WindowDocument",
]

NonFinite = Literal["NaN", "+Inf", "-Inf"]
JsonNumber = float | NonFinite
# [unix seconds, value]: a JSON array, so a list; the time is always a finite number.
Point = list[JsonNumber]


class SloDocument(TypedDict):
    objective: float  # percent of good the SLO promises
    value: Literal["good", "bad"]  # what the check's value is the percent of


class GaDayDocument(TypedDict):
    # The sections as the policy declares them (report.ga_day), every part key present;
    # the parts are template data, so they stay plain JSON here.
    sections: list[dict[str, Any]]


class PolicyDocument(TypedDict):
    name: str
    sha256: str  # of the policy file's bytes, lower-case hex
    version: int
    title: NotRequired[str | None]
    path: NotRequired[str | None]  # as given on the command line
    # Report kind (report, ga_day, html, email) -> template path, relative to the
    # working directory of the run.
    report_templates: NotRequired[dict[str, str]]
    # Written by every run, though the schema does not list them (yet).
    description: NotRequired[str]
    labels: NotRequired[dict[str, str]]
    report_title: NotRequired[str]
    ga_day: NotRequired[GaDayDocument]


class CoverageRuleDocument(TypedDict):
    """The policy's window coverage: what a check's evidence must cover by default."""

    min: float  # share of the window, 0..1
    max_gap_seconds: float
    reference: str  # the series checks that read only optional series are measured on


class WindowDocument(TypedDict):
    start: str  # RFC 3339, UTC
    end: str  # RFC 3339, UTC; instant queries are evaluated here
    duration_seconds: float
    step_seconds: float
    coverage: NotRequired[CoverageRuleDocument]


class SourceDocument(TypedDict):
    id: str
    type: str
    endpoint: NotRequired[str | None]  # never with credentials


class TimingsDocument(TypedDict):
    started_at: str  # RFC 3339, UTC
    finished_at: str  # RFC 3339, UTC
    duration_seconds: float
    # A run always writes it; gacert.report.render.complete() sets None ("not
    # known") in documents that lack it, which templates show as N/A.
    fetch_seconds: NotRequired[float | None]


# Functional form: `pass` is a Python keyword. Results written before the
# insufficient status existed have no count of it.
SummaryDocument = TypedDict("SummaryDocument", {
    "total": int, "gate": int, "pass": int, "warn": int, "fail": int, "no_data": int,
    "error": int, "insufficient": NotRequired[int],
    # Written since the no_baseline status exists, like insufficient.
    "no_baseline": NotRequired[int],
    # Gate checks a waiver in force takes (or takes in part) out of the verdict;
    # written when the policy has waivers.
    "waived": NotRequired[int],
})

# Rule name (pass, warn, fail) -> the expression as written; None or absent for a
# rule not set. A plain dict rather than a TypedDict, so that it is the
# mapping of rule texts that readers iterate over.
RulesDocument = dict[str, str | None]


class SectionDocument(TypedDict):
    id: str
    title: str
    checks: list[str]  # check ids, in order
    description: NotRequired[str]


# [bucket start (unix seconds), lowest value, highest value]; null values for a
# bucket without a value (a gap).
TracePoint = list[JsonNumber | None]


class SummaryOfSeries(TypedDict):
    """What one pass over a range series' samples measured (gacert.engine.reduce)."""

    samples: int  # samples the source returned
    values: int  # of them with a value (not NaN)
    first: float | None  # unix seconds of the first sample
    last: float | None
    low: JsonNumber | None  # the lowest value, NaN ignored
    high: JsonNumber | None
    gap: list[float] | None  # [start, end] of the longest stretch between two samples


class SeriesDocument(TypedDict):
    labels: dict[str, str]
    value: JsonNumber | None  # after reduction over time
    status: Status
    summary: NotRequired[SummaryOfSeries]  # range checks only
    # Range checks, only the worst `keep_points` series of the check: every sample,
    # and the trace charts draw.
    points: NotRequired[list[Point]]
    trace: NotRequired[list[TracePoint]]
    # The baseline run's value of the series with the same labels (null: none);
    # written when the run had a baseline.
    baseline: NotRequired[JsonNumber | None]
    # True when a series waiver in force matches it: it does not gate the verdict.
    waived: NotRequired[bool]


class ThresholdDocument(TypedDict):
    """A `value OP bound` comparison read back from a rule, its bound evaluated."""

    rule: str  # fail, warn or pass
    operator: str  # >=, >, <=, <, ==, !=
    value: float
    expression: str  # the rule as written


class GapDocument(TypedDict):
    start: str  # RFC 3339, UTC
    end: str
    seconds: float


class CoverageDocument(TypedDict):
    """How much of the window a check's evidence covers (see gacert.model.Coverage)."""

    method: Literal["points", "selectors", "reference", "none"]
    note: str  # what was measured, or why nothing was
    start: str  # the span measured, RFC 3339, UTC
    end: str
    share: float | None  # 0..1; None when not measured
    largest_gap: GapDocument | None
    gaps: list[GapDocument]  # the longest ones, in time order
    gap_count: int  # all gaps, also those not listed
    min: float | None  # the rule; None when not judged
    max_gap_seconds: float | None
    sufficient: bool | None  # None when not judged
    query: str | None  # the coverage query (selectors, reference)


class OverrideDocument(TypedDict):
    """A value a run used instead of the committed policy's."""

    name: str  # the param, or the setting's path (sources.prometheus.url)
    kind: Literal["param", "setting"]
    default: Any  # the committed value; None when the policy commits none
    value: Any  # the value used; secrets are REDACTED
    origin: str  # "command line", or "environment VAR"


class CheckDocument(TypedDict):
    id: str
    title: str
    status: Status
    value: JsonNumber | None  # the deciding value
    unit: str | None
    reason: str
    query: str | None
    series: list[SeriesDocument]
    error: str | None  # None unless the status is error
    # Range checks: how many series keep their points (the worst first), and the
    # band (a trace of the lowest and highest of them) of the others.
    keep_points: NotRequired[int]
    band: NotRequired[list[TracePoint]]
    description: NotRequired[str]
    section: NotRequired[str | None]
    source: NotRequired[str]
    gate: NotRequired[bool]
    tags: NotRequired[list[str]]
    precision: NotRequired[int]
    decided_by: NotRequired[str | None]  # pass, warn, fail, no_data or None
    expression: NotRequired[str | None]
    rules: NotRequired[RulesDocument]
    no_data: NotRequired[Status]
    mode: NotRequired[str]  # instant or range
    over_time: NotRequired[str | None]  # max, min, avg, ..., p99; None for instant checks
    series_reduction: NotRequired[str]  # each, max, min, avg, sum or count
    warnings: NotRequired[list[str]]
    duration_seconds: NotRequired[float]
    # A probe's named values and its raw data: arbitrary JSON.
    measurements: NotRequired[dict[str, Any]]
    evidence: NotRequired[dict[str, Any]]
    thresholds: list[ThresholdDocument]
    slo: NotRequired[SloDocument | None]
    coverage: NotRequired[CoverageDocument]
    line: NotRequired[int]  # where the check starts in the policy file; 0 when unknown
    waiver: NotRequired[WaiverDocument]  # the policy's waiver of this check, if any
    # The check beside the baseline run; written when the run had a baseline or a
    # rule of the check reads one.
    baseline: NotRequired[CheckBaselineDocument]


class CheckBaselineDocument(TypedDict):
    """A check's value beside the baseline's (gacert.engine.baseline)."""

    value: float | None  # the baseline's value; null when there is none
    change: float | None  # this run's value minus the baseline's
    relative_change: float | None  # change / |baseline value|; null when it is 0
    missing: str  # why there is no baseline value; "" when there is one
    same_query: bool  # false: the baseline measured the check with another query


class BaselineWindowDocument(TypedDict):
    start: str
    end: str


class BaselineDocument(TypedDict):
    """The previous release's results the run compared with (--baseline)."""

    path: str  # as given
    results_sha256: str  # of the results.json read
    manifest_sha256: str | None  # of its package's manifest; null: a lone results.json
    status: str  # the baseline run's verdict
    policy: str  # the baseline policy's name
    window: BaselineWindowDocument


class WaiverDocument(TypedDict):
    """A check's waiver as the policy states it and as it was judged."""

    reason: str
    approver: str
    expires: str  # RFC 3339, UTC: the moment it stops waiving
    expires_as_written: str  # as the policy states it (a date, or a time)
    ticket: str | None
    series: list[dict[str, str]] | None  # label matchers; None: the whole check
    in_force: bool  # not expired at judged_at
    judged_at: str  # RFC 3339, UTC
    series_waived: int  # series of the check the matchers matched
    counts_as: Status | None  # the status it counts with in the verdict; None: not at all
    line: int  # the waiver's line in the policy file


class WaiversDocument(TypedDict):
    """The policy's waivers at the moment of judging (written when it has any)."""

    judged_at: str  # RFC 3339, UTC
    count: int
    in_force: int
    expired: int
    waived: int  # gate checks that count in the verdict with another status than theirs


class ScoreCheckDocument(TypedDict):
    id: str
    weight: float
    points: float  # the weight for pass, half of it for warn, else 0


class ScoreDocument(TypedDict):
    """The optional total score: an addition to the verdict, never a replacement."""

    value: float | None  # percent of the weights; None when every weight is 0
    status: Literal["pass", "warn", "fail"] | None
    pass_at: float  # the policy's bounds, in percent
    warn_at: float
    points: float
    weights: float
    checks: list[ScoreCheckDocument]


class FieldChangeDocument(TypedDict):
    """One thing that changed in how a check is judged (a rule, a param it reads)."""

    field: str  # "rule fail", "param p99_latency_ms_max", "gate", "no_data", "series"
    old: str | None  # None where it was absent
    new: str | None


class CheckStateDocument(TypedDict):
    status: Status | None  # None on the side that does not have the check
    value: JsonNumber | None


class ChangeDocument(TypedDict):
    """A check before and after a re-grade."""

    check: str
    title: str
    gate: bool
    old: CheckStateDocument
    new: CheckStateDocument
    unit: str | None
    precision: int
    flipped: bool  # the status changed
    regradable: bool  # False: the stored evidence cannot be judged with the check as it is now
    note: str  # why it is not re-gradable, or that it was removed
    changes: list[FieldChangeDocument]


class OriginPolicyDocument(TypedDict):
    name: str | None
    sha256: str | None
    path: str | None


class OriginDocument(TypedDict):
    """The results a re-grade judged again."""

    path: str | None  # as given on the command line
    results_sha256: str  # of the results.json bytes re-graded
    manifest_sha256: str | None  # of the package's manifest; None outside a package
    status: Verdict  # the origin's verdict
    gacert_version: str | None
    policy: OriginPolicyDocument


class RegradeSummaryDocument(TypedDict):
    changed: int
    flipped: int
    not_regradable: int
    added: int
    removed: int


class RegradeDocument(TypedDict):
    """Present when the results are a re-grade (`gacert regrade`)."""

    origin: OriginDocument
    overrides: dict[str, ParamValue]  # --set of the re-grade
    summary: RegradeSummaryDocument
    changes: list[ChangeDocument]


class NotificationDocument(TypedDict):
    """How sending one notification went (gacert.publish.notify.Delivery)."""

    target: str  # slack, webhook or email
    endpoint: str  # never with secrets
    event: str  # verdict, change or fail
    checks: list[str]  # the checks it was about
    delivered: bool
    attempts: int  # 0 when it could not be built (a variable unset)
    error: str | None
    sent_at: str


class StatusChangeDocument(TypedDict):
    """A gate check whose status changed between two snapshots of a watch."""

    check: str
    before: str | None  # None: the check is new (the first snapshot)
    after: str


class SnapshotDocument(TypedDict):
    """What makes a results document a snapshot of a watch (snapshots/snapshot_NNNN.json)."""

    number: int  # 1, 2, ...: contiguous across restarts
    at: str  # window time the snapshot judged up to (the window's end so far)
    taken_at: str  # wall-clock time it was taken
    elapsed_share: float  # of the window, 0 to 1
    final: bool  # the last snapshot: the window ended, or the watch aborted on a fail
    verdict_before: str | None
    changes: list[StatusChangeDocument]  # gate checks whose status changed since the last one


class TrendDocument(TypedDict):
    """One gate check over the snapshots: [unix seconds, value or None, status] each."""

    id: str
    title: str
    unit: str | None
    precision: int
    points: list[list[Any]]


class WatchDocument(TypedDict):
    """How a watch made these results: its snapshots, trends, sessions and coverage."""

    interval_seconds: float
    speed: float
    aborted: bool
    snapshots: list[dict[str, Any]]  # number, at, status
    trend: list[TrendDocument]
    sessions: list[dict[str, Any]]
    coverage: dict[str, Any]  # elapsed_seconds, covered_seconds, share, gaps


class ResultsDocument(TypedDict):
    schema_version: int  # 1
    status: Verdict
    gacert_version: str
    policy: PolicyDocument
    window: WindowDocument
    checks: list[CheckDocument]  # in policy order
    summary: SummaryDocument
    timings: TimingsDocument
    exit_code: NotRequired[int]  # 0, 1 or 3, before --fail-on
    params: NotRequired[dict[str, ParamValue]]
    sources: NotRequired[list[SourceDocument]]
    sections: NotRequired[list[SectionDocument]]
    # Values used instead of the committed policy's; empty or absent: none.
    overrides: NotRequired[list[OverrideDocument]]
    regrade: NotRequired[RegradeDocument]
    notifications: NotRequired[list[NotificationDocument]]
    snapshot: NotRequired[SnapshotDocument]  # a watch's snapshot
    watch: NotRequired[WatchDocument]  # the final results of a watch
    waivers: NotRequired[WaiversDocument]
    score: NotRequired[ScoreDocument]
    baseline: NotRequired[BaselineDocument]  # written when the run had a baseline

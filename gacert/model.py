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
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from gacert.durations import format_duration

# `insufficient`: the rules would pass or warn, but the evidence does not cover
# enough of the window (see Coverage); it is never a pass.
# `no_baseline`: a rule compares with the previous release (`baseline.value`) and
# there is no baseline value to compare with (see Baseline); it is never a pass.
Status = Literal["pass", "warn", "fail", "no_data", "no_baseline", "insufficient", "error"]
# Worst first: the order in which a check's series, and reports, rank statuses.
SEVERITY: tuple[Status, ...] = ("fail", "error", "no_data", "no_baseline", "insufficient",
                                "warn", "pass")
ParamValue = bool | int | float | str

Verdict = Literal["pass", "warn", "fail", "error"]


# --- the policy (built by gacert.policy) ----------------------------------------

RuleName = Literal["fail", "warn", "pass"]
CompareOperator = Literal[">=", ">", "<=", "<", "==", "!="]


@dataclass(frozen=True)
class Expression:
    """A rule expression, parsed and analysed once when the policy is loaded.

    `comparisons` are the comparisons of the value with a bound that the rule
    joins with `and` / `or` (none under a `not`): what the thresholds of
    charts and error budgets, and the direction in which values get worse,
    are read from (see gacert.policy.ruleshape).
    """

    text: str
    tree: ast.expr
    names: frozenset[str]  # the free names it reads (function names excluded)
    comparisons: tuple[Comparison, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """`value OP bound` in a rule, turned so that the value is on the left
    (`5 < value` is `value > 5`); `absolute` when the rule compares `abs(value)`."""

    operator: CompareOperator
    bound: Expression  # reads none of value, labels, series_count
    absolute: bool


@dataclass(frozen=True)
class Threshold:
    """A bound of a rule computed with the run's params: a line a chart can draw."""

    rule: RuleName
    operator: CompareOperator  # how the value compares with `value`
    value: float  # finite
    expression: str  # the rule as written


# Series of a range check that keep every sample in the results, the worst first.
DEFAULT_KEEP_POINTS = 5
DEFAULT_WINDOW = "24h"
DEFAULT_STEP = "1m"
DEFAULT_SCRAPE_INTERVAL = "15s"
OTHER_SECTION_ID = "other"


@dataclass(frozen=True)
class CoverageRule:
    """How much of the window a check's evidence must cover (`coverage` in the policy):
    at least `min_share` of it (0..1), with no gap longer than `max_gap_seconds`."""

    min_share: float
    max_gap_seconds: float


DEFAULT_COVERAGE = CoverageRule(min_share=0.95, max_gap_seconds=900.0)
# What the coverage of a check that reads only optional series (`x or vector(0)`)
# is measured on: the scrape health every Prometheus-compatible server records.
DEFAULT_COVERAGE_REFERENCE = "up"


@dataclass(frozen=True)
class WindowDefaults:
    duration_seconds: float
    step_seconds: float
    scrape_interval_seconds: float
    coverage: CoverageRule = DEFAULT_COVERAGE
    coverage_reference: str = DEFAULT_COVERAGE_REFERENCE


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

    def items(self) -> list[tuple[RuleName, Expression]]:
        """The rules that are set, in the order they apply: fail, warn, pass."""
        named: tuple[tuple[RuleName, Expression | None], ...] = (
            ("fail", self.fail), ("warn", self.warn), ("pass", self.pass_))
        return [(name, expr) for name, expr in named if expr is not None]


@dataclass(frozen=True)
class Slo:
    """The service level objective a check measures, for its error budget.

    `objective` is the percent of good the SLO promises (99.9). `value` says
    what the check's value is: the percent of good ("good": availability,
    success rate) or of bad ("bad": error rate).
    """

    objective: float
    value: Literal["good", "bad"] = "good"


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
    slo: Slo | None = None  # only a check that declares an SLO gets an error budget
    # The coverage its evidence must reach (the policy's window default unless the
    # check sets its own); None: not judged (`coverage: none`, or built by hand).
    coverage: CoverageRule | None = None
    # The policy line where the check starts (its `- id:`), for CI annotations
    # that point at it; 0 when unknown.
    line: int = 0
    # Range checks: series that keep every sample in the results, the worst first
    # (the check's keep_points, else the policy's report.keep_points, else the default).
    keep_points: int = DEFAULT_KEEP_POINTS
    # Its share of the policy's optional score (see ScoreRule); 0 leaves it out.
    weight: float = 1.0


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    description: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class ReportPart:
    """One part of a GA Day report section: an optional `###` heading, then the
    policy's text, what the template computes (`show`) from the checks that
    `select` and `tags` pick, and a field a person fills in (`fill`)."""

    title: str = ""
    text: str = ""
    show: str = ""  # a part kind of the GA Day template; "" = text and fill only
    select: Literal["all", "gate", "slo"] = "all"
    tags: tuple[str, ...] = ()  # when given, only checks with any of these tags
    fill: str = ""
    label: str = ""  # a fill shown as a list item, `- label: [FILL IN: fill]`
    fields: Mapping[str, str] = field(default_factory=dict)  # overview rows to fill
    events: tuple[str, ...] = ()  # timeline rows to fill
    roles: tuple[str, ...] = ()  # sign-off rows


@dataclass(frozen=True)
class ReportSection:
    """A numbered section of the GA Day report, as the policy declares it."""

    title: str
    text: str
    parts: tuple[ReportPart, ...]


NotifyEvent = Literal["verdict", "change", "fail"]


@dataclass(frozen=True)
class NotifyTarget:
    """Where notifications go (slack, webhook, email) and which events it wants."""

    type: str
    when: tuple[NotifyEvent, ...]
    settings: Mapping[str, Any]  # as written: `${VAR}` kept until a notification is sent


@dataclass(frozen=True)
class Notify:
    """The policy's `notify:` section (see docs/notifications.md)."""

    targets: tuple[NotifyTarget, ...]
    alert_on: Literal["fail", "warn"] = "fail"
    report_url: str = ""  # as written; may hold `${VAR}`
    retries: int = 3
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0


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
    # The GA Day report's sections; empty = the template's generic structure.
    ga_day: tuple[ReportSection, ...] = ()
    notify: Notify | None = None
    waivers: tuple[Waiver, ...] = ()
    score: ScoreRule | None = None  # None: no score is computed or shown


@dataclass(frozen=True)
class Waiver:
    """A reviewed exception in the policy file: while it is in force, the check it
    names (or only its series that match one of `series`) does not gate the
    verdict. It always expires; it never changes a status or a value."""

    check: str
    reason: str
    approver: str
    expires: datetime  # UTC; a date alone means the end of that day (UTC)
    expires_text: str  # as written in the policy
    # Label matchers, exact values; a series matching any of them is waived.
    # Empty: the whole check is waived.
    series: tuple[Mapping[str, str], ...] = ()
    ticket: str = ""
    line: int = 0  # the waiver's line in the policy file

    def in_force(self, moment: datetime) -> bool:
        return moment < self.expires

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with `labels` is waived: every label of one matcher equal."""
        return not self.series or any(
            all(labels.get(name) == value for name, value in matcher.items())
            for matcher in self.series)


@dataclass(frozen=True)
class ScoreRule:
    """The optional total score (`score:` in the policy), in percent of the weights:
    `pass` and above passes, `warn` and above warns, below fails. An addition to
    the gate verdict, never a replacement: it changes neither it nor the exit code."""

    pass_: float
    warn: float


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


@dataclass(frozen=True, init=False)
class Series:
    """One labelled time series: for an instant query, a single point.

    The samples are held in two compact arrays of float64 (16 bytes a sample,
    against about 100 for a tuple of two floats), so that a fleet of series
    over a day fits in memory once. A source may give them as `points`, pairs
    of (unix seconds, value), or as the arrays `times` and `values` of the same
    length, times ascending. NaN and +-Inf are kept.
    """

    labels: Mapping[str, str]
    times: array[float]
    values: array[float]

    def __init__(self, labels: Mapping[str, str],
                 points: Iterable[tuple[float, float]] = (), *,
                 times: array[float] | None = None, values: array[float] | None = None) -> None:
        if times is None or values is None:
            pairs = tuple(points)
            times = array("d", (t for t, _ in pairs))
            values = array("d", (v for _, v in pairs))
        elif len(times) != len(values):
            raise ValueError(f"{len(times)} times and {len(values)} values")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        """The samples as (unix seconds, value) pairs: a copy, for small series."""
        return tuple(zip(self.times, self.values, strict=True))


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
    # One sentence a check that does not pass adds to its reason: what the source
    # saw that explains it (a command's exit code and the end of its stderr).
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    """What the fetch stage got for one check: data, or the error sentence."""

    fetched: Fetched | None
    error: str | None
    seconds: float


# --- evidence coverage (measured by gacert.engine.coverage) ------------------------

CoverageMethod = Literal["points", "selectors", "reference", "none"]


@dataclass(frozen=True)
class Gap:
    """A stretch of the window without evidence: [start, end) in unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Coverage:
    """How much of the window a check's evidence covers, and whether that is enough.

    `method` says what was measured: "points" (a range check's own points),
    "selectors" (a range query over the series an instant check reads),
    "reference" (the policy's reference series, for a check whose series are
    all optional) or "none" (not measured; `note` says why). `share` is the
    part of [start, end] with evidence (0..1); `gaps` are the longest
    stretches without (at most MAX_GAPS, in time order).
    """

    method: CoverageMethod
    note: str
    start: float
    end: float
    share: float | None
    gaps: tuple[Gap, ...]
    gap_count: int
    rule: CoverageRule | None  # what it was judged against; None: not judged
    query: str | None = None  # the coverage query, for selectors and reference
    whole_window: bool = True  # False: the query reads, and is measured on, less of it

    @property
    def largest_gap(self) -> Gap | None:
        return max(self.gaps, key=lambda g: g.seconds, default=None)

    @property
    def sufficient(self) -> bool | None:
        """Whether the evidence meets the rule; None when there is no rule or no figure."""
        if self.rule is None or self.share is None:
            return None
        largest = self.largest_gap
        return self.share >= self.rule.min_share and (
            largest is None or largest.seconds <= self.rule.max_gap_seconds)


MAX_GAPS = 20


# --- run-time overrides (recorded by gacert.policy.params) ------------------------

@dataclass(frozen=True)
class Override:
    """A value the run used in place of the committed policy's: a `--set` param, or an
    environment value a source setting read (`${VAR:-default}`). Secret values are
    recorded as REDACTED."""

    name: str  # the param's name, or the setting's path (sources.prometheus.url)
    kind: Literal["param", "setting"]
    default: Any  # the committed value; None when the policy commits none (`${VAR}`)
    value: Any  # the value used
    origin: str  # "command line", or "environment VAR"


# --- the baseline: a previous release's results (read by gacert.engine.baseline) --------

SeriesKey = frozenset[tuple[str, str]]  # a series' labels, as a key of a mapping


def series_key(labels: Mapping[str, str]) -> SeriesKey:
    return frozenset(labels.items())


@dataclass(frozen=True)
class BaselineCheck:
    """What the baseline results hold for one check: its value, and the value of
    each of its series by labels. `missing` says why a value is absent (a re-grade
    keeps what the run that compared said)."""

    value: float | None
    series: Mapping[SeriesKey, float | None]
    query: str
    missing: str = ""


@dataclass(frozen=True)
class Baseline:
    """The results of a previous run (the last release) that rules compare with
    through `baseline.value`, and where they came from."""

    path: str  # as given (--baseline)
    results_sha256: str  # of the results.json bytes read
    manifest_sha256: str | None  # of the package's manifest, when it was a package
    status: str  # the baseline run's verdict
    policy_name: str
    window_start: str  # RFC 3339, UTC
    window_end: str
    checks: Mapping[str, BaselineCheck]


@dataclass(frozen=True)
class BaselineComparison:
    """A check's value beside the baseline's: `value` is the baseline's, `missing`
    why there is none ("" when there is one)."""

    value: float | None
    change: float | None  # this run's value minus the baseline's
    relative_change: float | None  # change / |baseline|; None when the baseline is 0
    missing: str
    same_query: bool  # False: the baseline measured the check with another query


# --- results (made by gacert.engine.evaluate, written by gacert.engine.results) ---

@dataclass(frozen=True)
class SeriesSummary:
    """What one pass over a range series' samples measured: kept in the results
    for every series, when the samples themselves are kept for the worst only."""

    samples: int  # samples the source returned
    values: int  # of them with a value (not NaN)
    first: float | None  # unix seconds of the first sample; None without samples
    last: float | None  # unix seconds of the last sample
    low: float | None  # the lowest value (NaN ignored); None without values
    high: float | None  # the highest value
    # The longest stretch between two consecutive samples (start, end), in unix
    # seconds; None with fewer than two samples.
    gap: tuple[float, float] | None


@dataclass(frozen=True)
class Trace:
    """A series (or a band of several) drawn small: the lowest and highest value in
    each of the equal buckets that cut the window, so that a spike of one sample
    survives. Bucket i starts at `start + i * width`; NaN marks a bucket
    without a value (a gap)."""

    start: float  # unix seconds
    width: float  # seconds
    low: array[float]
    high: array[float]


@dataclass(frozen=True)
class SeriesResult:
    labels: Mapping[str, str]
    value: float | None
    status: Status
    # Range checks only: every sample, for the worst `keep_points` series only.
    points: Sequence[tuple[float, float]] | None
    summary: SeriesSummary | None = None  # range checks only
    trace: Trace | None = None  # range checks, the series whose points are kept
    # The baseline run's value of the series with the same labels; None without one.
    baseline: float | None = None


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
    thresholds: tuple[Threshold, ...]  # the rules' bounds under the run's params
    no_data: Status
    query: str
    mode: str
    over_time: str | None
    series_reduction: str
    series: tuple[SeriesResult, ...]
    # Range checks: how many series keep their points, and the band of those
    # that do not (None when every series keeps them).
    keep_points: int | None
    band: Trace | None
    warnings: tuple[str, ...]
    error: str | None
    duration_seconds: float
    measurements: Mapping[str, Any]  # a probe's named values, as rules saw them
    evidence: Mapping[str, Any]  # a probe's raw data (samples, failures by cause)
    coverage: Coverage | None = None  # None: built without the engine's measurement
    line: int = 0  # the check's line in the policy file; 0 when unknown
    waiver: WaiverResult | None = None  # the policy's waiver of this check, if any
    # The check compared with the baseline run; None when the run had no baseline
    # and no rule of the check reads one.
    baseline: BaselineComparison | None = None


@dataclass(frozen=True)
class WaiverResult:
    """A check's waiver as judged at `judged_at`: in force or expired, the series it
    matched, and the status the check counts with in the verdict (None: it does
    not count)."""

    waiver: Waiver
    judged_at: datetime
    in_force: bool
    series_waived: int  # series of the check its matchers matched (series waivers)
    counts_as: Status | None


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
    overrides: tuple[Override, ...] = ()
    # When waivers were judged (in force or expired); None without waivers.
    waivers_judged_at: datetime | None = None
    baseline: Baseline | None = None  # the previous release's results compared with

"""Run policy tests: judge a policy on given input, with no server, and compare.

Each test of a test file (`gacert.policy.testfile`) says what the checks'
sources return; this module hands that to the engine's own evaluator as the
fetch stage would, so that a test judges exactly as a run does:

- a check with `series` gets them as its query's answer (the samples of a
  series are `interval` apart, from 1970-01-01T00:00:00Z as in promtool; a
  range check reduces them over time, an instant check takes the last);
- a check on a probe source with `measurements` reads its value at its query,
  and its rules may read every measurement by name;
- any other check, when the test gives `results`, is judged on that stored
  evidence as `gacert regrade` would;
- a check given nothing returned nothing: its no_data setting decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gacert.engine.baseline import stored_baseline
from gacert.engine.evaluate import evaluate_check
from gacert.engine.plan import PlannedCheck, build_plan
from gacert.engine.regrade import StoredEvidence, judge_stored
from gacert.engine.results import read_results, verdict
from gacert.engine.waivers import apply_waivers, counts_in_verdict
from gacert.errors import SourceError
from gacert.formatting import format_value
from gacert.model import (
    Baseline,
    CheckResult,
    Fetched,
    Outcome,
    ParamValue,
    Series,
    Verdict,
    Window,
)
from gacert.policy.testfile import Input, InputSeries, PolicyTest, TestFile, laid_over
from gacert.sources.probe import number_at

__all__ = ["FileOutcome", "Mismatch", "TestOutcome", "run_test", "run_test_file"]

SAMPLES_START = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Mismatch:
    """An expectation the policy did not meet: what, expected, got, and why."""

    what: str  # "verdict", or a check id
    expected: str
    got: str
    reason: str  # the check's reason; for the verdict, the gate checks that decided it
    inputs: tuple[str, ...]  # the input the check was given, as written, with values


@dataclass(frozen=True)
class TestOutcome:
    test: PolicyTest
    verdict: Verdict
    checks: tuple[CheckResult, ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class FileOutcome:
    file: TestFile
    tests: tuple[TestOutcome, ...]

    @property
    def failed(self) -> int:
        return sum(not t.passed for t in self.tests)


def run_test_file(test_file: TestFile) -> FileOutcome:
    return FileOutcome(test_file, tuple(run_test(test_file, t) for t in test_file.tests))


class _Case:
    """One test being run: its params, window, plan and stored evidence."""

    def __init__(self, test_file: TestFile, test: PolicyTest) -> None:
        policy = test_file.policy
        self.file, self.test, self.input = test_file, test, test.input
        self.params: dict[str, ParamValue] = {
            **{name: p.default for name, p in policy.params.items()}, **test.params}
        document = read_results(test.input.results) if test.input.results else None
        self.evidence = None if document is None else \
            StoredEvidence(document, policy.window.scrape_interval_seconds)
        self.window = self.evidence.window if self.evidence else _window(test_file, test.input)
        self.plan = build_plan(policy, self.window, self.params)
        # The test's baseline; else the one stored results compared with, as a
        # re-grade of them would.
        self.baseline = stored_baseline(document) if document else None
        if test.input.baseline is not None:
            self.baseline = Baseline(
                path=test_file.path, results_sha256="", manifest_sha256=None, status="",
                policy_name=policy.name, window_start="", window_end="",
                checks=test.input.baseline)

    def judge(self, planned: PlannedCheck) -> CheckResult:
        check, query = planned.check, planned.query.text
        if check.id in self.input.series:
            series = tuple(self._series(s) for s in self.input.series[check.id])
            return evaluate_check(check, query, Outcome(Fetched(series), None, 0.0), self.params,
                                  baseline=self.baseline)
        if check.source in self.input.measurements:
            return evaluate_check(check, query, self._measured(check.source, query),
                                  self.params, baseline=self.baseline)
        if self.evidence is not None:
            return judge_stored(planned, self.evidence, self.file.policy, self.params,
                                self.baseline)
        return evaluate_check(check, query, Outcome(Fetched(()), None, 0.0), self.params,
                              baseline=self.baseline)

    def _series(self, given: InputSeries) -> Series:
        step = self.file.interval_seconds
        start = self.window.start.timestamp()
        return Series(dict(given.labels), tuple((start + i * step, v)
                                                for i, v in enumerate(given.values)
                                                if v is not None))

    def _measured(self, source_id: str, query: str) -> Outcome:
        measurements = laid_over(self.input.measurements[source_id], self._stored(source_id))
        try:
            value = number_at(f"measurements of {source_id}", measurements, query)
        except SourceError as exc:
            return Outcome(None, str(exc), 0.0)
        at = self.window.end.timestamp()
        series = () if value is None else (Series({}, ((at, value),)),)
        return Outcome(Fetched(series, measurements=measurements), None, 0.0)

    def _stored(self, source_id: str) -> Mapping[str, Any]:
        """What stored results hold as the source's measurements (test ones lie over them)."""
        if self.evidence is None:
            return {}
        found = (self.evidence.outcome(c["id"]).fetched for c in self.evidence.checks.values()
                 if c["source"] == source_id and c.get("measurements"))
        return next((fetched.measurements for fetched in found if fetched is not None), {})

    def inputs(self, result: CheckResult) -> tuple[str, ...]:
        """What the check was given, for a failure message."""
        check = next(c for c in self.file.policy.checks if c.id == result.id)
        if check.id in self.input.series:
            values = [format_value(s.value, result.unit, result.precision)
                      for s in result.series]
            given = self.input.series[check.id]
            return tuple(f"series {s.text} -> {v}" for s, v in zip(given, values, strict=True)) \
                or ("series: none (the query returned nothing)",)
        if check.source in self.input.measurements:
            return (f"measurements of {check.source}: {check.query} = "
                    f"{format_value(result.value, result.unit, result.precision)}",)
        if self.evidence is not None:
            shown = ", ".join(f"{_labels(s.labels)} "
                              f"{format_value(s.value, result.unit, result.precision)}"
                              for s in result.series)
            return (f"results {self.input.results}: {shown or 'no series'}",)
        return ("no input: the query returned nothing",)


def _window(test_file: TestFile, given: Input) -> Window:
    """From 1970-01-01T00:00:00Z, as long as the policy's window or the longest series."""
    longest = max((len(s.values) for series in given.series.values() for s in series),
                  default=1)
    policy = test_file.policy
    seconds = max(policy.window.duration_seconds, (longest - 1) * test_file.interval_seconds)
    return Window(SAMPLES_START, SAMPLES_START + timedelta(seconds=seconds),
                  test_file.interval_seconds, policy.window.scrape_interval_seconds)


def _labels(labels: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def run_test(test_file: TestFile, test: PolicyTest) -> TestOutcome:
    """Judge the policy on the test's input and compare with what it expects."""
    case = _Case(test_file, test)
    checks = apply_waivers((case.judge(p) for p in case.plan.checks),
                           test_file.policy.waivers, datetime.now(UTC))
    by_id = {c.id: c for c in checks}
    mismatches = [Mismatch(check_id, expected, by_id[check_id].status, by_id[check_id].reason,
                           case.inputs(by_id[check_id]))
                  for check_id, expected in test.checks.items()
                  if by_id[check_id].status != expected]
    got = verdict(checks)
    if test.verdict is not None and got != test.verdict:
        deciding = [f"{c.id} {status}" for c in checks
                    if (status := counts_in_verdict(c)) not in (None, "pass")]
        mismatches.append(Mismatch("verdict", test.verdict, got,
                                   "gate checks not passing: " + (", ".join(deciding) or "none"),
                                   ()))
    return TestOutcome(test, got, checks, tuple(mismatches))

"""The baseline: the results of a previous release that rules compare with.

`gacert run --baseline PREVIOUS` reads the results of an earlier run (a
results.json, or a package that verifies) into a `Baseline`: per check, its
value and the value of each series by labels. A rule reads it as
`baseline.value`:

- in a check that judges each series (`series: each`), the baseline value of
  the series with exactly the same labels;
- otherwise, the baseline's value of the check (after its own reduction).

A rule that reads `baseline.value` when there is none (no --baseline given,
the baseline has no such check or series, or its value is missing or not a
finite number) makes the check `no_baseline`, which fails the verdict: a
relative criterion never passes for want of something to compare with.

Every check of a run with a baseline records both values and the change
(`BaselineComparison`), so reports show them even where no rule compares.
A re-grade reads the comparison the run recorded back into a `Baseline`
(`stored_baseline`), so it judges the same comparison with no file at hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from gacert.document import BaselineDocument, CheckBaselineDocument, ResultsDocument
from gacert.formatting import document_number
from gacert.model import (
    Baseline,
    BaselineCheck,
    BaselineComparison,
    Expression,
    Rules,
    series_key,
)

__all__ = ["BASELINE_NAME", "NO_BASELINE_GIVEN", "BaselineLookup", "BaselineMissing",
           "MissingBaseline", "baseline_document",
           "check_baseline_document", "from_results", "reads_baseline", "rules_read_baseline",
           "stored_baseline"]

# The name rules read the baseline by: `baseline.value`.
BASELINE_NAME = "baseline"
NO_BASELINE_GIVEN = "no baseline was given (gacert run --baseline PREVIOUS/results.json)"


def reads_baseline(expression: Expression | None) -> bool:
    return expression is not None and BASELINE_NAME in expression.names


def rules_read_baseline(rules: Rules) -> bool:
    return any(reads_baseline(e) for _, e in rules.items())


def from_results(document: ResultsDocument, path: str, results_sha256: str,
                 manifest_sha256: str | None) -> Baseline:
    """The baseline that a results document (already checked against the results
    schema) gives: every check's value and its series' values by labels."""
    checks = {c["id"]: BaselineCheck(
        value=document_number(c["value"]),
        series={series_key(s["labels"]): document_number(s["value"]) for s in c["series"]},
        query=c["query"] or "") for c in document["checks"]}
    return Baseline(path=path, results_sha256=results_sha256, manifest_sha256=manifest_sha256,
                    status=document["status"], policy_name=document["policy"]["name"],
                    window_start=document["window"]["start"],
                    window_end=document["window"]["end"], checks=checks)


def stored_baseline(document: ResultsDocument) -> Baseline | None:
    """The baseline a run compared with, as its results recorded it (for a re-grade);
    None when it had none."""
    record = document.get("baseline")
    if record is None:
        return None
    checks = {}
    for check in document["checks"]:
        compared = check.get("baseline")
        if compared is None:
            continue
        checks[check["id"]] = BaselineCheck(
            value=document_number(compared["value"]),
            series={series_key(s["labels"]): document_number(s.get("baseline"))
                    for s in check["series"] if "baseline" in s},
            # A comparison recorded with another query keeps saying so.
            query=(check["query"] or "") if compared["same_query"] else "",
            missing=compared["missing"])
    return Baseline(path=record["path"], results_sha256=record["results_sha256"],
                    manifest_sha256=record["manifest_sha256"], status=record["status"],
                    policy_name=record["policy"], window_start=record["window"]["start"],
                    window_end=record["window"]["end"], checks=checks)


class BaselineMissing(Exception):  # a condition of the data, not a failure
    """A rule read `baseline.value` where there is none; the message says why."""


class MissingBaseline(Mapping[str, float]):
    """What a rule sees as `baseline` when there is no baseline value: reading
    `baseline.value` raises BaselineMissing, so a rule that decides without it
    (`value >= 1000 or value > baseline.value * 1.25` with a value of 1,200)
    still decides, and one that needs it is no_baseline."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __getitem__(self, key: str) -> float:
        raise BaselineMissing(self.why)

    def __contains__(self, key: object) -> bool:
        return key == "value"

    def __iter__(self) -> Iterator[str]:
        return iter(("value",))

    def __len__(self) -> int:
        return 1


class BaselineLookup:
    """The baseline of one check: what `baseline.value` is for a series, or why there
    is none."""

    def __init__(self, baseline: Baseline | None, check_id: str, query: str) -> None:
        self.given = baseline is not None
        self.path = baseline.path if baseline is not None else ""
        self.check = baseline.checks.get(check_id) if baseline is not None else None
        self.check_id = check_id
        # Without the check in a baseline there is no other query to speak of.
        self.same_query = self.check is None or self.check.query == query

    def value(self, labels: Mapping[str, str] | None) -> tuple[float | None, str]:
        """`baseline.value` for the series with `labels` (None: the check's value), and
        "" or why there is none."""
        if self.check is None:
            return None, (NO_BASELINE_GIVEN if not self.given else
                          f"the baseline ({self.path}) has no check {self.check_id!r}")
        if labels is None:
            value = self.check.value
            missing = self.check.missing or "the baseline's value of the check is missing " \
                "(it had no data or could not be evaluated)"
        elif not labels and series_key(labels) not in self.check.series:
            # A series without labels is the check's one value.
            return self.value(None)
        else:
            key = series_key(labels)
            if key not in self.check.series:
                return None, "the baseline has no series with these labels"
            value = self.check.series[key]
            missing = "the baseline's value of the series is missing"
        if value is None:
            return None, missing
        if not math.isfinite(value):
            return None, f"the baseline's value is {value}, not a finite number"
        return value, ""

    def comparison(self, value: float | None,
                   labels: Mapping[str, str] | None) -> BaselineComparison:
        """The check's value (of the series with `labels`, when it judges each series)
        beside the baseline's."""
        known, missing = self.value(labels)
        change = value - known if value is not None and known is not None \
            and math.isfinite(value) else None
        relative = change / abs(known) if change is not None and known else None
        return BaselineComparison(known, change, relative, missing, self.same_query)


def check_baseline_document(comparison: BaselineComparison) -> CheckBaselineDocument:
    return {"value": comparison.value, "change": _rounded(comparison.change),
            "relative_change": _rounded(comparison.relative_change),
            "missing": comparison.missing, "same_query": comparison.same_query}


def _rounded(number: float | None) -> float | None:
    return None if number is None else round(number, 9)


def baseline_document(baseline: Baseline) -> BaselineDocument:
    """Where the baseline came from, as the results record it."""
    return {"path": baseline.path, "results_sha256": baseline.results_sha256,
            "manifest_sha256": baseline.manifest_sha256, "status": baseline.status,
            "policy": baseline.policy_name,
            "window": {"start": baseline.window_start, "end": baseline.window_end}}

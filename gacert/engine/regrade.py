"""Re-grade: judge the evidence a results document holds with another policy.

Nothing is fetched. Each check of the policy is judged on what the results
hold for the check of the same id: every series' labels and value (after the
check's over_time reduction), a probe's measurements, the source's warnings,
or the source's error. The engine's own evaluator does the judging, on
`Series` and `Fetched` rebuilt from the document, so a re-grade judges
exactly as a run would.

What can change the outcome: rules, params, thresholds, gate, no_data and the
reduction across series. What cannot be re-judged, because the evidence
itself would differ: a check whose rendered query, source (or its type), mode
or over_time changed, or a check the results do not have. Such a check gets
status `error` with the reason "not re-gradable: ..." (never a silent pass),
and the verdict follows the usual precedence.

A re-grade is a function of the evidence, the policy and the params: the
window, sources and timings are those of the run that collected the
evidence, so the same inputs give the same document, byte for byte. A
policy with waivers adds one input: the moment they are judged (now, unless
given), recorded in the document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gacert.document import ChangeDocument, ResultsDocument
from gacert.engine.baseline import stored_baseline
from gacert.engine.evaluate import evaluate_check
from gacert.engine.plan import PlannedCheck, build_plan
from gacert.engine.results import (
    json_number,
    series_kept,
    to_document,
    trace_from_document,
    verdict,
)
from gacert.engine.waivers import apply_waivers, waiver_change
from gacert.errors import OutputError
from gacert.formatting import document_number
from gacert.model import (
    Baseline,
    CheckResult,
    Coverage,
    CoverageRule,
    Fetched,
    Gap,
    Outcome,
    Override,
    ParamValue,
    Policy,
    RunResult,
    Series,
    SourceInfo,
    Status,
    Timings,
    Verdict,
    Window,
)
from gacert.policy.diff import (
    FieldChange,
    Judging,
    check_judging,
    judging_changes,
    one_line,
    params_read,
    rule_expressions,
)
from gacert.policy.expressions import ExpressionSyntaxError, compile_expression
from gacert.policy.variables import format_param, query_variable_names
from gacert.timestamps import parse_timestamp

__all__ = ["NOT_REGRADABLE", "Change", "Origin", "Regraded", "StoredEvidence", "change_document",
           "judge_stored", "regrade", "regrade_document"]

NOT_REGRADABLE = "not re-gradable"


@dataclass(frozen=True)
class Change:
    """One row of the re-grade's diff: a check before and after, and why."""

    check: str
    title: str
    gate: bool
    old_status: Status | None  # None: the results do not have the check
    old_value: float | None
    new_status: Status | None  # None: the policy no longer has the check
    new_value: float | None
    unit: str
    precision: int
    changes: tuple[FieldChange, ...]  # what changed in how it is judged
    regradable: bool
    note: str = ""  # why it is not re-gradable, or that it was added or removed

    @property
    def flipped(self) -> bool:
        return self.old_status != self.new_status


@dataclass(frozen=True)
class Origin:
    """Where the evidence came from, as the `regrade` record of the results names it."""

    path: str  # as given on the command line
    results_sha256: str  # of the results.json bytes that were read
    manifest_sha256: str | None = None  # of the package's manifest, when it was one


@dataclass(frozen=True)
class Regraded:
    run: RunResult
    changes: tuple[Change, ...]
    origin_status: Verdict


class StoredEvidence:
    """A results document read as evidence: per check, what its source returned."""

    def __init__(self, document: Mapping[str, Any], scrape_interval_seconds: float) -> None:
        try:
            self.checks: dict[str, Mapping[str, Any]] = {c["id"]: c for c in document["checks"]}
            self.params: Mapping[str, ParamValue] = dict(document.get("params") or {})
            self.source_types = {s["id"]: s["type"] for s in document.get("sources") or ()}
            window = document["window"]
            self.window = Window(parse_timestamp(window["start"], "results window.start"),
                                 parse_timestamp(window["end"], "results window.end"),
                                 float(window["step_seconds"]), scrape_interval_seconds)
        except (KeyError, TypeError, ValueError) as exc:
            raise OutputError(f"not a gacert results document: {exc}") from None
        self.status: Verdict = document["status"]
        self.overrides: list[Mapping[str, Any]] = list(document.get("overrides") or ())

    def why_not(self, planned: PlannedCheck, source_type: str,
                params: Mapping[str, ParamValue]) -> str | None:
        """Why this check cannot be judged on the stored evidence, or None if it can."""
        check, stored = planned.check, self.checks.get(planned.check.id)
        if stored is None:
            return "a new check: the results hold no evidence for it"
        if stored["source"] != check.source:
            return f"its source changed ({stored['source']} -> {check.source})"
        stored_type = self.source_types.get(check.source, source_type)
        if stored_type != source_type:
            return f"the type of source {check.source} changed ({stored_type} -> {source_type})"
        if stored["mode"] != check.mode or stored.get("over_time") != check.over_time:
            was = _mode_text(stored["mode"], stored.get("over_time"))
            return f"its mode changed ({was} -> {_mode_text(check.mode, check.over_time)})"
        if one_line(stored["query"]) != one_line(planned.query.text):
            return "its query changed" + self._query_hint(planned, params)
        return None

    def _query_hint(self, planned: PlannedCheck, params: Mapping[str, ParamValue]) -> str:
        differing = [name for name in dict.fromkeys(query_variable_names(planned.check.query))
                     if name in params and name in self.params
                     and format_param(self.params[name]) != format_param(params[name])]
        if not differing:
            return ""
        was = ", ".join(f"{n}={format_param(self.params[n])}" for n in differing)
        sets = " ".join(f"--set {n}={format_param(self.params[n])}" for n in differing)
        return f" (the run had {was}: give {sets} to judge the series it measured)"

    def outcome(self, check_id: str) -> Outcome:
        """What the check's source returned, as the fetch stage gave it to the evaluator."""
        stored = self.checks[check_id]
        seconds = float(stored.get("duration_seconds") or 0.0)
        if _is_source_error(stored):
            return Outcome(None, stored["error"], seconds)
        at = self.window.end.timestamp()
        series = tuple(Series(dict(s["labels"]), _one_point(at, document_number(s["value"])))
                       for s in stored["series"])
        fetched = Fetched(series=series, warnings=tuple(stored.get("warnings") or ()),
                          measurements=_numbers(stored.get("measurements") or {}),
                          evidence=stored.get("evidence") or {})
        return Outcome(fetched, None, seconds)

    def coverage(self, check_id: str, rule: CoverageRule | None) -> Coverage | None:
        """How much of the window the stored evidence covers, as the run measured it,
        judged by `rule` (the check's as the policy is now); None in results written
        before coverage was measured."""
        stored = self.checks[check_id].get("coverage")
        if stored is None:
            return None
        start = _seconds(stored["start"])
        return Coverage(
            stored["method"], stored["note"], start, _seconds(stored["end"]), stored["share"],
            tuple(Gap(_seconds(g["start"]), _seconds(g["end"])) for g in stored["gaps"]),
            stored["gap_count"], rule if stored["method"] != "none" else None, stored["query"],
            whole_window=start <= self.window.start.timestamp())

    def setting_overrides(self) -> tuple[Override, ...]:
        """The source settings the run took from the environment: the evidence's origin."""
        return tuple(Override(o["name"], "setting", o["default"], o["value"], o["origin"])
                     for o in self.overrides if o["kind"] == "setting")

    def judging(self, check_id: str, names: set[str]) -> Judging:
        stored = self.checks[check_id]
        return Judging(stored["rules"], {n: self.params.get(n) for n in sorted(names)},
                       stored["gate"], stored["no_data"], stored["series_reduction"])

    def params_read(self, check_id: str) -> set[str]:
        """The params the stored rules read (rules that no longer compile read none)."""
        expressions = []
        for text in filter(None, self.checks[check_id]["rules"].values()):
            try:
                expressions.append(compile_expression(text))
            except ExpressionSyntaxError:
                continue
        return set(params_read(expressions, self.params))


def _mode_text(mode: str, over_time: str | None) -> str:
    return mode + (f", {over_time} over time" if over_time else "")


def _is_source_error(stored: Mapping[str, Any]) -> bool:
    # The evaluator records a source's error with no series and no deciding rule;
    # a rule that raised keeps its series, a declared no_data: error is decided by no_data.
    return stored["status"] == "error" and stored.get("decided_by") is None \
        and not stored["series"] and stored.get("error") is not None


def _one_point(at: float, value: float | None) -> tuple[tuple[float, float], ...]:
    # A NaN or infinite value is kept: the evaluator judges it an error, as the run did.
    return () if value is None else ((at, value),)


def _numbers(value: Any) -> Any:
    """Measurements with "NaN", "+Inf", "-Inf" read back as the floats they were."""
    if isinstance(value, str) and value in ("NaN", "+Inf", "-Inf"):
        return document_number(value)
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def judge_stored(planned: PlannedCheck, evidence: StoredEvidence, policy: Policy,
                 params: Mapping[str, ParamValue],
                 baseline: Baseline | None = None) -> CheckResult:
    """The check judged on the stored evidence, or an `error` saying why it cannot be."""
    why = evidence.why_not(planned, policy.sources[planned.check.source].type, params)
    if why is not None:
        outcome = Outcome(None, f"{NOT_REGRADABLE}: {why}; run the policy again to measure it",
                          0.0)
        return evaluate_check(planned.check, planned.query.text, outcome, params,
                              baseline=baseline)
    check = planned.check
    # The stored value is already reduced over time: judge it as an instant value,
    # then put back the check's mode and what the run kept of each series (its
    # summary, and the points and trace of the worst) and of the others (the band).
    result = evaluate_check(replace(check, mode="instant", over_time=None),
                            planned.query.text, evidence.outcome(check.id), params,
                            evidence.coverage(check.id, check.coverage), baseline=baseline)
    if check.mode != "range":
        return replace(result, mode=check.mode, over_time=check.over_time)
    stored = evidence.checks[check.id]
    series = tuple(replace(s, **series_kept(kept))
                   for s, kept in zip(result.series, stored["series"], strict=True))
    return replace(result, mode=check.mode, over_time=check.over_time, series=series,
                   keep_points=stored.get("keep_points"),
                   band=trace_from_document(stored.get("band")))


def regrade(document: ResultsDocument, policy: Policy,
            params: Mapping[str, ParamValue], judged_at: datetime | None = None,
            baseline: Baseline | None = None) -> Regraded:
    """Judge the evidence of `document` with `policy` and `params`; the policy's waivers
    are judged at `judged_at` (default: now), so a re-grade with waivers depends on
    the moment too. Rules compare with `baseline`, else with the baseline values the
    run recorded (gacert.engine.baseline.stored_baseline)."""
    evidence = StoredEvidence(document, policy.window.scrape_interval_seconds)
    plan = build_plan(policy, evidence.window, params)
    moment = judged_at or datetime.now(UTC)
    baseline = baseline or stored_baseline(document)
    checks = apply_waivers((judge_stored(p, evidence, policy, params, baseline)
                            for p in plan.checks), policy.waivers, moment)
    run = RunResult(status=verdict(checks), policy=policy, window=evidence.window,
                    params=dict(params), sources=_sources(document),
                    timings=_timings(document), checks=checks,
                    overrides=(*evidence.setting_overrides(), *_param_overrides(policy, params)),
                    waivers_judged_at=moment if policy.waivers else None, baseline=baseline)
    changes = _changes(evidence, policy, plan.checks, checks, params)
    return Regraded(run, changes, evidence.status)


def _param_overrides(policy: Policy, params: Mapping[str, ParamValue]) -> tuple[Override, ...]:
    """The params a re-grade judged with other values than the policy's defaults: they
    came from its --set."""
    return tuple(Override(name, "param", policy.params[name].default, value, "command line")
                 for name, value in params.items()
                 if name in policy.params and value != policy.params[name].default)


def _seconds(timestamp: str) -> float:
    return parse_timestamp(timestamp, "results coverage").timestamp()


def _sources(document: Mapping[str, Any]) -> tuple[SourceInfo, ...]:
    return tuple(SourceInfo(s["id"], s["type"], s.get("endpoint") or "")
                 for s in document.get("sources") or ())


def _timings(document: Mapping[str, Any]) -> Timings:
    timings = document["timings"]
    return Timings(timings["started_at"], timings["finished_at"],
                   float(timings["duration_seconds"]), float(timings.get("fetch_seconds") or 0))


def _changes(evidence: StoredEvidence, policy: Policy, planned: tuple[PlannedCheck, ...],
             results: tuple[CheckResult, ...], params: Mapping[str, ParamValue]
             ) -> tuple[Change, ...]:
    rows = []
    for plan, result in zip(planned, results, strict=True):
        stored = evidence.checks.get(result.id)
        why = evidence.why_not(plan, policy.sources[plan.check.source].type, params)
        regradable = why is None
        changes: tuple[FieldChange, ...] = ()
        if stored is not None:
            names = evidence.params_read(result.id) \
                | set(params_read(rule_expressions(plan.check), params))
            changes = judging_changes(evidence.judging(result.id, names),
                                      check_judging(plan.check, params, names))
            changes += waiver_change(stored.get("waiver"), result.waiver)
        old_status = stored["status"] if stored is not None else None
        old_value = document_number(stored["value"]) if stored is not None else None
        if stored is None or not regradable or changes or old_status != result.status \
                or not _same(old_value, result.value):
            rows.append(Change(result.id, result.title, result.gate, old_status, old_value,
                               result.status, result.value, result.unit, result.precision,
                               changes, regradable, why or ""))
    kept = {r.id for r in results}
    rows += [Change(c["id"], c["title"], c["gate"], c["status"], document_number(c["value"]),
                    None, None, c["unit"], c["precision"], (), True, "removed from the policy")
             for c in evidence.checks.values() if c["id"] not in kept]
    return tuple(rows)


def _same(one: float | None, two: float | None) -> bool:
    if one is None or two is None:
        return one is two
    return one == two or (math.isnan(one) and math.isnan(two))


def regrade_document(regraded: Regraded, origin: Origin, origin_document: ResultsDocument,
                     overrides: Mapping[str, ParamValue]) -> ResultsDocument:
    """The results document of the re-grade, with its `regrade` record."""
    document = to_document(regraded.run)
    policy = origin_document["policy"]
    changes = regraded.changes
    document["regrade"] = {
        "origin": {"path": origin.path, "results_sha256": origin.results_sha256,
                   "manifest_sha256": origin.manifest_sha256,
                   "status": regraded.origin_status,
                   "gacert_version": origin_document.get("gacert_version"),
                   "policy": {"name": policy["name"], "sha256": policy["sha256"],
                              "path": policy.get("path")}},
        "overrides": dict(overrides),
        "summary": {"changed": len(changes), "flipped": sum(c.flipped for c in changes),
                    "not_regradable": sum(not c.regradable for c in changes),
                    "added": sum(c.old_status is None for c in changes),
                    "removed": sum(c.new_status is None for c in changes)},
        "changes": [change_document(c) for c in changes],
    }
    return document


def change_document(change: Change) -> ChangeDocument:
    """A diff row as JSON (numbers as the results document writes them)."""
    return {"check": change.check, "title": change.title, "gate": change.gate,
            "old": {"status": change.old_status, "value": json_number(change.old_value)},
            "new": {"status": change.new_status, "value": json_number(change.new_value)},
            "unit": change.unit, "precision": change.precision,
            "flipped": change.flipped, "regradable": change.regradable, "note": change.note,
            "changes": [{"field": f.field, "old": f.old, "new": f.new} for f in change.changes]}

"""The results of a run: typed while the engine works, one JSON document at the edge.

`results.json` is the single source of truth: rendering, packaging and any
later re-evaluation read it and never the sources.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, cast, overload

import msgspec

from gacert import __version__
from gacert.document import (
    CheckDocument,
    CoverageDocument,
    GaDayDocument,
    GapDocument,
    JsonNumber,
    OverrideDocument,
    ResultsDocument,
    SeriesDocument,
    SloDocument,
    SummaryDocument,
    SummaryOfSeries,
    TracePoint,
    WaiversDocument,
)
from gacert.engine.baseline import baseline_document, check_baseline_document
from gacert.engine.score import score_document
from gacert.engine.waivers import counts_in_verdict, waived_count, waiver_document
from gacert.errors import OutputError
from gacert.formatting import document_number
from gacert.fsutil import open_regular, write_atomic
from gacert.model import (
    CheckResult,
    Coverage,
    Gap,
    Override,
    ReportSection,
    RunResult,
    SeriesResult,
    SeriesSummary,
    Slo,
    Status,
    Trace,
    Verdict,
)
from gacert.timestamps import format_timestamp

if TYPE_CHECKING:
    import jsonschema

RESULTS_SCHEMA_VERSION = 1
EXIT_CODES: dict[Verdict, int] = {"pass": 0, "warn": 0, "fail": 1, "error": 3}
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "no_data", "no_baseline", "insufficient",
                                "error")


def verdict(checks: tuple[CheckResult, ...]) -> Verdict:
    """The overall status from gate checks: fail > error > warn > pass.

    A gate check without data, without the baseline a rule compares with, or
    whose evidence does not cover enough of the window, counts as a failure: a
    certification cannot rest on evidence that is missing. A definite failure
    outranks an error, because it is already known that the release did not
    hold its levels.

    A waiver in force takes a check, or its failing series, out of the verdict
    (gacert.engine.waivers): the check counts with the status of what is left.
    """
    gates = {status for c in checks if (status := counts_in_verdict(c)) is not None}
    if gates & {"fail", "no_data", "no_baseline", "insufficient"}:
        return "fail"
    if "error" in gates:
        return "error"
    if "warn" in gates:
        return "warn"
    return "pass"


@overload
def json_number(value: float) -> JsonNumber: ...
@overload
def json_number(value: None) -> None: ...
def json_number(value: float | None) -> JsonNumber | None:
    """JSON has no NaN or infinity; they are written as "NaN", "+Inf", "-Inf"."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def to_document(run: RunResult) -> ResultsDocument:
    """The results document, ready for json.dumps (see schemas/results.schema.json)."""
    policy = run.policy
    counts = {status: sum(1 for c in run.checks if c.status == status) for status in STATUSES}
    slos = {c.id: c.slo for c in policy.checks}
    document: ResultsDocument = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "status": run.status,
        "exit_code": EXIT_CODES[run.status],
        "gacert_version": __version__,
        "policy": {"name": policy.name, "title": policy.title, "path": policy.path,
                   "sha256": policy.sha256, "version": policy.version,
                   "description": policy.description, "labels": dict(policy.labels),
                   "report_title": policy.report_title,
                   "ga_day": ga_day_document(policy.ga_day)},
        "window": {"start": format_timestamp(run.window.start),
                   "end": format_timestamp(run.window.end),
                   "duration_seconds": run.window.duration_seconds,
                   "step_seconds": run.window.step_seconds,
                   "coverage": {"min": policy.window.coverage.min_share,
                                "max_gap_seconds": policy.window.coverage.max_gap_seconds,
                                "reference": policy.window.coverage_reference}},
        "params": dict(run.params),
        "overrides": [override_document(o) for o in run.overrides],
        "sources": [{"id": s.id, "type": s.type, "endpoint": s.endpoint} for s in run.sources],
        "timings": {"started_at": run.timings.started_at,
                    "finished_at": run.timings.finished_at,
                    "duration_seconds": round(run.timings.duration_seconds, 3),
                    "fetch_seconds": round(run.timings.fetch_seconds, 3)},
        # A cast: mypy cannot see that `counts` holds one key per status.
        "summary": cast(SummaryDocument, {"total": len(run.checks),
                                          "gate": sum(1 for c in run.checks if c.gate),
                                          **counts}),
        "sections": [{"id": s.id, "title": s.title, "description": s.description,
                      "checks": list(s.checks)} for s in policy.sections],
        "checks": [{**_check_document(c), "slo": slo_document(slos.get(c.id))} for c in run.checks],
    }
    # Waivers and the score are written only for a policy that has them.
    if run.waivers_judged_at is not None and policy.waivers:
        document["waivers"] = waivers_document(run)
        document["summary"]["waived"] = document["waivers"]["waived"]
    if run.baseline is not None:
        document["baseline"] = baseline_document(run.baseline)
    if policy.score is not None:
        document["score"] = score_document(policy.score, run.checks,
                                           {c.id: c.weight for c in policy.checks})
    return document


def waivers_document(run: RunResult) -> WaiversDocument:
    assert run.waivers_judged_at is not None
    in_force = sum(1 for w in run.policy.waivers if w.in_force(run.waivers_judged_at))
    return {"judged_at": format_timestamp(run.waivers_judged_at),
            "count": len(run.policy.waivers), "in_force": in_force,
            "expired": len(run.policy.waivers) - in_force,
            "waived": waived_count(run.checks)}


def ga_day_document(sections: tuple[ReportSection, ...]) -> GaDayDocument:
    """The GA Day report's sections as the policy declares them, every key present,
    so that the report re-renders from the results alone."""
    return {"sections": [
        {"title": s.title, "text": s.text,
         "parts": [{"title": p.title, "text": p.text, "show": p.show, "select": p.select,
                    "tags": list(p.tags), "fill": p.fill, "label": p.label,
                    "fields": dict(p.fields), "events": list(p.events),
                    "roles": list(p.roles)} for p in s.parts]}
        for s in sections]}


def slo_document(slo: Slo | None) -> SloDocument | None:
    """The SLO a check declares, which its error budget is computed from."""
    return None if slo is None else {"objective": slo.objective, "value": slo.value}


def override_document(override: Override) -> OverrideDocument:
    return {"name": override.name, "kind": override.kind, "default": override.default,
            "value": override.value, "origin": override.origin}


def coverage_document(coverage: Coverage) -> CoverageDocument:
    rule = coverage.rule
    largest = coverage.largest_gap
    return {
        "method": coverage.method, "note": coverage.note,
        "start": _moment(coverage.start), "end": _moment(coverage.end),
        "share": None if coverage.share is None else round(coverage.share, 6),
        "largest_gap": _gap_document(largest) if largest is not None else None,
        "gaps": [_gap_document(g) for g in coverage.gaps], "gap_count": coverage.gap_count,
        "min": rule.min_share if rule else None,
        "max_gap_seconds": rule.max_gap_seconds if rule else None,
        "sufficient": coverage.sufficient, "query": coverage.query,
    }


def _gap_document(gap: Gap) -> GapDocument:
    return {"start": _moment(gap.start), "end": _moment(gap.end),
            "seconds": round(gap.seconds, 3)}


def _moment(seconds: float) -> str:
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))


def _check_document(check: CheckResult) -> CheckDocument:
    document = _check_fields(check)
    if check.coverage is not None:
        document["coverage"] = coverage_document(check.coverage)
    # Range checks: how many series keep their points, and the band of the others.
    if check.keep_points is not None:
        document["keep_points"] = check.keep_points
    if check.band is not None:
        document["band"] = trace_document(check.band)
    if check.baseline is not None:
        document["baseline"] = check_baseline_document(check.baseline)
        for series, written in zip(check.series, document["series"], strict=True):
            written["baseline"] = json_number(series.baseline)
    if check.waiver is not None:
        document["waiver"] = waiver_document(check.waiver)
        if check.waiver.in_force and check.waiver.waiver.series:
            for series, written in zip(check.series, document["series"], strict=True):
                if check.waiver.waiver.matches(series.labels):
                    written["waived"] = True
    return document


def _check_fields(check: CheckResult) -> CheckDocument:
    return {
        "id": check.id, "title": check.title, "description": check.description,
        "section": check.section, "source": check.source, "gate": check.gate,
        "tags": list(check.tags), "status": check.status, "value": json_number(check.value),
        "unit": check.unit, "precision": check.precision, "reason": check.reason,
        "decided_by": check.decided_by, "expression": check.expression,
        "rules": dict(check.rules),
        "thresholds": [{"rule": t.rule, "operator": t.operator, "value": t.value,
                        "expression": t.expression} for t in check.thresholds],
        "no_data": check.no_data, "query": check.query,
        "mode": check.mode, "over_time": check.over_time,
        "series_reduction": check.series_reduction,
        "series": [_series_document(s) for s in check.series],
        "warnings": list(check.warnings), "error": check.error,
        "duration_seconds": round(check.duration_seconds, 4),
        "measurements": _json_safe(check.measurements),
        "evidence": _json_safe(check.evidence),
        "line": check.line,
    }


def _json_safe(value: Any) -> Any:
    """Nested data with every non-finite float spelt as JSON allows."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _series_document(series: SeriesResult) -> SeriesDocument:
    document: SeriesDocument = {"labels": dict(series.labels),
                                "value": json_number(series.value), "status": series.status}
    if series.summary is not None:
        document["summary"] = _summary_document(series.summary)
    if series.points is not None:
        document["points"] = [[t, json_number(v)] for t, v in series.points]
    if series.trace is not None:
        document["trace"] = trace_document(series.trace)
    return document


def _summary_document(summary: SeriesSummary) -> SummaryOfSeries:
    return {"samples": summary.samples, "values": summary.values,
            "first": summary.first, "last": summary.last,
            "low": json_number(summary.low), "high": json_number(summary.high),
            "gap": None if summary.gap is None else list(summary.gap)}


def trace_document(trace: Trace) -> list[TracePoint]:
    """[bucket start, lowest, highest] for every bucket; null for a bucket without value."""
    return [[trace.start + i * trace.width, _or_null(low), _or_null(high)]
            for i, (low, high) in enumerate(zip(trace.low, trace.high, strict=True))]


def _or_null(value: float) -> JsonNumber | None:
    return None if math.isnan(value) else json_number(value)


def series_kept(document: SeriesDocument) -> dict[str, Any]:
    """What a results document kept of a range series besides its value and status:
    the `points`, `summary` and `trace` fields of a SeriesResult."""
    points = document.get("points")
    summary = document.get("summary")
    return {
        "points": None if points is None else
        tuple((float(t), _float(document_number(v))) for t, v in points),
        "summary": None if summary is None else SeriesSummary(
            samples=summary["samples"], values=summary["values"], first=summary["first"],
            last=summary["last"], low=document_number(summary["low"]),
            high=document_number(summary["high"]),
            gap=None if summary["gap"] is None else (summary["gap"][0], summary["gap"][1])),
        "trace": trace_from_document(document.get("trace")),
    }


def trace_from_document(trace: list[TracePoint] | None) -> Trace | None:
    """A trace (or band) as results.json holds it, back as a Trace."""
    if not trace:
        return None
    starts = [_float(document_number(bucket[0])) for bucket in trace]
    width = starts[1] - starts[0] if len(starts) > 1 else 0.0
    return Trace(starts[0], width,
                 array("d", (_float(document_number(low)) for _, low, _ in trace)),
                 array("d", (_float(document_number(high)) for _, _, high in trace)))


def _float(value: float | None) -> float:
    return math.nan if value is None else value


def results_bytes(document: ResultsDocument) -> bytes:
    """The results document as results.json holds it: JSON indented by two spaces.

    Encoded by the json module's C encoder (which refuses NaN) and indented by
    msgspec's C formatter: the same bytes as json.dumps(indent=2), whose
    pure-Python encoder took several times longer."""
    compact = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return msgspec.json.format(compact, indent=2) + b"\n"


def write_results(path: str, document: ResultsDocument) -> None:
    """Write the results document atomically: a reader never sees half a file."""
    write_atomic(path, results_bytes(document))


def read_results(path: str) -> ResultsDocument:
    """The results document at `path`, checked against the results schema, so that a
    file that is not gacert results fails with a plain message, not in a template."""
    try:
        # Only a regular file: a FIFO or /dev/zero named as results would never end.
        with open_regular(path) as handle:
            document: Any = json.load(handle)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: cannot read results: {exc}") from None
    return check_results(document, path)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    # Imported here: a run writes results but never reads them back, and
    # importing jsonschema would cost every run time.
    import jsonschema

    text = resources.files("gacert.schemas").joinpath("results.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def check_results(document: Any, path: str) -> ResultsDocument:
    """The document, if it is a results document; else an OutputError naming the fault."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise OutputError(f"{path}: not a gacert results document: at {where}: {error.message}")
    # The schema is what ResultsDocument types: a valid document is one.
    return cast(ResultsDocument, document)

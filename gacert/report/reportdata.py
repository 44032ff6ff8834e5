"""Facts that report templates derive from a results document.

Templates decide what to show and how; the few things that are awkward to
compute in a template (grouping checks by tag or by service, error budgets
of declared SLOs, how a probe measured) are computed here, from the results
document only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gacert.document import (
    CheckDocument,
    CoverageDocument,
    JsonNumber,
    OverrideDocument,
    ResultsDocument,
    SeriesDocument,
    ThresholdDocument,
)
from gacert.engine.waivers import document_counts_as, is_waived, waiver_sentence
from gacert.formatting import format_share, format_span
from gacert.model import SEVERITY

Check = CheckDocument


def worst(statuses: Iterable[str]) -> str:
    """The worst of some statuses ("pass" when there are none)."""
    seen = set(statuses)
    return next((s for s in SEVERITY if s in seen), "pass")


def tagged(checks: Iterable[Check], *tags: str) -> list[Check]:
    """The checks that carry any of `tags`, in policy order."""
    wanted = set(tags)
    return [c for c in checks if wanted & set(c.get("tags") or ())]


def not_passing(checks: Iterable[Check]) -> list[Check]:
    """The checks that are not pass, worst first, then in policy order."""
    listed = [c for c in checks if c["status"] != "pass"]
    return sorted(listed, key=lambda c: SEVERITY.index(c["status"]))


def worse_direction(check: Check) -> int:
    """+1 when higher values are worse (by the check's first threshold), -1 when
    lower are, 0 when its rules do not say."""
    for threshold in check.get("thresholds") or ():
        above = {">": 1, ">=": 1, "<": -1, "<=": -1}.get(threshold["operator"], 0)
        if above:
            return above if threshold["rule"] in ("fail", "warn") else -above
    return 0


def series_rank(check: Check) -> Callable[[SeriesDocument], tuple[int, bool, float]]:
    """Sort key of a check's series, worst first: status, then the value furthest on
    the failing side (the highest when the rules do not say); NaN and no value last."""
    direction = worse_direction(check) or 1

    def key(series: SeriesDocument) -> tuple[int, bool, float]:
        value = _value(series.get("value"))
        return (SEVERITY.index(series["status"]), value is None,
                -direction * value if value is not None else 0.0)
    return key


def worst_series(check: Check, limit: int = 20) -> dict[str, Any]:
    """The `limit` worst series of a check (`listed`), and how many others there are
    (`more`) with how many of each status (`more_statuses`: status, count, worst first)."""
    ranked = sorted(check.get("series") or (), key=series_rank(check))
    rest = [s["status"] for s in ranked[limit:]]
    return {"listed": ranked[:limit], "more": len(rest),
            "more_statuses": [(status, rest.count(status)) for status in SEVERITY
                              if status in rest]}


def range_checks(document: ResultsDocument) -> list[Check]:
    """The range checks, which have points over the window and get charts."""
    return [c for c in document["checks"] if c.get("mode") == "range"]


def services(document: ResultsDocument, label: str = "service") -> list[dict[str, Any]]:
    """Each value of a label (a service) across all series: its worst status and
    the checks where it did not pass."""
    seen: dict[str, dict[str, Any]] = {}
    for check in document["checks"]:
        for series in check.get("series") or ():
            name = (series.get("labels") or {}).get(label)
            if name is None:
                continue
            entry = seen.setdefault(name, {"name": name, "statuses": [], "checks": []})
            entry["statuses"].append(series["status"])
            if series["status"] != "pass" and check["id"] not in entry["checks"]:
                entry["checks"].append(check["id"])
    return [{"name": e["name"], "status": worst(e["statuses"]), "series": len(e["statuses"]),
             "checks": e["checks"]} for _, e in sorted(seen.items())]


def tag_counts(document: ResultsDocument) -> list[dict[str, Any]]:
    """For each tag, how many of its checks have each status."""
    counts: dict[str, dict[str, int]] = {}
    for check in document["checks"]:
        for tag in check.get("tags") or ():
            row = counts.setdefault(tag, dict.fromkeys(SEVERITY, 0))
            row[check["status"]] += 1
    return [{"tag": tag, "total": sum(row.values()), **row} for tag, row in sorted(counts.items())]


def _value(value: JsonNumber | None) -> float | None:
    if value is None:
        return None
    number = float(value.replace("Inf", "inf")) if isinstance(value, str) else float(value)
    return number if math.isfinite(number) else None


def selected(document: Mapping[str, Any], part: Mapping[str, Any]) -> list[Check]:
    """The checks a report part is about: those its `select` names (all, gate,
    slo: those that declare an SLO), narrowed to its `tags` when it has any."""
    select = part.get("select") or "all"
    checks = [c for c in document["checks"] if _chosen(c, select)]
    return tagged(checks, *part["tags"]) if part.get("tags") else checks


def _chosen(check: Check, select: str) -> bool:
    if select == "gate":
        return bool(check.get("gate", True))
    if select == "slo":
        return check.get("slo") is not None
    return True


def error_budget(check: Check, window_seconds: float) -> dict[str, Any] | None:
    """The error budget of a check that declares an SLO, or None when it declares none.

    An objective of 99.9 (percent of good) allows 0.1 % of bad. The bad share
    is 100 - value for a check whose value is the good share (availability)
    and the value itself for one whose value is the bad share (error rate).
    Spent is how much of the budget the window used (over 100 when exhausted).
    """
    slo = check.get("slo")
    if not slo:
        return None
    budget = 100 - float(slo["objective"])
    actual = _value(check.get("value"))
    bad = None if actual is None else (actual if slo.get("value") == "bad" else 100 - actual)
    spent = None if bad is None else max(bad, 0.0) / budget * 100
    return {"check": check, "value": slo.get("value", "good"),
            "objective": float(slo["objective"]), "budget": budget,
            "allowed_seconds": budget / 100 * window_seconds, "bad": bad, "spent": spent,
            "remaining": None if spent is None else max(100 - spent, 0.0)}


def error_budgets(document: ResultsDocument, checks: Iterable[Check]) -> list[dict[str, Any]]:
    """Error budgets of those of `checks` that declare an SLO."""
    window = float(document["window"]["duration_seconds"])
    found = (error_budget(c, window) for c in checks)
    return [b for b in found if b is not None]


def measured(check: Check, document: Mapping[str, Any]) -> dict[str, Any]:
    """How a check's value was measured, as `how`:

    - "window": by a query over the GA window (Prometheus and other query
      sources, which record no measurements);
    - "probe": by a probe (http, websocket, command) once, while the run
      happened, with how many requests or reconnects it made (`count`, `noun`);
    - "file": read from a file made elsewhere (`path`, `modified`);
    - "cycles": by a probe in short cycles through the window (`gacert watch`),
      with how many cycles, requests or reconnects, and the share covered.
    """
    evidence = check.get("evidence") or {}
    if _source_type(check, document) == "file":
        return {"how": "file", "path": evidence.get("path"), "modified": evidence.get("modified")}
    measurements = check.get("measurements") or {}
    if not measurements:
        return {"how": "window"}
    count, noun = _probe_count(measurements)
    window = evidence.get("window")
    if isinstance(window, Mapping) and "cycles" in window:
        share = (window.get("coverage") or {}).get("share")
        return {"how": "cycles", "count": count, "noun": noun, "cycles": window["cycles"],
                "coverage": share}
    return {"how": "probe", "count": count, "noun": noun,
            "started_at": evidence.get("started_at"), "seconds": evidence.get("duration_s")}


def _source_type(check: Check, document: Mapping[str, Any]) -> str:
    return next((str(s.get("type")) for s in document.get("sources") or ()
                 if s.get("id") == check.get("source")), "")


def _probe_count(measurements: Mapping[str, Any]) -> tuple[Any, str]:
    """How many requests (http) or reconnects (websocket) a probe made."""
    for noun in ("requests", "reconnects"):
        counts = measurements.get(noun)
        if isinstance(counts, Mapping) and counts.get("total") is not None:
            return counts["total"], noun
    return None, ""


def measured_counts(document: Mapping[str, Any], checks: Iterable[Check]) -> dict[str, int]:
    """How many of `checks` were measured each way (see `measured`)."""
    counts = {"window": 0, "probe": 0, "file": 0, "cycles": 0}
    for check in checks:
        counts[measured(check, document)["how"]] += 1
    return counts


def ga_day_sections(document: Mapping[str, Any],
                    generic: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The GA Day report's sections: the policy's when it declares them, else the
    template's `generic` ones; every part with every key present."""
    declared = (document["policy"].get("ga_day") or {}).get("sections") or generic
    return [{"title": s["title"], "text": s.get("text", ""),
             "parts": [{**PART_DEFAULTS, **p} for p in s.get("parts", ())]}
            for s in declared]


# Each key of a GA Day report part with the value that means "not given"
# (the defaults of gacert.model.ReportPart).
PART_DEFAULTS: dict[str, Any] = {
    "title": "", "text": "", "show": "", "select": "all", "tags": [], "fill": "",
    "label": "", "fields": {}, "events": [], "roles": [],
}


def rule_thresholds(check: Check, params: Mapping[str, Any] | None = None
                    ) -> list[ThresholdDocument]:
    """The check's thresholds, as evaluation computed them with the run's params.

    `params` is not read (the thresholds were computed when the check was
    evaluated); templates that pass them keep working."""
    return list(check.get("thresholds") or [])


MAX_CHANGES_LISTED = 6


def watch_trends(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For the results of a watch, each gate check over the snapshots: its first, last
    and worst status, how many snapshots it did not pass, and when it changed."""
    watched = document.get("watch")
    if not watched:
        return []
    rows = []
    for trend in watched["trend"]:
        statuses = [point[2] for point in trend["points"]]
        changes = [f"{before}→{after} at {_clock(point[0])}"
                   for (_, _, before), point in zip(trend["points"], trend["points"][1:],
                                                    strict=False)
                   if (after := point[2]) != before]
        if len(changes) > MAX_CHANGES_LISTED:
            changes = [*changes[:MAX_CHANGES_LISTED], f"{len(changes) - MAX_CHANGES_LISTED} more"]
        rows.append({"id": trend["id"], "title": trend["title"], "count": len(statuses),
                     "first": statuses[0] if statuses else "no_data",
                     "last": statuses[-1] if statuses else "no_data",
                     "worst": worst(statuses), "changes": changes,
                     "not_passing": sum(1 for status in statuses if status != "pass")})
    return rows


def _clock(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%d %H:%M")


def coverage_text(check: Check) -> str:
    """How much of the window a check's evidence covers, for a table cell: `100.0 %`,
    `75.3 %, gap 5h 56m`, `not measured`, or N/A in results that do not say."""
    coverage: CoverageDocument | None = check.get("coverage")
    if coverage is None:
        return "N/A"
    if coverage["share"] is None:
        return "not measured" if coverage["method"] == "none" else "could not be measured"
    text = format_share(coverage["share"])
    gap = coverage["largest_gap"]
    if gap is not None:
        text += f", gap {format_span(gap['seconds'])}"
    if coverage["sufficient"] is False:
        text += " (insufficient)"
    return text


def coverage_detail(check: Check) -> str:
    """One sentence on a check's coverage, for the evidence part of a report."""
    coverage: CoverageDocument | None = check.get("coverage")
    if coverage is None:
        return "N/A: these results do not record coverage"
    if coverage["share"] is None:
        return coverage["note"]
    text = f"{format_share(coverage['share'])} of {coverage['start']} → {coverage['end']}"
    gap = coverage["largest_gap"]
    if gap is not None:
        count = coverage["gap_count"]
        text += (f"; largest gap {format_span(gap['seconds'])} from {gap['start']} to "
                 f"{gap['end']}" + (f" ({count} gaps)" if count > 1 else ""))
    if coverage["min"] is not None and coverage["max_gap_seconds"] is not None:
        text += (f"; needs at least {coverage['min'] * 100:g} % and no gap over "
                 f"{format_span(coverage['max_gap_seconds'])}")
        text += ": sufficient" if coverage["sufficient"] else ": INSUFFICIENT"
    return f"{text} ({coverage['note']})"


def lowest_coverage(document: ResultsDocument) -> dict[str, Any] | None:
    """The gate check whose evidence covers the least of the window, with how many
    checks were measured; None when no check was."""
    measured = [(c, coverage["share"]) for c in document["checks"]
                if (coverage := c.get("coverage")) is not None and coverage["share"] is not None]
    if not measured:
        return None
    lowest, _ = min(measured, key=lambda item: (not item[0].get("gate", True), item[1]))
    return {"check": lowest, "text": coverage_text(lowest), "measured": len(measured),
            "total": len(document["checks"])}


def override_origin(override: OverrideDocument) -> str:
    """`overridden on the command line`, `set from the environment (PROMETHEUS_URL)`."""
    origin = override["origin"]
    if origin == "command line":
        return "overridden on the command line"
    return f"set from the environment ({origin.removeprefix('environment ')})"


def overridden(document: Mapping[str, Any], name: str) -> OverrideDocument | None:
    """The override of a param, if the run changed it."""
    return next((o for o in document.get("overrides") or ()
                 if o["kind"] == "param" and o["name"] == name), None)


def counted_as(checks: list[CheckDocument], statuses: list[str]) -> list[CheckDocument]:
    """The checks that count in the verdict with one of `statuses` (after waivers)."""
    return [c for c in checks if document_counts_as(c) in statuses]


def waivers_of(checks: list[CheckDocument]) -> list[CheckDocument]:
    """The checks that have a waiver, in force or expired."""
    return [c for c in checks if "waiver" in c]


def waived_checks(checks: list[CheckDocument]) -> list[CheckDocument]:
    """Gate checks a waiver in force takes, or takes in part, out of the verdict."""
    return [c for c in checks if is_waived(c)]


TEMPLATE_HELPERS = {
    "worst": worst, "not_passing": not_passing, "range_checks": range_checks,
    "services": services, "tag_counts": tag_counts, "selected": selected,
    "error_budgets": error_budgets, "rule_thresholds": rule_thresholds,
    "measured": measured, "measured_counts": measured_counts,
    "ga_day_sections": ga_day_sections, "watch_trends": watch_trends,
    "worst_series": worst_series,
    "coverage_text": coverage_text,
    "coverage_detail": coverage_detail, "lowest_coverage": lowest_coverage,
    "override_origin": override_origin, "overridden": overridden,
    "waived": is_waived, "waiver_text": waiver_sentence, "counted_as": counted_as,
    "waived_checks": waived_checks, "waivers_of": waivers_of,
}

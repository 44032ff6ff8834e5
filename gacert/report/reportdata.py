"""Facts that report templates derive from a results document.

Templates decide what to show and how; the few things that are awkward to
compute in a template (grouping checks by tag or by service, error budgets
from the rules) are computed here, from the results document only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from gacert.document import CheckDocument, JsonNumber, ResultsDocument, ThresholdDocument
from gacert.model import SEVERITY

# A tag that names an issue, such as tars-1001: a hotfix the GA day validates.
_ISSUE_KEY = re.compile(r"^[a-z][a-z0-9]*-[0-9]+$")

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


def range_checks(document: ResultsDocument) -> list[Check]:
    """The range checks, which have points over the window and get charts."""
    return [c for c in document["checks"] if c.get("mode") == "range"]


def hotfixes(document: ResultsDocument) -> list[dict[str, Any]]:
    """The hotfixes the GA day validates, each with the checks tagged with its key.

    The policy label `hotfixes` names them ("TARS-1001, TARS-1002"); without
    it, every tag that looks like an issue key (tars-1001) is one.
    """
    label = (document["policy"].get("labels") or {}).get("hotfixes", "")
    keys = [k for k in re.split(r"[\s,]+", label) if k]
    if not keys:
        tags = {t for c in document["checks"] for t in c.get("tags") or ()}
        keys = sorted(t.upper() for t in tags if _ISSUE_KEY.match(t))
    return [{"key": key, "tag": key.lower(), "checks": tagged(document["checks"], key.lower())}
            for key in keys]


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


def error_budget(check: Check, params: Mapping[str, Any],
                 window_seconds: float) -> dict[str, Any] | None:
    """The error budget of a percentage objective, or None when the rules give none.

    `value >= 99.9` (higher is better) allows 0.1 % of bad; `value >= 0.1` as
    a fail rule (lower is better) allows 0.1 %. Spent is how much of that the
    window used, as a share of the budget (over 100 when it is exhausted).
    """
    if check.get("unit") != "%":
        return None
    target = _objective(check)
    if target is None:
        return None
    direction, bound = target
    budget = 100 - bound if direction == "min" else bound
    if not 0 < budget < 100:
        return None
    actual = _value(check.get("value"))
    used = None if actual is None else (100 - actual if direction == "min" else actual)
    spent = None if used is None else max(used, 0.0) / budget * 100
    return {"check": check, "direction": direction, "target": bound, "budget": budget,
            "allowed_seconds": budget / 100 * window_seconds, "used": used, "spent": spent,
            "remaining": None if spent is None else max(100 - spent, 0.0)}


def _objective(check: Check) -> tuple[str, float] | None:
    """("min", T) for an objective value >= T, ("max", T) for value < T."""
    for threshold in check["thresholds"]:
        passes_above = threshold["operator"] in (">=", ">")
        if threshold["rule"] == "pass":
            return ("min" if passes_above else "max"), threshold["value"]
        if threshold["rule"] == "fail":
            return ("max" if passes_above else "min"), threshold["value"]
    return None


def error_budgets(document: ResultsDocument, *tags: str) -> list[dict[str, Any]]:
    """Error budgets of the percentage checks tagged with any of `tags`."""
    window = float(document["window"]["duration_seconds"])
    found = (error_budget(c, document.get("params") or {}, window)
             for c in tagged(document["checks"], *tags))
    return [b for b in found if b is not None]


def rule_thresholds(check: Check, params: Mapping[str, Any] | None = None
                    ) -> list[ThresholdDocument]:
    """The check's thresholds, as evaluation computed them with the run's params.

    `params` is not read (the thresholds were computed when the check was
    evaluated); templates that pass them keep working."""
    return list(check.get("thresholds") or [])


TEMPLATE_HELPERS = {
    "worst": worst, "not_passing": not_passing, "range_checks": range_checks,
    "hotfixes": hotfixes, "services": services, "tag_counts": tag_counts,
    "error_budgets": error_budgets, "rule_thresholds": rule_thresholds,
}

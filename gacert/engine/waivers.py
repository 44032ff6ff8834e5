"""Waivers: reviewed, expiring exceptions that take a check out of the verdict.

A waiver never changes what was measured: the check keeps its status, value
and reason. It changes only what the check counts as in the verdict
(`WaiverResult.counts_as`), and only while it is in force at the moment of
judging, which the results record. A series waiver takes out only the
series its matchers match; the other series of the check still decide, and
so does a status of the check as a whole that no series holds (a source
error, evidence that does not cover the window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from gacert.document import CheckDocument, WaiverDocument
from gacert.model import SEVERITY, CheckResult, Status, Waiver, WaiverResult
from gacert.policy.diff import FieldChange
from gacert.timestamps import format_timestamp

__all__ = ["apply_waivers", "counts_in_verdict", "document_counts_as", "is_waived",
           "waived_count", "waiver_change", "waiver_document", "waiver_sentence",
           "waiver_state"]


def apply_waivers(checks: Iterable[CheckResult], waivers: Iterable[Waiver],
                  moment: datetime) -> tuple[CheckResult, ...]:
    """Each check with the policy's waiver of it judged at `moment` (one waiver per
    check: validation refuses a second)."""
    by_check = {w.check: w for w in waivers}
    return tuple(_waived(check, by_check[check.id], moment) if check.id in by_check
                 else check for check in checks)


def _waived(check: CheckResult, waiver: Waiver, moment: datetime) -> CheckResult:
    in_force = waiver.in_force(moment)
    matched = sum(1 for s in check.series if waiver.matches(s.labels)) if waiver.series else 0
    return replace(check, waiver=WaiverResult(
        waiver=waiver, judged_at=moment, in_force=in_force, series_waived=matched,
        counts_as=_counts_as(check, waiver, in_force)))


def _counts_as(check: CheckResult, waiver: Waiver, in_force: bool) -> Status | None:
    if not check.gate:
        return None
    if not in_force:
        return check.status
    if not waiver.series:
        return None
    # A status of the whole check that no series holds (a source error, evidence that
    # does not cover the window) is not a series' to waive.
    if check.status not in {s.status for s in check.series}:
        return check.status
    rest = [s.status for s in check.series if not waiver.matches(s.labels)]
    return _worst(rest)


def _worst(statuses: Iterable[Status]) -> Status | None:
    ranked = sorted(statuses, key=SEVERITY.index)
    return ranked[0] if ranked else None


def counts_in_verdict(check: CheckResult) -> Status | None:
    """The status a check counts with in the verdict; None when it does not count
    (not a gate check, or waived)."""
    if check.waiver is not None:
        return check.waiver.counts_as
    return check.status if check.gate else None


def document_counts_as(check: CheckDocument) -> Status | None:
    """`counts_in_verdict` for a check of a results document."""
    waiver = check.get("waiver")
    if waiver is not None:
        return waiver["counts_as"]
    return check["status"] if check.get("gate", True) else None


def is_waived(check: CheckDocument) -> bool:
    """A gate check that a waiver in force takes (in part) out of the verdict: its
    status is not what it counts as."""
    waiver = check.get("waiver")
    return waiver is not None and waiver["in_force"] and check.get("gate", True) \
        and waiver["counts_as"] != check["status"]


def waived_count(checks: Iterable[CheckResult]) -> int:
    """Gate checks that count in the verdict with another status than their own."""
    return sum(1 for c in checks if c.waiver is not None and c.gate
               and c.waiver.counts_as != c.status)


def waiver_document(result: WaiverResult) -> WaiverDocument:
    waiver = result.waiver
    return {"reason": waiver.reason, "approver": waiver.approver,
            "expires": format_timestamp(waiver.expires), "expires_as_written": waiver.expires_text,
            "ticket": waiver.ticket or None,
            "series": [dict(m) for m in waiver.series] or None,
            "in_force": result.in_force, "judged_at": format_timestamp(result.judged_at),
            "series_waived": result.series_waived, "counts_as": result.counts_as,
            "line": waiver.line}


def waiver_change(old: WaiverDocument | None, new: WaiverResult | None
                  ) -> tuple[FieldChange, ...]:
    """The waiver as a changed field of a re-grade's row, when what it does changed:
    a status flip in the verdict that a waiver, not the evidence, explains."""
    before = waiver_state(old)
    after = waiver_state(None if new is None else waiver_document(new))
    return () if before == after else (FieldChange("waiver", before, after),)


def waiver_state(waiver: WaiverDocument | None) -> str | None:
    """What a waiver does, in a few words: `in force until ..., counts as pass`."""
    if waiver is None:
        return None
    if not waiver["in_force"]:
        return f"expired {waiver['expires']}"
    counted = waiver["counts_as"]
    effect = "not counted in the verdict" if counted is None else f"counts as {counted}"
    return f"in force until {waiver['expires']}, {effect}"


def waiver_sentence(waiver: WaiverDocument) -> str:
    """One line for every report: `waived until 2027-01-31T23:59:59Z by sre-lead
    (TARS-1234): the upstream fix ships next week`."""
    ticket = f" ({waiver['ticket']})" if waiver.get("ticket") else ""
    which = "" if not waiver["series"] else \
        f" for {waiver['series_waived']} series matching " + " or ".join(
            _matcher_text(m) for m in waiver["series"])
    if waiver["in_force"]:
        head = f"waived{which} until {waiver['expires']}"
    else:
        head = f"waiver EXPIRED on {waiver['expires']}, no longer waives{which and ':'}{which}"
    return f"{head}, approved by {waiver['approver']}{ticket}: {waiver['reason']}"


def _matcher_text(matcher: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in matcher.items()) + "}"

"""Waivers and the score as the policy states them: read, and checked for meaning.

Waivers come only from the reviewed policy file, whose SHA-256 every package
records: no `--set`, environment value or second file can add or change one
(no hidden override: a waiver is read where its review is). What the schema cannot say is
checked here, for `gacert validate`:

- error: a waiver of a check the policy does not declare; a second waiver of
  the same check; an expiry that is not a date or an RFC 3339 time with a
  time zone; a score whose checks all weigh 0;
- warning: a waiver that has expired (it no longer waives); one that expires
  more than MAX_WAIVER_DAYS ahead (a waiver is a short, reviewed exception);
  one of a check that does not gate (it waives nothing); a series waiver of a
  check that reduces its series to one value (it waives only when every
  series matches); a `weight` without a `score:` (it has no effect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gacert.model import ScoreRule, Waiver
from gacert.policy.params import closest
from gacert.policy.yamlsource import Located, PathKey

__all__ = ["MAX_WAIVER_DAYS", "build_score", "build_waivers", "parse_expiry",
           "waiver_problems"]

# A waiver that runs longer than this is a warning: it should be renewed in review.
MAX_WAIVER_DAYS = 90
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# (path, message, severity) -> records one problem; the meaning checker's `add`.
Report = Callable[..., None]


def parse_expiry(text: str) -> datetime | None:
    """When a waiver stops waiving, in UTC; None when `text` is neither a date nor an
    RFC 3339 time with a time zone. A date alone waives through that whole day (UTC)."""
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text) + timedelta(days=1),
                                    datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def build_waivers(doc: Located) -> tuple[Waiver, ...]:
    """The waivers of a valid document (the schema and meaning checks passed)."""
    result = []
    for index, data in enumerate(doc.data.get("waivers", ())):
        expires = parse_expiry(data["expires"])
        assert expires is not None  # validation refused it otherwise
        result.append(Waiver(
            check=data["check"], reason=data["reason"], approver=data["approver"],
            expires=expires, expires_text=data["expires"], series=_matchers(data),
            ticket=data.get("ticket", ""), line=doc.position(("waivers", index))[0]))
    return tuple(result)


def _matchers(data: Mapping[str, Any]) -> tuple[Mapping[str, str], ...]:
    series = data.get("series")
    if series is None:
        return ()
    return tuple(dict(m) for m in (series if isinstance(series, list) else [series]))


def build_score(data: Mapping[str, Any] | None) -> ScoreRule | None:
    if data is None:
        return None
    return ScoreRule(pass_=float(data["pass"]), warn=float(data["warn"]))


def waiver_problems(data: Mapping[str, Any], intact: Callable[[PathKey], bool], add: Report,
                    now: datetime | None = None) -> None:
    """Report through `add(path, message, hint=..., severity=...)` what the schema
    cannot say of the waivers, the weights and the score (see the module's text)."""
    checks = {c["id"]: c for c in _list(data.get("checks"))
              if isinstance(c, Mapping) and isinstance(c.get("id"), str)}
    moment = now or datetime.now(UTC)
    first: dict[str, int] = {}
    for index, waiver in enumerate(_list(data.get("waivers"))):
        here: PathKey = ("waivers", index)
        if intact(here) and isinstance(waiver, Mapping):
            _check_waiver(here, waiver, checks, first, moment, add)
            first.setdefault(waiver["check"], index)
    _check_score(data, checks, intact, add)


def _check_waiver(here: PathKey, waiver: Mapping[str, Any], checks: Mapping[str, Any],
                  first: Mapping[str, int], moment: datetime, add: Report) -> None:
    check_id = waiver["check"]
    check = checks.get(check_id)
    if check is None:
        add((*here, "check"), f"waiver of unknown check {check_id!r}",
            hint=closest(check_id, sorted(checks)) or f"checks: {', '.join(sorted(checks))}")
    elif check_id in first:
        add((*here, "check"), f"a second waiver of check {check_id!r} (first: "
            f"waivers[{first[check_id]}]); give one waiver a list of series instead")
    elif not check.get("gate", True):
        add((*here, "check"), f"check {check_id!r} does not gate the verdict (gate: false), "
            "so the waiver waives nothing", severity="warning")
    elif "series" in waiver and check.get("series", "each") != "each":
        add((*here, "series"), f"check {check_id!r} reduces its series to one value "
            f"(series: {check['series']}); a series waiver waives it only when every "
            "series matches", severity="warning")
    _check_expiry((*here, "expires"), waiver["expires"], moment, add)


def _check_expiry(here: PathKey, text: str, moment: datetime, add: Report) -> None:
    expires = parse_expiry(text)
    if expires is None:
        add(here, f"{text!r} is not a date (2026-01-31) or an RFC 3339 time with a time "
            "zone (2026-01-31T12:00:00Z)")
    elif expires <= moment:
        add(here, f"the waiver expired on {text}: it no longer waives, and the check "
            "gates the verdict again", hint="renew it in review with a new expiry, or "
            "remove it", severity="warning")
    elif expires - moment > timedelta(days=MAX_WAIVER_DAYS):
        add(here, f"the waiver runs until {text}, more than {MAX_WAIVER_DAYS} days from "
            "now; a waiver is a short exception, renewed in review",
            severity="warning")


def _check_score(data: Mapping[str, Any], checks: Mapping[str, Any],
                 intact: Callable[[PathKey], bool], add: Report) -> None:
    score = data.get("score")
    weighted = [i for i, c in enumerate(_list(data.get("checks")))
                if isinstance(c, Mapping) and "weight" in c]
    if score is None:
        for index in weighted:
            add(("checks", index, "weight"), "weight has no effect without a score: "
                "section", hint="add score: {pass: 90, warn: 75}, or remove weight",
                severity="warning")
        return
    if not isinstance(score, Mapping) or not intact(("score",)):
        return
    if score["warn"] > score["pass"]:
        add(("score", "warn"), f"score warn ({score['warn']}) is above pass "
            f"({score['pass']}): no score could warn")
    if checks and all(_weight(c) == 0 for c in checks.values()):
        add(("score",), "every check weighs 0, so there is no score to compute",
            hint="give a check a weight above 0")


def _weight(check: Mapping[str, Any]) -> float:
    weight = check.get("weight", 1)
    return float(weight) if isinstance(weight, int | float) else 1.0


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []

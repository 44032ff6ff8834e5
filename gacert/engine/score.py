"""The optional total score, for teams that come from Keptn quality gates.

Each check earns points from its own status: its whole weight for pass, half
of it for warn, nothing for anything else (fail, no data, insufficient
evidence, error), as Keptn scores objectives. The score is the points in
percent of all weights; `score.pass` and above is pass, `score.warn` and
above is warn, below is fail.

It is an addition to the gate verdict, never a replacement: it reads the
checks' real statuses (a waiver changes none), and neither the verdict nor
the exit code reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from gacert.document import ScoreCheckDocument, ScoreDocument
from gacert.model import CheckResult, ScoreRule, Status

__all__ = ["POINTS", "score_document"]

# The share of its weight a check earns with each status.
POINTS: Mapping[Status, float] = {"pass": 1.0, "warn": 0.5}


def score_document(rule: ScoreRule, checks: Iterable[CheckResult],
                   weights: Mapping[str, float]) -> ScoreDocument:
    """The score of `checks` under `rule`; `weights` by check id (default 1)."""
    rows: list[ScoreCheckDocument] = []
    for check in checks:
        weight = weights.get(check.id, 1.0)
        rows.append({"id": check.id, "weight": weight,
                     "points": weight * POINTS.get(check.status, 0.0)})
    total = sum(r["weight"] for r in rows)
    points = sum(r["points"] for r in rows)
    value = round(points / total * 100, 4) if total > 0 else None
    return {"value": value, "status": None if value is None else _status(rule, value),
            "pass_at": rule.pass_, "warn_at": rule.warn, "points": points, "weights": total,
            "checks": rows}


def _status(rule: ScoreRule, value: float) -> Literal["pass", "warn", "fail"]:
    if value >= rule.pass_:
        return "pass"
    return "warn" if value >= rule.warn else "fail"

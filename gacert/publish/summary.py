"""The facts of a finished run that every CI output shares, and the stable JSON
that `gacert run --format json` prints for CI systems other than GitHub.

Everything here is read from the results document and the paths the run
wrote; nothing is recomputed from the sources or the policy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gacert.document import CheckDocument, ResultsDocument
from gacert.engine.waivers import document_counts_as, is_waived
from gacert.package.build import GA_DAY_HTML

# Bump when a key of the JSON below changes meaning or goes away (adding keys is fine).
JSON_FORMAT_VERSION = 1
# Gate checks with these statuses make the verdict fail or error.
FAILING_STATUSES = ("fail", "no_data", "no_baseline", "insufficient", "error")


@dataclass(frozen=True)
class RunSummary:
    """A finished run as CI sees it: the results document and where things were written."""

    document: ResultsDocument
    exit_code: int  # what gacert exits with (after --fail-on)
    results_path: str
    package_dir: str | None = None
    tarball: str | None = None
    junit_path: str | None = None

    @property
    def verdict(self) -> str:
        return str(self.document["status"])

    @property
    def policy_path(self) -> str:
        return self.document["policy"].get("path") or ""

    @property
    def report_path(self) -> str | None:
        """The HTML GA Day report of the package, when it was written."""
        if self.package_dir is None:
            return None
        path = os.path.join(self.package_dir, GA_DAY_HTML)
        return path if os.path.isfile(path) else None

    def checks(self) -> list[CheckDocument]:
        return self.document["checks"]

    def failing_checks(self) -> list[str]:
        """Ids of the gate checks that make the verdict fail or error, in policy order
        (a waiver in force takes a check, or its failing series, out)."""
        return [c["id"] for c in self.checks() if document_counts_as(c) in FAILING_STATUSES]

    def waived_checks(self) -> list[str]:
        """Ids of the gate checks a waiver in force takes, or takes in part, out."""
        return [c["id"] for c in self.checks() if is_waived(c)]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON of `--format json` (documented in docs/ci.md)."""
        doc = self.document
        return {
            "format_version": JSON_FORMAT_VERSION,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "policy": {"name": doc["policy"]["name"], "path": self.policy_path,
                       "sha256": doc["policy"].get("sha256")},
            "window": {"start": doc["window"]["start"], "end": doc["window"]["end"]},
            "summary": doc["summary"],
            "failing_checks": self.failing_checks(),
            "waived_checks": self.waived_checks(),
            **({"score": doc["score"]} if "score" in doc else {}),
            **({"baseline": doc["baseline"]} if "baseline" in doc else {}),
            "checks": [_check_json(c) for c in self.checks()],
            "results": self.results_path,
            "package": None if self.package_dir is None else {
                "directory": self.package_dir, "tarball": self.tarball,
                "report": self.report_path},
            "junit": self.junit_path,
        }


def _check_json(check: CheckDocument) -> dict[str, Any]:
    return {"id": check["id"], "title": check["title"], "status": check["status"],
            "gate": check.get("gate", True), "value": check["value"],
            "unit": check.get("unit") or "", "reason": check["reason"],
            "line": check.get("line", 0), "waiver": check.get("waiver"),
            **({"baseline": check["baseline"]} if "baseline" in check else {})}

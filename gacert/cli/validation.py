"""`gacert validate` for one file: detect (when asked), check, count, decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gacert.errors import Problem
from gacert.policy.detect import Detection, detect_policy
from gacert.policy.load import check_policy_file
from gacert.policy.meaning import TemplateCheck

# Enough of any policy (the loader refuses files over 1 MiB) to find its top-level keys.
_SNIFF_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class FileReport:
    file: str
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    checks: int = 0
    skipped: bool = False
    skip_reason: str = ""

    def count(self, severity: str) -> int:
        return sum(p.severity == severity for p in self.problems)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "file": self.file, "valid": self.valid, "errors": self.errors,
            "warnings": self.warnings, "notes": self.count("note"),
            "problems": [p.__dict__ for p in self.problems]}
        if self.skipped:
            entry.update(skipped=True, skip_reason=self.skip_reason)
        return entry


def validate_file(path: str, template_check: TemplateCheck, *, skip_non_policies: bool,
                  strict: bool) -> FileReport:
    """Validate one file; with `skip_non_policies`, a file that is not a gacert policy
    by its content is skipped (and valid), with the reason."""
    if skip_non_policies:
        detection = _detect(path)
        if detection is not None and not detection.is_policy:
            return FileReport(path, True, skipped=True, skip_reason=detection.why)
    policy, problems = check_policy_file(path, template_check)
    warned = strict and any(p.severity == "warning" for p in problems)
    return FileReport(path, policy is not None and not warned, problems,
                      len(policy.checks) if policy else 0)


def _detect(path: str) -> Detection | None:
    """What the file's content says, or None when it cannot be read (the check says why)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(_SNIFF_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return None
    return detect_policy(text, path)

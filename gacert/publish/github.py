"""GitHub Actions: the job summary, the step outputs and annotations that point
at the policy line of each check that needs attention.

Used when GITHUB_ACTIONS is "true": the summary is appended to the file
$GITHUB_STEP_SUMMARY names, the outputs to $GITHUB_OUTPUT (each only when the
variable is set), and annotations are workflow commands printed on a stream:

    ::error file=policies/ga.yaml,line=171,title=gacert p99_latency FAIL::p99_latency fail: ...

Gate checks that fail, lack data or are in error are errors, gate warnings
warnings, informational checks that do not pass notices. The commands are
escaped by `gacert.publish.commands`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TextIO

from gacert.document import CheckDocument
from gacert.engine.waivers import document_counts_as, waiver_sentence
from gacert.publish.commands import command, repository_path
from gacert.publish.summary import FAILING_STATUSES, RunSummary
from gacert.redact import printable


def in_github_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def annotation_level(check: CheckDocument) -> str | None:
    """error, warning or notice for a check that needs attention; None when it passes.
    A check counts with the status the verdict reads: a waived failure is a notice."""
    if check["status"] == "pass" and "waiver" not in check:
        return None
    counted = document_counts_as(check)
    if counted is None or counted == "pass":
        return "notice"
    return "error" if counted in FAILING_STATUSES else "warning"


def check_annotations(summary: RunSummary, workspace: str | None = None) -> list[str]:
    """A workflow command for each check that does not pass, at its policy line."""
    file = repository_path(summary.policy_path, workspace)
    lines = []
    for check in summary.checks():
        level = annotation_level(check)
        if level is not None:
            title = f"gacert {check['id']} {str(check['status']).upper()}"
            waiver = check.get("waiver")
            text = str(check["reason"]) + (f"; {waiver_sentence(waiver)}" if waiver else "")
            # The reason quotes label values: shown, never obeyed, by the log viewer.
            lines.append(command(level, printable(text, one_line=True),
                                 file=file,
                                 line=int(check.get("line") or 0), title=title))
    return lines


def step_outputs(summary: RunSummary) -> dict[str, str]:
    """The step outputs: `steps.<id>.outputs.<name>` in a workflow (docs/ci.md)."""
    return {
        "verdict": summary.verdict,
        "exit_code": str(summary.exit_code),
        "failing_checks": ",".join(summary.failing_checks()),
        "waived_checks": ",".join(summary.waived_checks()),
        "results": summary.results_path,
        "package": summary.package_dir or "",
        "tarball": summary.tarball or "",
        "report": summary.report_path or "",
        "junit": summary.junit_path or "",
    }


def format_outputs(outputs: Mapping[str, str]) -> str:
    """The $GITHUB_OUTPUT lines: `name=value`, or a heredoc for a value with a line break."""
    text = ""
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            text += f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            text += f"{name}={value}\n"
    return text


def step_summary(summary: RunSummary) -> str:
    # Jinja2 is imported only here: `gacert validate` annotates without it.
    from gacert.report.render import render_ci_summary

    return render_ci_summary(summary.document, exit_code=summary.exit_code,
                             package=summary.package_dir, tarball=summary.tarball,
                             junit=summary.junit_path)


def publish(summary: RunSummary, environ: Mapping[str, str], stream: TextIO) -> None:
    """Write the summary, the outputs and the annotations GitHub Actions reads."""
    for line in check_annotations(summary, environ.get("GITHUB_WORKSPACE")):
        print(line, file=stream)
    if environ.get("GITHUB_STEP_SUMMARY"):
        _append(environ["GITHUB_STEP_SUMMARY"], step_summary(summary))
    if environ.get("GITHUB_OUTPUT"):
        _append(environ["GITHUB_OUTPUT"], format_outputs(step_outputs(summary)))


def _append(path: str, text: str) -> None:
    # Other steps and actions write to the same files: append, never replace.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)

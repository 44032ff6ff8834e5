"""JUnit XML: how CI test viewers (GitLab, Jenkins, Azure DevOps, GitHub test
reporters) show a run, one testcase per check.

    <testsuites>                      the run
      <testsuite name=POLICY>         one per policy, with the verdict and window as properties
        <testcase name=CHECK>         one per check, classname POLICY.SECTION
          <failure>                   status fail
          <error>                     status error, no_data, no_baseline or insufficient (the
                                      evidence, or the baseline a rule compares with, is
                                      missing, or does not cover the window)
          <skipped>                   informational checks (gate: false), whatever their status,
                                      and gate checks a waiver in force takes out of the
                                      verdict (the message says why, who, until when)
          <system-out>                value, status, rule, query, coverage, error

A warn is a passing testcase: it does not fail the verdict unless asked to,
and its system-out says WARN. A check is counted with the status the verdict
reads: a waived failure is skipped, never a failure, and a series waiver
leaves the status of the series it does not match. Every waiver, in force or
expired, is a line of the testcase's system-out and a property of the suite.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from gacert.document import CheckDocument, ResultsDocument
from gacert.engine.waivers import document_counts_as, waiver_sentence
from gacert.formatting import format_value
from gacert.fsutil import write_atomic

# Characters XML 1.0 cannot hold, even escaped; a server's error message may carry them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """`value` as text that an XML 1.0 document can hold (others become U+FFFD)."""
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def junit_xml(document: ResultsDocument) -> bytes:
    """The JUnit XML of a results document."""
    suite = _testsuite(document)
    root = ET.Element("testsuites", {
        "name": "gacert", **{k: suite.attrib[k] for k in
                             ("tests", "failures", "errors", "skipped", "time")}})
    root.append(suite)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_junit(path: str, document: ResultsDocument) -> None:
    write_atomic(path, junit_xml(document))


def _testsuite(document: ResultsDocument) -> ET.Element:
    policy = document["policy"]
    checks = document["checks"]
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for check in checks:
        kind = outcome_kind(check)
        if kind is not None:
            counts[kind] += 1
    timings = document.get("timings", {})
    suite = ET.Element("testsuite", {
        "name": xml_text(policy["name"]), "tests": str(len(checks)),
        **{k: str(v) for k, v in counts.items()},
        "time": f"{float(timings.get('duration_seconds') or 0):.3f}",
        "timestamp": xml_text(timings.get("started_at", "")),
        "file": xml_text(policy.get("path") or "")})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("verdict", document["status"]),
                        ("exit_code", document.get("exit_code", "")),
                        ("window.start", document["window"]["start"]),
                        ("window.end", document["window"]["end"]),
                        ("policy.path", policy.get("path") or ""),
                        ("policy.sha256", policy.get("sha256") or "")):
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
    for check in checks:
        if "waiver" in check:
            ET.SubElement(properties, "property", {
                "name": f"waiver.{check['id']}",
                "value": xml_text(waiver_sentence(check["waiver"]))})
    for check in checks:
        suite.append(_testcase(policy, check))
    return suite


def outcome_kind(check: CheckDocument) -> str | None:
    """Which JUnit count a check adds to: failures, errors, skipped, or None (passed)."""
    counted = document_counts_as(check)
    if counted is None:
        return "skipped"
    # Missing or partial evidence is an error of the test run, not a pass: like the
    # verdict, which reads every one of these as not-PASS.
    return {"fail": "failures", "error": "errors", "no_data": "errors",
            "no_baseline": "errors", "insufficient": "errors"}.get(counted)


def _testcase(policy: Mapping[str, Any], check: CheckDocument) -> ET.Element:
    attributes = {"name": xml_text(check["id"]),
                  "classname": xml_text(f"{policy['name']}.{check.get('section') or 'checks'}"),
                  "time": f"{float(check.get('duration_seconds') or 0):.3f}",
                  "file": xml_text(policy.get("path") or "")}
    if check.get("line"):
        attributes["line"] = str(check["line"])
    case = ET.Element("testcase", attributes)
    status = check["status"]
    message = xml_text(f"{status.upper()}: {check['reason']}")
    kind = outcome_kind(check)
    if kind == "skipped":
        why = "informational (gate: false)" if not check.get("gate", True) \
            else waiver_sentence(check["waiver"])
        ET.SubElement(case, "skipped", {"message": xml_text(
            f"{why}, {status.upper()}: {check['reason']}")})
    elif kind is not None:
        element = ET.SubElement(case, "failure" if kind == "failures" else "error",
                                {"message": message, "type": status})
        element.text = xml_text(check.get("error") or check["reason"])
    ET.SubElement(case, "system-out").text = _details(check)
    return case


def _details(check: CheckDocument) -> str:
    """What a person reading the test report needs to judge the check."""
    value = format_value(check["value"], check.get("unit"), check.get("precision", 2))
    lines = [f"status: {check['status'].upper()}", f"value: {value}",
             f"reason: {check['reason']}"]
    rules = [f"{name}: {rule}" for name, rule in (check.get("rules") or {}).items() if rule]
    if rules:
        lines.append(f"rules: {'; '.join(rules)}")
    if check.get("decided_by"):
        lines.append(f"decided by: {check['decided_by']}")
    lines.append(f"query: {' '.join(str(check['query']).split())}")
    if check.get("coverage") is not None:
        lines.append(f"coverage: {_coverage(check['coverage'])}")
    if check.get("error"):
        lines.append(f"error: {check['error']}")
    lines.extend(f"warning: {w}" for w in check.get("warnings") or ())
    if "waiver" in check:
        lines.append(f"waiver: {waiver_sentence(check['waiver'])}")
    return xml_text("\n".join(lines))


def _coverage(coverage: Any) -> str:
    """Coverage as the results record it: a ratio, or a mapping with one."""
    if isinstance(coverage, Mapping):
        return ", ".join(f"{k}={v}" for k, v in coverage.items())
    if isinstance(coverage, int | float):
        return f"{coverage:.1%}" if coverage <= 1 else f"{coverage:g}"
    return str(coverage)

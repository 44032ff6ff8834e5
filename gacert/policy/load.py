"""Load a policy file and validate it: YAML, then the JSON Schema, then meaning.

Every problem found is reported at once, each located at the YAML node at
fault (`file:line:col: path: message`). A policy that passes becomes a
`gacert.model.Policy`; one that does not raises `PolicyError`.

This module is on the `gacert validate` path, which runs in pre-commit on
every commit, so it imports only what validation needs: not httpx,
websockets or Jinja2, and jsonschema only when a document is not valid (see
`gacert.policy.quickschema`). The meaning checks live in `gacert.policy.meaning`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from gacert.durations import parse_duration
from gacert.errors import PolicyError, Problem
from gacert.fsutil import read_regular
from gacert.model import (
    DEFAULT_COVERAGE,
    DEFAULT_COVERAGE_REFERENCE,
    DEFAULT_KEEP_POINTS,
    DEFAULT_SCRAPE_INTERVAL,
    DEFAULT_STEP,
    DEFAULT_WINDOW,
    OTHER_SECTION_ID,
    Check,
    CoverageRule,
    Notify,
    NotifyTarget,
    Param,
    Policy,
    ReportPart,
    ReportSection,
    Rules,
    Section,
    Slo,
    SourceSpec,
    WindowDefaults,
)
from gacert.policy import quickschema
from gacert.policy.meaning import RULE_NAMES, MeaningChecker, TemplateCheck
from gacert.policy.params import closest
from gacert.policy.waivers import build_score, build_waivers
from gacert.policy.yamlsource import Located, PathKey, YamlLoadError, load_yaml

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["RULE_NAMES", "MeaningChecker", "check_policy_bytes", "check_policy_file",
           "load_policy", "located_schema_errors", "package_schema", "policy_schema",
           "schema_problems"]

# Read a little past the limit, so that the loader can say how large the file is.
_READ_LIMIT = 2 * 1024 * 1024


def policy_schema() -> dict[str, Any]:
    return package_schema("policy.schema.json")


def _schema_text(name: str) -> str:
    # The schemas are package data beside `gacert.schemas`. Reading the file
    # directly spares a pre-commit run the import of importlib.resources
    # (about 8 ms); an install that is not plain files (a zip) still works.
    package = importlib.import_module("gacert.schemas")
    try:
        with open(os.path.join(os.path.dirname(package.__file__ or ""), name),
                  encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        from importlib import resources
        return resources.files("gacert.schemas").joinpath(name).read_text("utf-8")


def load_policy(path: str, template_check: TemplateCheck | None = None) -> Policy:
    """The policy at `path`, or PolicyError listing every problem (errors only)."""
    policy, problems = check_policy_file(path, template_check)
    errors = [p for p in problems if p.severity == "error"]
    if errors or policy is None:
        raise PolicyError(errors)
    return policy


def check_policy_file(path: str, template_check: TemplateCheck | None = None
                      ) -> tuple[Policy | None, list[Problem]]:
    """Validate `path`; return the policy (None if invalid) and every problem found.

    `template_check` compiles the report templates the policy names (the CLI
    passes `gacert.report.render.template_problem`); without it, only their
    existence and size are checked."""
    try:
        # A FIFO or a device is refused, never read: it would hang or never end.
        raw, size = read_regular(path, _READ_LIMIT)
    except OSError as exc:
        return None, [Problem(path, 0, 0, "", f"cannot read: {exc.strerror or exc}")]
    return check_policy_bytes(raw, path, template_check, size=size)


def check_policy_bytes(raw: bytes, path: str, template_check: TemplateCheck | None = None,
                       *, size: int | None = None) -> tuple[Policy | None, list[Problem]]:
    """Validate the contents `raw` of the policy file `path` (which names it in problems
    and locates the templates it names); `size` is the file's size, when `raw` is only
    its start."""
    try:
        doc = load_yaml(raw, path, size)
    except YamlLoadError as exc:
        return None, [exc.problem]
    located = schema_errors(doc)
    checked = MeaningChecker(doc, damaged=[where for where, _ in located],
                             template_check=template_check).run()
    problems = sorted([problem for _, problem in located] + checked.problems,
                      key=lambda p: (p.line, p.column, p.path))
    if located or any(p.severity == "error" for p in problems):
        return None, problems
    return build_policy(doc, hashlib.sha256(raw).hexdigest(), checked.rules), problems


def schema_problems(doc: Located) -> list[Problem]:
    """Every JSON Schema violation, located and sorted by position in the file."""
    return sorted((problem for _, problem in schema_errors(doc)),
                  key=lambda p: (p.line, p.column, p.path))


def schema_errors(doc: Located) -> list[tuple[PathKey, Problem]]:
    """Every JSON Schema violation with the path of the node at fault."""
    if doc.data is None:
        return [((), Problem(doc.file, 1, 1, "", "the file is empty; a policy is a YAML "
                             "mapping with version, name, sources and checks"))]
    return located_schema_errors(doc, policy_schema())


@cache
def package_schema(name: str) -> dict[str, Any]:
    """A schema of `schemas/` by file name, such as policy-tests.schema.json."""
    schema: dict[str, Any] = json.loads(_schema_text(name))
    return schema


def located_schema_errors(doc: Located, schema: Mapping[str, Any]
                          ) -> list[tuple[PathKey, Problem]]:
    """Every violation of `schema` in `doc`, located, with the path of the node at fault."""
    if quickschema.is_valid(schema, doc.data):
        return []
    # Only an invalid (or undecided) document pays for importing jsonschema.
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [located for error in validator.iter_errors(doc.data)
            for located in _schema_problems(doc, error)]


def _schema_problems(doc: Located, error: ValidationError) -> list[tuple[PathKey, Problem]]:
    from jsonschema.exceptions import best_match

    path: PathKey = tuple(error.absolute_path)
    required_any = [str(e.validator_value[0]) for e in error.context or ()
                    if e.validator == "required" and isinstance(e.validator_value, list)
                    and len(e.validator_value) == 1]
    if error.validator == "anyOf" and error.context and len(required_any) == len(error.context):
        return [(path, doc.problem(path, f"needs at least one of: {', '.join(required_any)}"))]
    # For anyOf / oneOf, the most relevant sub-error says more than "is not valid".
    if error.context:
        error = best_match(error.context) or error
        path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [((*path, key), doc.problem((*path, key), f"unknown key {key!r}", key=True,
                                           hint=closest(key, allowed)
                                           or f"allowed: {', '.join(allowed)}"))
                for key in extra]
    return [(path, doc.problem(path, _schema_message(error, schema)))]


def _schema_message(error: ValidationError, schema: Mapping[str, Any]) -> str:
    if error.validator == "enum" and isinstance(error.validator_value, list):
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"{error.instance!r} is not one of: {choices}"
    if error.validator == "maxProperties" and isinstance(error.instance, dict):
        return f"set at most {error.validator_value} of: {', '.join(error.instance)}"
    if error.validator == "pattern" and isinstance(error.instance, str):
        advice = str(schema.get("patternErrorMessage") or schema.get("description", ""))
        advice = advice[:1].lower() + advice[1:]
        return f"{error.instance!r} is not valid here" + (f"; {advice}" if advice else "")
    return str(error.message)


def build_policy(doc: Located, sha256: str, rules: Mapping[int, Rules]) -> Policy:
    """Map a valid document to the model (the schema and meaning checks passed);
    `rules` are the checks' rules by index, as the meaning checks compiled them."""
    data = doc.data
    window = data.get("window", {})
    sections_data = data.get("report", {}).get("sections", [])
    section_of = {cid: s["id"] for s in sections_data for cid in s["checks"]}
    keep_points = data.get("report", {}).get("keep_points", DEFAULT_KEEP_POINTS)
    coverage = _coverage_rule(window.get("coverage", {}), DEFAULT_COVERAGE)
    checks = tuple(_build_check(c, section_of.get(c["id"], OTHER_SECTION_ID), rules[i],
                                doc.position(("checks", i))[0], coverage, keep_points)
                   for i, c in enumerate(data["checks"]))
    sections = [Section(s["id"], s.get("title", s["id"]), s.get("description", ""),
                        tuple(s["checks"])) for s in sections_data]
    unplaced = tuple(c.id for c in checks if c.section == OTHER_SECTION_ID)
    if unplaced:
        sections.append(Section(OTHER_SECTION_ID, "Other checks", "", unplaced))
    return Policy(
        path=doc.file, sha256=sha256, version=data["version"], name=data["name"],
        title=data.get("title", data["name"]), description=data.get("description", ""),
        labels=dict(data.get("labels", {})),
        window=WindowDefaults(
            duration_seconds=parse_duration(window.get("duration", DEFAULT_WINDOW)),
            step_seconds=parse_duration(window.get("step", DEFAULT_STEP)),
            scrape_interval_seconds=parse_duration(
                window.get("scrape_interval", DEFAULT_SCRAPE_INTERVAL)),
            coverage=coverage,
            coverage_reference=window.get("coverage", {}).get(
                "reference", DEFAULT_COVERAGE_REFERENCE)),
        params={name: _build_param(name, value)
                for name, value in data.get("params", {}).items()},
        sources={sid: SourceSpec(sid, s["type"], s) for sid, s in data["sources"].items()},
        checks=checks,
        report_title=data.get("report", {}).get("title", data.get("title", data["name"])),
        sections=tuple(sections),
        report_templates=dict(data.get("report", {}).get("templates", {})),
        ga_day=_build_ga_day(data.get("report", {}).get("ga_day", {})),
        notify=_build_notify(data.get("notify")),
        waivers=build_waivers(doc), score=build_score(data.get("score")),
    )


def _build_notify(data: Mapping[str, Any] | None) -> Notify | None:
    if data is None:
        return None
    targets = tuple(NotifyTarget(t["type"], tuple(t.get("when", ("fail", "verdict"))),
                                 {k: v for k, v in t.items() if k not in ("type", "when")})
                    for t in data["targets"])
    return Notify(targets=targets, alert_on=data.get("alert_on", "fail"),
                  report_url=data.get("report_url", ""), retries=data.get("retries", 3),
                  backoff_seconds=parse_duration(data.get("backoff", "1s")),
                  timeout_seconds=parse_duration(data.get("timeout", "10s")))


def _build_ga_day(data: Mapping[str, Any]) -> tuple[ReportSection, ...]:
    return tuple(ReportSection(s["title"], s.get("text", ""),
                               tuple(_build_part(p) for p in s.get("parts", ())))
                 for s in data.get("sections", ()))


def _build_part(data: Mapping[str, Any]) -> ReportPart:
    return ReportPart(
        title=data.get("title", ""), text=data.get("text", ""), show=data.get("show", ""),
        select=data.get("select", "all"), tags=tuple(data.get("tags", ())),
        fill=data.get("fill", ""), label=data.get("label", ""),
        fields=dict(data.get("fields", {})), events=tuple(data.get("events", ())),
        roles=tuple(data.get("roles", ())))


def _build_param(name: str, value: Any) -> Param:
    if isinstance(value, Mapping):
        return Param(name, value["default"], value.get("description", ""))
    return Param(name, value)


def _coverage_rule(data: Mapping[str, Any], default: CoverageRule) -> CoverageRule:
    """A `coverage` mapping as a rule; keys it leaves out keep `default`'s values."""
    return CoverageRule(
        min_share=float(data.get("min", default.min_share)),
        max_gap_seconds=parse_duration(data["max_gap"]) if "max_gap" in data
        else default.max_gap_seconds)


def _build_check(data: Mapping[str, Any], section: str, rules: Rules, line: int,
                 coverage: CoverageRule, keep_points: int) -> Check:
    return Check(
        id=data["id"], title=data.get("title", data["id"]),
        description=data.get("description", ""), source=data["source"],
        query=data.get("query", ""), mode=data.get("mode", "instant"),
        over_time=data.get("over_time"), series=data.get("series", "each"),
        unit=data.get("unit", ""), precision=data.get("precision", 2),
        rules=rules,
        no_data=data.get("no_data", "no_data"), gate=data.get("gate", True),
        tags=tuple(data.get("tags", ())), section=section,
        slo=_build_slo(data.get("slo")), line=line,
        coverage=None if data.get("coverage") == "none"
        else _coverage_rule(data.get("coverage", {}), coverage),
        keep_points=data.get("keep_points", keep_points),
        weight=float(data.get("weight", 1)),
    )


def _build_slo(data: Mapping[str, Any] | None) -> Slo | None:
    if data is None:
        return None
    return Slo(float(data["objective"]), data.get("value", "good"))

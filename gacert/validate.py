"""Load a policy file and validate it: YAML, then the JSON Schema, then meaning.

Every problem found is reported at once, each located at the YAML node at
fault (`file:line:col: path: message`). A policy that passes becomes a
`gacert.policy.Policy`; one that does not raises `PolicyError`.

This module is on the `gacert validate` path, which runs in pre-commit on
every commit: it must not import httpx, websockets or Jinja2.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from gacert.durations import parse_duration
from gacert.errors import PolicyError, Problem
from gacert.expressions import (
    CHECK_NAMES,
    CONSTANTS,
    FUNCTIONS,
    ExpressionSyntaxError,
    compile_expression,
    unknown_names,
)
from gacert.params import closest, env_syntax_errors
from gacert.plan import query_variable_names
from gacert.policy import (
    DEFAULT_SCRAPE_INTERVAL,
    DEFAULT_STEP,
    DEFAULT_WINDOW,
    OTHER_SECTION_ID,
    Check,
    Param,
    Policy,
    Rules,
    Section,
    SourceSpec,
    WindowDefaults,
)
from gacert.sources import SourceType, known_source_types, source_type
from gacert.window import WINDOW_VARIABLES
from gacert.yamlsource import Located, PathKey, YamlLoadError, load_yaml

RULE_NAMES = ("pass", "warn", "fail")


@cache
def policy_schema() -> dict[str, Any]:
    text = resources.files("gacert.schemas").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_policy(path: str) -> Policy:
    """The policy at `path`, or PolicyError listing every problem (errors only)."""
    policy, problems = check_policy_file(path)
    errors = [p for p in problems if p.severity == "error"]
    if errors or policy is None:
        raise PolicyError(errors)
    return policy


def check_policy_file(path: str) -> tuple[Policy | None, list[Problem]]:
    """Validate `path`; return the policy (None if invalid) and every problem found."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(2 * 1024 * 1024)
    except OSError as exc:
        return None, [Problem(path, 0, 0, "", f"cannot read: {exc.strerror or exc}")]
    try:
        doc = load_yaml(raw, path)
    except YamlLoadError as exc:
        return None, [exc.problem]
    problems = schema_problems(doc)
    if problems:
        return None, problems
    meaning = MeaningChecker(doc)
    problems = meaning.run()
    if any(p.severity == "error" for p in problems):
        return None, problems
    return build_policy(doc, hashlib.sha256(raw).hexdigest(), meaning), problems


def schema_problems(doc: Located) -> list[Problem]:
    """Every JSON Schema violation, located and sorted by position in the file."""
    if doc.data is None:
        return [Problem(doc.file, 1, 1, "", "the file is empty; a policy is a YAML mapping "
                        "with version, name, sources and checks")]
    validator = jsonschema.Draft202012Validator(policy_schema())
    problems = [problem for error in validator.iter_errors(doc.data)
                for problem in _schema_problems(doc, error)]
    return sorted(problems, key=lambda p: (p.line, p.column, p.path))


def _schema_problems(doc: Located, error: ValidationError) -> list[Problem]:
    required_any = [str(e.validator_value[0]) for e in error.context or ()
                    if e.validator == "required" and isinstance(e.validator_value, list)
                    and len(e.validator_value) == 1]
    if error.validator == "anyOf" and error.context and len(required_any) == len(error.context):
        return [doc.problem(tuple(error.absolute_path),
                            f"needs at least one of: {', '.join(required_any)}")]
    # For anyOf / oneOf, the most relevant sub-error says more than "is not valid".
    if error.context:
        error = best_match(error.context) or error
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [doc.problem((*path, key), f"unknown key {key!r}", key=True,
                            hint=closest(key, allowed) or f"allowed: {', '.join(allowed)}")
                for key in extra]
    return [doc.problem(path, _schema_message(error, schema))]


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


class MeaningChecker:
    """Checks what the schema cannot: references, expressions, queries, durations."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data
        self.problems: list[Problem] = []
        self.param_names = set(self.data.get("params", {}))
        self.expressions: dict[tuple[int, str], Any] = {}
        self.source_types: dict[str, SourceType] = {}

    def run(self) -> list[Problem]:
        self._check_window()
        self._check_params()
        self._check_sources()
        self._check_checks()
        self._check_sections()
        if not any(check.get("gate", True) for check in self.data["checks"]):
            self.add(("checks",), "no check gates the verdict (every check has gate: false), "
                     "so the verdict is always pass", severity="warning")
        return sorted(self.problems, key=lambda p: (p.line, p.column))

    def add(self, path: PathKey, message: str, *, hint: str = "", key: bool = False,
            severity: str = "error") -> None:
        self.problems.append(self.doc.problem(path, message, hint=hint, key=key,
                                              severity=severity))

    def _check_window(self) -> None:
        for name, value in self.data.get("window", {}).items():
            try:
                parse_duration(value)
            except ValueError as exc:
                self.add(("window", name), str(exc))

    def _check_params(self) -> None:
        reserved = set(CHECK_NAMES) | set(WINDOW_VARIABLES) | CONSTANTS.keys() | FUNCTIONS.keys()
        for name in self.param_names & reserved:
            self.add(("params", name), f"param {name!r} shadows a built-in name", key=True,
                     hint=f"built-in names: {', '.join(sorted(CHECK_NAMES))}")

    def _check_sources(self) -> None:
        known = known_source_types()
        for source_id, settings in self.data["sources"].items():
            source_type_name = settings["type"]
            if source_type_name not in known:
                self.add(("sources", source_id, "type"),
                         f"unknown source type {source_type_name!r}",
                         hint=f"known types: {', '.join(known)}")
            else:
                self.source_types[source_id] = source_type(source_type_name)
            for path, text in _strings(settings, ("sources", source_id)):
                for message in env_syntax_errors(text):
                    self.add(path, message)
            for name in ("timeout", "backoff"):
                # `${VAR}` values are checked when the run interpolates them.
                value = settings.get(name)
                if isinstance(value, str) and "${" not in value:
                    try:
                        parse_duration(value)
                    except ValueError as exc:
                        self.add(("sources", source_id, name), str(exc))

    def _check_checks(self) -> None:
        sources = self.data["sources"]
        seen: dict[str, int] = {}
        variables = self.param_names | set(WINDOW_VARIABLES)
        for index, check in enumerate(self.data["checks"]):
            here: PathKey = ("checks", index)
            check_id = check["id"]
            if check_id in seen:
                self.add((*here, "id"), f"duplicate check id {check_id!r} "
                         f"(first used by checks[{seen[check_id]}])")
            seen.setdefault(check_id, index)
            source_id = check["source"]
            if source_id not in sources:
                self.add((*here, "source"), f"unknown source {source_id!r}",
                         hint=closest(source_id, list(sources))
                         or f"sources: {', '.join(sources)}")
            self._check_query_presence(here, check, sources.get(source_id, {}).get("type", ""))
            if check.get("mode") != "range" and "over_time" in check:
                self.add((*here, "over_time"), "over_time applies to range checks only",
                         hint="add mode: range, or remove over_time")
            for name in query_variable_names(check.get("query", "")):
                if name not in variables:
                    self.add((*here, "query"), f"unknown variable ${name} in query",
                             hint=closest(name, sorted(variables))
                             or "params and $__range, $__interval, $__rate_interval, ...")
            kind = self.source_types.get(source_id)
            measurements = set(kind.measurements) if kind else set()
            for rule in RULE_NAMES:
                if rule in check:
                    self._check_expression(index, rule, check[rule], measurements)

    def _check_query_presence(self, here: PathKey, check: Mapping[str, Any],
                              type_name: str) -> None:
        kind = self.source_types.get(check["source"])
        if kind is None:
            return
        if kind.query == "required" and "query" not in check:
            self.add(here, f"a check on a {type_name} source needs a query")
        elif kind.query == "none" and "query" in check:
            self.add((*here, "query"), f"a check on a {type_name} source takes no query")

    def _check_expression(self, index: int, rule: str, text: str,
                          measurements: set[str]) -> None:
        path: PathKey = ("checks", index, rule)
        try:
            expression = compile_expression(text)
        except ExpressionSyntaxError as exc:
            self.add(path, f"expression {text!r}: {exc}")
            return
        for name in unknown_names(expression, self.param_names | measurements):
            options = sorted(self.param_names | measurements | set(CHECK_NAMES))
            self.add(path, f"expression {text!r} uses unknown name {name!r}",
                     hint=closest(name, options) or f"names: {', '.join(options)}")
        self.expressions[(index, rule)] = expression

    def _check_sections(self) -> None:
        check_ids = [c["id"] for c in self.data["checks"]]
        placed: dict[str, str] = {}
        section_ids: set[str] = set()
        for index, section in enumerate(self.data.get("report", {}).get("sections", [])):
            here: PathKey = ("report", "sections", index)
            if section["id"] in section_ids or section["id"] == OTHER_SECTION_ID:
                self.add((*here, "id"), f"duplicate or reserved section id {section['id']!r}")
            section_ids.add(section["id"])
            for position, check_id in enumerate(section["checks"]):
                if check_id not in check_ids:
                    self.add((*here, "checks", position), f"unknown check {check_id!r}",
                             hint=closest(check_id, check_ids))
                elif check_id in placed:
                    self.add((*here, "checks", position), f"check {check_id!r} is already in "
                             f"section {placed[check_id]!r}; a check belongs to one section")
                placed.setdefault(check_id, section["id"])


def _strings(value: Any, path: PathKey) -> Iterable[tuple[PathKey, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def build_policy(doc: Located, sha256: str, meaning: MeaningChecker) -> Policy:
    """Map a valid document to the model (the schema and meaning checks passed)."""
    data = doc.data
    window = data.get("window", {})
    sections_data = data.get("report", {}).get("sections", [])
    section_of = {cid: s["id"] for s in sections_data for cid in s["checks"]}
    checks = tuple(_build_check(i, c, section_of.get(c["id"], OTHER_SECTION_ID), meaning)
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
                window.get("scrape_interval", DEFAULT_SCRAPE_INTERVAL))),
        params={name: _build_param(name, value)
                for name, value in data.get("params", {}).items()},
        sources={sid: SourceSpec(sid, s["type"], s) for sid, s in data["sources"].items()},
        checks=checks,
        report_title=data.get("report", {}).get("title", data.get("title", data["name"])),
        sections=tuple(sections),
    )


def _build_param(name: str, value: Any) -> Param:
    if isinstance(value, Mapping):
        return Param(name, value["default"], value.get("description", ""))
    return Param(name, value)


def _build_check(index: int, data: Mapping[str, Any], section: str,
                 meaning: MeaningChecker) -> Check:
    def rule(name: str) -> Any:
        return meaning.expressions.get((index, name))

    return Check(
        id=data["id"], title=data.get("title", data["id"]),
        description=data.get("description", ""), source=data["source"],
        query=data.get("query", ""), mode=data.get("mode", "instant"),
        over_time=data.get("over_time"), series=data.get("series", "each"),
        unit=data.get("unit", ""), precision=data.get("precision", 2),
        rules=Rules(pass_=rule("pass"), warn=rule("warn"), fail=rule("fail")),
        no_data=data.get("no_data", "no_data"), gate=data.get("gate", True),
        tags=tuple(data.get("tags", ())), section=section,
    )

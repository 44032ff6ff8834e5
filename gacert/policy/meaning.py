"""The meaning checks of a policy: what its JSON Schema cannot say.

References (sources, params, checks in sections), expressions (syntax,
names, parts that always raise, thresholds that contradict each other),
PromQL queries, durations, source types and report templates.

The checks run on every part of the document that the schema found intact,
so that one run reports every problem of a file: a check with a misspelt key
is left out, while the next check's broken query is still reported. A part
is intact when no schema error lies at or below it.
"""

from __future__ import annotations

import difflib
import math
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gacert.durations import parse_duration
from gacert.errors import Problem
from gacert.model import (
    DEFAULT_SCRAPE_INTERVAL,
    DEFAULT_STEP,
    DEFAULT_WINDOW,
    OTHER_SECTION_ID,
    WINDOW_VARIABLES,
    Expression,
    Rules,
    Window,
)
from gacert.policy import metricsql, promql
from gacert.policy.expressions import (
    CHECK_NAMES,
    CONSTANTS,
    FUNCTIONS,
    ExpressionSyntaxError,
    baseline_misuse,
    compile_expression,
    unknown_names,
)
from gacert.policy.params import closest, env_syntax_errors
from gacert.policy.paramsafety import default_faults
from gacert.policy.rulecheck import Locate, Scope, expression_errors, threshold_findings
from gacert.policy.variables import format_param, query_variable_names, render_query
from gacert.policy.waivers import waiver_problems
from gacert.policy.yamlsource import Located, PathKey
from gacert.sources import BUILTIN_SOURCES, SourceType, known_source_types, source_type
from gacert.sources.paths import PathError, parse_path

RULE_NAMES = ("pass", "warn", "fail")
# Settings of the built-in source types that are durations.
DURATION_SETTINGS = ("timeout", "backoff", "interval", "duration", "connect_timeout",
                     "answer_timeout", "max_age")
MAX_TEMPLATE_BYTES = 1024 * 1024
# "Did you mean" hints cost a fuzzy match each; a file with thousands of
# faults (generated, or garbage) gets hints for the first ones only.
HINT_BUDGET = 200
# (report kind, template path) -> why it does not compile, or "".
TemplateCheck = Callable[[str, str], str]
MAX_HINT_CANDIDATES = 2000


@dataclass(frozen=True)
class Checked:
    """What the meaning checks give: every problem, in file order, and the rules of
    each check whose expressions all compiled (by check index), compiled here once
    for the model that gacert.policy.load builds from a valid document."""

    problems: list[Problem]
    rules: Mapping[int, Rules]


class MeaningChecker:
    """Checks what the schema cannot: references, expressions, queries, durations."""

    def __init__(self, doc: Located, damaged: Iterable[PathKey] = (),
                 template_check: TemplateCheck | None = None) -> None:
        self.doc = doc
        # Compiling a report template needs the report stage's Jinja2 environment;
        # the caller (the CLI) hands that check in, so this stage never imports it.
        self.template_check = template_check
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        # Every path at or above a schema error: a part is intact when it is not one.
        self.damaged = {bad[:end] for bad in damaged for end in range(len(bad) + 1)}
        # The schema errors' own paths: a check with an error in one key (a misspelt
        # key, a wrong type) is still checked in its other keys.
        self.faults = {tuple(bad) for bad in damaged}
        self.problems: list[Problem] = []
        self.rules: dict[int, Rules] = {}  # check index -> its compiled rules
        self.source_types: dict[str, SourceType] = {}
        self.params = _mapping(self.data.get("params"))
        self.param_names = set(self.params)
        self.sources = _mapping(self.data.get("sources"))
        self.hints_left = HINT_BUDGET
        self.queries: list[tuple[PathKey, str]] = []
        # MetricsQL queries (sources with dialect: metricsql), with their source's id.
        self.metricsql: list[tuple[PathKey, str, str]] = []

    def run(self) -> Checked:
        if not isinstance(self.doc.data, dict):
            return Checked([], {})
        self._check_window()
        self._check_params()
        self._check_sources()
        self._check_checks()
        self._check_queries()
        self._check_metricsql()
        self._check_sections()
        self._check_templates()
        waiver_problems(self.data, self.intact, self.add)
        checks = self.data.get("checks")
        if not self.damaged and isinstance(checks, list) \
                and not any(check.get("gate", True) for check in checks):
            self.add(("checks",), "no check gates the verdict (every check has gate: false), "
                     "so the verdict is always pass", severity="warning")
        return Checked(sorted(self.problems, key=lambda p: (p.line, p.column)), self.rules)

    # --- helpers ---------------------------------------------------------------

    def add(self, path: PathKey, message: str, *, hint: str = "", key: bool = False,
            severity: str = "error") -> None:
        self.problems.append(self.doc.problem(path, message, hint=hint, key=key,
                                              severity=severity))

    def intact(self, path: PathKey) -> bool:
        """No schema error at `path` or below it."""
        return path not in self.damaged

    def hint(self, name: str, candidates: Collection[str], fallback: str = "") -> str:
        """A "did you mean" hint (within the file's budget), else `fallback`."""
        if self.hints_left <= 0 or len(candidates) > MAX_HINT_CANDIDATES:
            return fallback
        self.hints_left -= 1
        return closest(name, sorted(set(candidates))) or fallback

    def checkable_checks(self) -> list[tuple[int, dict[str, Any]]]:
        """The checks whose meaning can be checked: a mapping naming its source.

        A schema error in one key of a check (a misspelt key, a wrong type) leaves
        its other keys to check, so that one pass reports every problem of the
        check; `usable` skips the keys at fault.
        """
        checks = self.data.get("checks")
        if not isinstance(checks, list):
            return []
        return [(i, c) for i, c in enumerate(checks)
                if isinstance(c, dict) and ("checks", i) not in self.faults
                and isinstance(c.get("source"), str) and self.intact(("checks", i, "source"))]

    def usable(self, here: PathKey, check: Mapping[str, Any], key: str) -> bool:
        """The check has `key` as text, with no schema error at it."""
        return isinstance(check.get(key), str) and self.intact((*here, key))

    def param_defaults(self) -> dict[str, Any]:
        """Defaults of the params the schema found intact."""
        defaults = {}
        for name, value in self.params.items():
            if self.intact(("params", name)):
                defaults[name] = value["default"] if isinstance(value, Mapping) else value
        return defaults

    # --- window, params, sources ------------------------------------------------

    def _check_window(self) -> None:
        for name, value in _mapping(self.data.get("window")).items():
            if name == "coverage":
                self._check_coverage(("window", name), value)
            elif self.intact(("window", name)):
                try:
                    parse_duration(value)
                except ValueError as exc:
                    self.add(("window", name), str(exc))
        reference = _mapping(_mapping(self.data.get("window")).get("coverage")).get("reference")
        here: PathKey = ("window", "coverage", "reference")
        if isinstance(reference, str) and self.intact(here):
            self._check_query_variables(here, reference, None)

    def _check_coverage(self, here: PathKey, coverage: Any) -> None:
        """The schema allows any duration pattern; a zero max_gap is none."""
        gap = _mapping(coverage).get("max_gap")
        if isinstance(gap, str) and self.intact((*here, "max_gap")):
            try:
                parse_duration(gap)
            except ValueError as exc:
                self.add((*here, "max_gap"), str(exc))

    def _check_params(self) -> None:
        reserved = set(CHECK_NAMES) | set(WINDOW_VARIABLES) | CONSTANTS.keys() | FUNCTIONS.keys()
        for name in sorted(self.param_names & reserved):
            self.add(("params", name), f"param {name!r} shadows a built-in name", key=True,
                     hint=f"built-in names: {', '.join(sorted(CHECK_NAMES))}")
        for name, value in self.params.items():
            at: PathKey = ("params", name, "default") if isinstance(value, Mapping) \
                else ("params", name)
            default = value.get("default") if isinstance(value, Mapping) else value
            problem = _number_problem(default)
            if problem and self.intact(("params", name)):
                self.add(at, f"param {name!r} default {problem}")

    def _check_sources(self) -> None:
        known: list[str] | None = None
        for source_id, settings in self.sources.items():
            here: PathKey = ("sources", source_id)
            if not isinstance(settings, Mapping) or not isinstance(settings.get("type"), str):
                continue
            type_name = settings["type"]
            if type_name in BUILTIN_SOURCES:
                self.source_types[source_id] = BUILTIN_SOURCES[type_name]
            else:
                # Entry points are read only when a type is not built in: it costs
                # a scan of every installed distribution.
                known = known if known is not None else known_source_types()
                if type_name in known:
                    self.source_types[source_id] = source_type(type_name)
                else:
                    self.add((*here, "type"), f"unknown source type {type_name!r}",
                             hint=f"known types: {', '.join(known)}")
            if self.intact(here):
                self._check_source_settings(here, settings)

    def _check_source_settings(self, here: PathKey, settings: Mapping[str, Any]) -> None:
        for path, text in _strings(settings, here):
            for message in env_syntax_errors(text):
                self.add(path, message)
        # The schema knows their shape; zero passes it but is no duration.
        durations = DURATION_SETTINGS if settings["type"] in BUILTIN_SOURCES else ()
        for name in durations:
            # `${VAR}` values are checked when the run interpolates them.
            value = settings.get(name)
            if isinstance(value, str) and "${" not in value:
                try:
                    parse_duration(value)
                except ValueError as exc:
                    self.add((*here, name), str(exc))

    # --- checks ----------------------------------------------------------------

    def _check_checks(self) -> None:
        first_use: dict[str, int] = {}
        checks = self.data.get("checks")
        for index, check in enumerate(checks if isinstance(checks, list) else []):
            check_id = check.get("id") if isinstance(check, Mapping) else None
            if not isinstance(check_id, str):
                continue
            if check_id in first_use:
                self.add(("checks", index, "id"), f"duplicate check id {check_id!r} "
                         f"(first used by checks[{first_use[check_id]}])")
            first_use.setdefault(check_id, index)
        scope_defaults = self.param_defaults()
        for index, check in self.checkable_checks():
            self._check_one(index, check, scope_defaults)

    def _check_one(self, index: int, check: Mapping[str, Any],
                   defaults: Mapping[str, Any]) -> None:
        here: PathKey = ("checks", index)
        source_id = check["source"]
        if source_id not in self.sources:
            self.add((*here, "source"), f"unknown source {source_id!r}",
                     hint=self.hint(source_id, self.sources,
                                    f"sources: {', '.join(self.sources) or 'none'}"))
            # Check the rest as the source most likely meant would, so that this
            # error does not hide the query's or the rules' own.
            source_id = likely_source(source_id, self.sources)
        kind = self.source_types.get(source_id)
        self._check_query_presence(here, check, kind)
        if "coverage" in check:
            self._check_coverage((*here, "coverage"), check["coverage"])
        if check.get("mode") != "range" and "over_time" in check \
                and self.intact((*here, "mode")):
            self.add((*here, "over_time"), "over_time applies to range checks only",
                     hint="add mode: range, or remove over_time")
        if self.usable(here, check, "query"):
            self._check_query_variables((*here, "query"), check["query"], source_id)
        measured = frozenset(kind.measurements) if kind else frozenset()
        if measured and self.usable(here, check, "query"):
            self._check_measurement_path(here, check["query"], measured)
        if measured and check.get("mode") == "range":
            self.add((*here, "mode"), "a probe measures once, at run time: it has no range",
                     hint="remove mode: range")
        written = {rule: self._compile(here, rule, check[rule], measured)
                   for rule in RULE_NAMES if self.usable(here, check, rule)}
        if None in written.values():
            return
        rules = Rules(pass_=written.get("pass"), warn=written.get("warn"),
                      fail=written.get("fail"))
        self.rules[index] = rules
        scope = Scope(defaults, measured, frozenset(self.param_names))
        locate = self._locate_on(here)
        findings = [f for rule, e in rules.items()
                    for f in expression_errors(rule, e, scope, locate)]
        if not findings and self._is_prometheus(source_id):
            findings = threshold_findings(rules, scope, locate)
        self.problems.extend(findings)

    def _locate_on(self, here: PathKey) -> Locate:
        """Where the rule analysis puts a finding on one rule of the check at `here`."""
        def locate(rule: str, message: str, *, hint: str = "",
                   severity: str = "error") -> Problem:
            return self.doc.problem((*here, rule), message, hint=hint, severity=severity)
        return locate

    def _is_prometheus(self, source_id: str) -> bool:
        settings = self.sources.get(source_id)
        return isinstance(settings, Mapping) and settings.get("type") == "prometheus" \
            and source_id in self.source_types

    def _check_query_presence(self, here: PathKey, check: Mapping[str, Any],
                              kind: SourceType | None) -> None:
        if kind is None or check["source"] not in self.sources:
            return
        type_name = self.sources[check["source"]]["type"]
        if kind.query == "required" and "query" not in check:
            self.add(here, f"a check on a {type_name} source needs a query")
        elif kind.query == "none" and "query" in check:
            self.add((*here, "query"), f"a check on a {type_name} source takes no query")

    def _check_measurement_path(self, here: PathKey, query: str,
                                measured: frozenset[str]) -> None:
        """A probe check's query names a measurement: `latency.p99`, `success_rate`."""
        try:
            root = parse_path(query)[0]
        except (PathError, IndexError) as exc:
            self.add((*here, "query"), f"measurement path {query!r}: {exc or 'empty'}")
            return
        if root not in measured:
            self.add((*here, "query"), f"unknown measurement {root!r}",
                     hint=self.hint(root, measured,
                                    f"measurements: {', '.join(sorted(measured))}"))

    def _check_query_variables(self, path: PathKey, query: str, source_id: str | None) -> None:
        """Unknown variables of the query at `path`; a PromQL (or MetricsQL) one is kept
        to be parsed. `source_id` None: the coverage reference, sent to every source
        that speaks PromQL."""
        variables = self.param_names | set(WINDOW_VARIABLES)
        unknown = [n for n in query_variable_names(query) if n not in variables]
        for name in unknown:
            self.add(path, f"unknown variable ${name} in query",
                     hint=self.hint(name, variables, "params and $__range, $__interval, "
                                                     "$__rate_interval, ..."))
        if unknown:
            return
        if source_id is None:  # the coverage reference: PromQL if any source speaks it
            if any(self._is_prometheus(sid) for sid in self.sources):
                self.queries.append((path, query))
        elif not self._is_prometheus(source_id):
            return
        elif self.sources[source_id].get("dialect") == "metricsql":
            self.metricsql.append((path, query, source_id))
        else:
            self.queries.append((path, query))

    def _compile(self, here: PathKey, rule: str, text: str,
                 measured: frozenset[str]) -> Expression | None:
        path: PathKey = (*here, rule)
        try:
            expression = compile_expression(text)
        except ExpressionSyntaxError as exc:
            self.add(path, f"expression {text!r}: {exc}")
            return None
        known = self.param_names | measured
        misuse = baseline_misuse(expression)
        if misuse is not None:
            self.add(path, f"expression {text!r}: {misuse}",
                     hint="baseline.value is the previous release's value (gacert run "
                          "--baseline PREVIOUS/results.json)")
            return None
        unknown = unknown_names(expression, set(known))
        for name in unknown:
            options = known | set(CHECK_NAMES)
            self.add(path, f"expression {text!r} uses unknown name {name!r}",
                     hint=self.hint(name, options, f"names: {', '.join(sorted(options))}"))
        return None if unknown else expression

    # --- PromQL --------------------------------------------------------------------

    def _check_queries(self) -> None:
        """Parse every prometheus query as the run would send it (params at their defaults)."""
        if not self.queries:
            return
        if promql.parser() is None:
            self.add(self.queries[0][0], "PromQL queries were not parsed: the promql-parser "
                     "package is not installed", severity="warning")
            return
        defaults = {name: format_param(value) for name, value in self.param_defaults().items()}
        rendered = self._rendered(self.queries)
        results = promql.syntax_errors([text for _, text, _ in rendered])
        for (path, _, query), result in zip(rendered, results, strict=True):
            if result is not None:
                message, hint = result
                self.add(path, f"query is not valid PromQL: {message}",
                         hint=hint or self._params_used(query))
            else:
                self._check_default_places(path, query, defaults)

    def _check_default_places(self, path: PathKey, query: str,
                              defaults: Mapping[str, str]) -> None:
        """Each default must be one value where the query uses it, as a run checks the
        values it is given (gacert.policy.paramsafety)."""
        for name, fault in default_faults(query, defaults):
            self.add(path, f"param {name}'s default {defaults[name]!r} cannot be used "
                     f"here: {fault}", hint="a param may change a query only as a value")

    def _rendered(self, queries: Iterable[tuple[PathKey, str]]
                  ) -> list[tuple[PathKey, str, str]]:
        """(path, query as the run would send it, query as written) for each query."""
        variables = {name: format_param(value) for name, value in self.param_defaults().items()}
        variables.update(self._sample_window().variables())
        rendered: list[tuple[PathKey, str, str]] = []
        for path, query in queries:
            try:
                rendered.append((path, render_query(query, variables).strip(), query))
            except Exception:  # a param the schema refused; reported there
                continue
        return rendered

    def _check_metricsql(self) -> None:
        """What can be checked of MetricsQL without its parser, and a note of what cannot."""
        for path, text, query in self._rendered((p, q) for p, q, _ in self.metricsql):
            fault = metricsql.balance_error(text)
            if fault is not None:
                self.add(path, f"MetricsQL query is not balanced: {fault}",
                         hint=self._params_used(query))
        counts = Counter(source_id for _, _, source_id in self.metricsql)
        for source_id, count in counts.items():
            queries = "1 query" if count == 1 else f"{count} queries"
            self.add(("sources", source_id, "dialect"),
                     f"{queries} in MetricsQL: checked for params, variables and balanced "
                     "brackets and quotes only; functions and syntax are left to "
                     "VictoriaMetrics, which reports them when the run sends the query",
                     severity="note")

    def _params_used(self, query: str) -> str:
        """The param values a query was parsed with: the fault may lie in a default."""
        defaults = self.param_defaults()
        used = dict.fromkeys(n for n in query_variable_names(query) if n in defaults)
        if not used:
            return ""
        values = ", ".join(f"${name} = {format_param(defaults[name])!r}" for name in used)
        return f"parsed with the params' defaults: {values}"

    def _sample_window(self) -> Window:
        """A window of the policy's default shape, for the values of $__range and the like."""
        window = _mapping(self.data.get("window"))

        def seconds(name: str, default: str) -> float:
            try:
                return parse_duration(window.get(name, default))
            except (ValueError, TypeError):
                return parse_duration(default)

        end = datetime(2025, 1, 16, tzinfo=UTC)
        length = timedelta(seconds=seconds("duration", DEFAULT_WINDOW))
        return Window(end - length, end, seconds("step", DEFAULT_STEP),
                      seconds("scrape_interval", DEFAULT_SCRAPE_INTERVAL))

    # --- report ----------------------------------------------------------------

    def _check_sections(self) -> None:
        checks = self.data.get("checks")
        check_ids = [c["id"] for c in (checks if isinstance(checks, list) else [])
                     if isinstance(c, Mapping) and isinstance(c.get("id"), str)]
        known = set(check_ids)
        placed: dict[str, str] = {}
        section_ids: set[str] = set()
        sections = _mapping(self.data.get("report")).get("sections")
        for index, section in enumerate(sections if isinstance(sections, list) else []):
            here: PathKey = ("report", "sections", index)
            if not self.intact(here):
                continue
            if section["id"] in section_ids or section["id"] == OTHER_SECTION_ID:
                self.add((*here, "id"), f"duplicate or reserved section id {section['id']!r}")
            section_ids.add(section["id"])
            for position, check_id in enumerate(section["checks"]):
                if check_id not in known:
                    self.add((*here, "checks", position), f"unknown check {check_id!r}",
                             hint=self.hint(check_id, check_ids))
                elif check_id in placed:
                    self.add((*here, "checks", position), f"check {check_id!r} is already in "
                             f"section {placed[check_id]!r}; a check belongs to one section")
                placed.setdefault(check_id, section["id"])

    def _check_templates(self) -> None:
        templates = _mapping(_mapping(self.data.get("report")).get("templates"))
        base = os.path.dirname(self.doc.file)
        for kind, path in templates.items():
            here: PathKey = ("report", "templates", kind)
            if self.intact(here) and isinstance(path, str):
                # Resolved as the run resolves it (report.render.templates_beside),
                # so that validation checks the very file a run renders.
                message = template_problem(kind, os.path.normpath(os.path.join(base, path)),
                                           self.template_check)
                if message:
                    self.add(here, message)


def template_problem(kind: str, path: str, template_check: TemplateCheck | None) -> str:
    """Why the template file at `path` cannot render reports of `kind`, or ""."""
    if not os.path.isfile(path):
        return f"template file {path} does not exist"
    if os.path.getsize(path) > MAX_TEMPLATE_BYTES:
        return f"template file {path} is larger than {MAX_TEMPLATE_BYTES:,} bytes"
    return template_check(kind, path) if template_check is not None else ""


def _number_problem(value: Any) -> str:
    """Why a number cannot be a param's value ("" when it can): rules compare with
    it, results record it as JSON, reports format it, all as a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        number = float(value)
    except OverflowError:
        return f"has {len(str(abs(value)))} digits; a number must be below 1.8e308"
    if not math.isfinite(number):
        return f"is {value}; a param must be a finite number (nan never matches a rule, " \
               "so a check would pass silently)"
    return ""


def likely_source(name: str, sources: Mapping[str, Any]) -> str:
    """The declared source an unknown name most likely means: the closest spelling,
    else the only source type declared; `name` itself when no guess is safe."""
    if len(sources) == 1:
        return next(iter(sources))
    close = difflib.get_close_matches(name, list(sources), n=1, cutoff=0.6)
    if close:
        return close[0]
    types = {s.get("type") for s in sources.values() if isinstance(s, Mapping)}
    return next(iter(sources)) if len(types) == 1 else name


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any, path: PathKey) -> Iterable[tuple[PathKey, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))

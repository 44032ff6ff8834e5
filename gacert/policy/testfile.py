"""Policy test files (`NAME.tests.yaml`, schema `schemas/policy-tests.schema.json`).

A test file names the policy it tests and lists tests: each gives what the
checks' sources return (series in promtool's notation, probe measurements,
or a stored results.json), params that differ from the defaults, and the
statuses and verdict the policy must give. Loading checks the file against
its schema and for meaning (the policy is valid; every check, source and
param named exists; every series parses), and reports every problem at once,
located as `file:line:col`, as `gacert validate` does for a policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gacert.durations import parse_duration
from gacert.errors import PolicyError, Problem
from gacert.model import BaselineCheck, ParamValue, Policy, Status, Verdict, series_key
from gacert.policy.load import (
    check_policy_file,
    located_schema_errors,
    package_schema,
)
from gacert.policy.meaning import TemplateCheck
from gacert.policy.params import closest
from gacert.policy.seriesnotation import NotationError, parse_labels, parse_values
from gacert.policy.yamlsource import Located, PathKey, YamlLoadError, load_yaml

__all__ = ["TESTS_SUFFIX", "Input", "InputSeries", "PolicyTest", "TestFile", "laid_over",
           "load_test_file", "tests_file_for"]

TESTS_SUFFIX = ".tests.yaml"
SCHEMA_NAME = "policy-tests.schema.json"
_READ_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class InputSeries:
    """One series a check's query returns in a test, as written and as samples."""

    labels: Mapping[str, str]
    values: tuple[float | None, ...]  # one per interval; None: no sample at that step
    text: str  # `selector: values`, as the test file has it


@dataclass(frozen=True)
class Input:
    """What the sources return in a test: series by check, measurements by source,
    and a stored results document for every check not given otherwise."""

    series: Mapping[str, tuple[InputSeries, ...]] = field(default_factory=dict)
    measurements: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    results: str | None = None  # a path, made relative to the working directory
    # By check: the previous release's value and its series' values (`baseline:`);
    # None when no baseline is given at all.
    baseline: Mapping[str, BaselineCheck] | None = None

    def over(self, shared: Input) -> Input:
        """This input on top of the shared one: a check's series and the results
        given here replace the shared ones; measurements are laid over the shared
        ones key by key, so that a test names only what it changes (null: no data)."""
        measurements = {source: laid_over(given, shared.measurements.get(source, {}))
                        for source, given in self.measurements.items()}
        baseline = None if self.baseline is None and shared.baseline is None else \
            {**(shared.baseline or {}), **(self.baseline or {})}
        return Input({**shared.series, **self.series},
                     {**shared.measurements, **measurements},
                     self.results or shared.results, baseline)


def laid_over(given: Mapping[str, Any], shared: Mapping[str, Any]) -> dict[str, Any]:
    """`given` laid over `shared` key by key, into nested mappings."""
    merged = dict(shared)
    for key, value in given.items():
        below = shared.get(key)
        merged[key] = laid_over(value, below) if isinstance(value, Mapping) \
            and isinstance(below, Mapping) else value
    return merged


@dataclass(frozen=True)
class PolicyTest:
    name: str
    line: int
    params: Mapping[str, ParamValue]  # overrides of the policy's defaults
    input: Input  # already on top of the file's shared input
    verdict: Verdict | None
    checks: Mapping[str, Status]


@dataclass(frozen=True)
class TestFile:
    path: str
    policy: Policy
    interval_seconds: float
    tests: tuple[PolicyTest, ...]


def tests_file_for(policy_path: str) -> str | None:
    """The test file beside a policy (`ga.yaml` -> `ga.tests.yaml`), if there is one."""
    stem = os.path.splitext(policy_path)[0]
    return next((stem + suffix for suffix in (TESTS_SUFFIX, ".tests.yml")
                 if os.path.isfile(stem + suffix)), None)


def load_test_file(path: str, template_check: TemplateCheck | None = None) -> TestFile:
    """The tests at `path`, or PolicyError listing every problem (of the policy too)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_READ_LIMIT)
        doc = load_yaml(raw, path)
    except OSError as exc:
        raise PolicyError([Problem(path, 0, 0, "", f"cannot read: {exc.strerror or exc}")]
                          ) from None
    except YamlLoadError as exc:
        raise PolicyError([exc.problem]) from None
    if doc.data is None:
        raise PolicyError([Problem(path, 1, 1, "", "the file is empty; a test file is a YAML "
                                   "mapping with policy and tests")])
    located = located_schema_errors(doc, package_schema(SCHEMA_NAME))
    if located:
        raise PolicyError(sorted((p for _, p in located), key=lambda p: (p.line, p.column)))
    return _Reader(doc, template_check).read()


class _Reader:
    """Turns a test file that matches its schema into a TestFile, or every problem."""

    def __init__(self, doc: Located, template_check: TemplateCheck | None) -> None:
        self.doc = doc
        self.base = os.path.dirname(doc.file)
        self.problems: list[Problem] = []
        self.template_check = template_check

    def add(self, path: PathKey, message: str, hint: str = "", *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, hint=hint, key=key))

    def read(self) -> TestFile:
        data = self.doc.data
        policy = self._policy(data["policy"])
        if policy is None:
            raise PolicyError(self.problems)
        interval = self._interval(data.get("interval"), policy.window.step_seconds)
        shared = self._input(policy, ("input",), data.get("input") or {})
        tests = tuple(self._test(policy, i, t, shared) for i, t in enumerate(data["tests"]))
        self._unique_names(data["tests"])
        if self.problems:
            raise PolicyError(sorted(self.problems, key=lambda p: (p.line, p.column)))
        return TestFile(self.doc.file, policy, interval, tests)

    def _interval(self, text: str | None, default: float) -> float:
        try:
            return parse_duration(text) if text is not None else default
        except ValueError as exc:
            self.add(("interval",), str(exc))
            return default

    def _policy(self, name: str) -> Policy | None:
        path = os.path.normpath(os.path.join(self.base, name))
        if not os.path.isfile(path):
            self.add(("policy",), f"policy file {path} not found (the path is relative to "
                     "this file)")
            return None
        policy, problems = check_policy_file(path, self.template_check)
        errors = [p for p in problems if p.severity == "error"]
        if policy is None or errors:
            self.add(("policy",), f"the policy {path} is invalid; fix it first "
                     "(gacert validate)")
            self.problems += errors
            return None
        return policy

    def _test(self, policy: Policy, index: int, data: Mapping[str, Any],
              shared: Input) -> PolicyTest:
        here: PathKey = ("tests", index)
        expect = data["expect"]
        checks = dict(expect.get("checks") or {})
        for check_id in checks:
            self._known_check(policy, (*here, "expect", "checks", check_id), check_id)
        return PolicyTest(
            name=data["name"], line=self.doc.position(here)[0],
            params=self._params(policy, (*here, "params"), data.get("params") or {}),
            input=self._input(policy, here, data).over(shared),
            verdict=expect.get("verdict"), checks=checks)

    def _known_check(self, policy: Policy, path: PathKey, check_id: str) -> bool:
        ids = [c.id for c in policy.checks]
        if check_id in ids:
            return True
        self.add(path, f"the policy has no check {check_id!r}", closest(check_id, ids), key=True)
        return False

    def _params(self, policy: Policy, here: PathKey, data: Mapping[str, Any]
                ) -> dict[str, ParamValue]:
        for name, value in data.items():
            if name not in policy.params:
                self.add((*here, name), f"the policy has no param {name!r}",
                         closest(name, list(policy.params)), key=True)
            elif _kind(value) != _kind(policy.params[name].default):
                self.add((*here, name), f"{name} is a {_kind(policy.params[name].default)} "
                         f"param; {value!r} is a {_kind(value)}")
        return dict(data)

    def _input(self, policy: Policy, here: PathKey, data: Mapping[str, Any]) -> Input:
        series = {check_id: self._series((*here, "series", check_id), given)
                  for check_id, given in (data.get("series") or {}).items()
                  if self._known_check(policy, (*here, "series", check_id), check_id)}
        measurements = dict(data.get("measurements") or {})
        for source_id in measurements:
            self._probe_source(policy, (*here, "measurements", source_id), source_id)
        results = data.get("results")
        if results is not None:
            results = os.path.normpath(os.path.join(self.base, results))
            if not os.path.isfile(results):
                self.add((*here, "results"), f"results file {results} not found (the path is "
                         "relative to this file)")
        baseline = None
        if data.get("baseline") is not None:
            baseline = {check_id: self._baseline((*here, "baseline", check_id), given)
                        for check_id, given in data["baseline"].items()
                        if self._known_check(policy, (*here, "baseline", check_id), check_id)}
        return Input(series, measurements, results, baseline)

    def _baseline(self, here: PathKey, given: float | Mapping[str, float]) -> BaselineCheck:
        """A check's baseline as a test gives it: its value, or values by selector
        (`{}` is the check's own value)."""
        if not isinstance(given, Mapping):
            return BaselineCheck(value=float(given), series={}, query="")
        series = {}
        for selector, value in given.items():
            try:
                series[series_key(parse_labels(selector))] = float(value)
            except NotationError as exc:
                self.add((*here, selector), str(exc), key=True)
        return BaselineCheck(value=series.get(series_key({})), series=series, query="")

    def _series(self, here: PathKey, given: Mapping[str, Any]) -> tuple[InputSeries, ...]:
        parsed = []
        for selector, values in given.items():
            try:
                labels = parse_labels(selector)
            except NotationError as exc:
                self.add((*here, selector), str(exc), key=True)
                continue
            try:
                samples = parse_values(str(values))
            except NotationError as exc:
                self.add((*here, selector), str(exc))
                continue
            parsed.append(InputSeries(labels, samples, f"{selector}: {values}"))
        return tuple(parsed)

    def _probe_source(self, policy: Policy, path: PathKey, source_id: str) -> None:
        if source_id not in policy.sources:
            self.add(path, f"the policy has no source {source_id!r}",
                     closest(source_id, list(policy.sources)), key=True)
        elif policy.sources[source_id].type == "prometheus":
            self.add(path, f"source {source_id!r} is a prometheus source: it returns series, "
                     "not measurements; give them under series, by check", key=True)

    def _unique_names(self, tests: list[Mapping[str, Any]]) -> None:
        seen: dict[str, int] = {}
        for index, test in enumerate(tests):
            line = self.doc.position(("tests", index))[0]
            if test["name"] in seen:
                self.add(("tests", index, "name"), f"another test has this name (line "
                         f"{seen[test['name']]}); give each a name of its own")
            seen.setdefault(test["name"], line)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"

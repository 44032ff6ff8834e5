"""gacert.validate: every problem of a policy file, located at the node at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from gacert.errors import PolicyError, Problem
from gacert.policy import Policy
from gacert.validate import check_policy_file, load_policy

# Line numbers in the tests below refer to this text (and to its mutations).
BASE = """\
version: 1
name: demo
params:
  target: 99.9
  job: api
sources:
  prom:
    type: prometheus
    url: ${PROM_URL:-http://localhost:9090}
checks:
  - id: availability
    source: prom
    query: avg(up{job="$job"}) * 100
    pass: value >= target
  - id: latency
    source: prom
    query: max(latency_ms{job="$job"})
    fail: value > 1000
report:
  sections:
    - id: slo
      title: SLO
      checks: [availability]
"""


def mutate(*replacements: tuple[str, str], base: str = BASE) -> str:
    text = base
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once"
        text = text.replace(old, new)
    return text


def check_text(tmp_path: Path, text: str) -> tuple[Policy | None, list[Problem]]:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return check_policy_file(str(path))


def only_problem(tmp_path: Path, text: str) -> Problem:
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert len(problems) == 1, [p.format() for p in problems]
    return problems[0]


def where(problem: Problem) -> tuple[int, int, str]:
    return problem.line, problem.column, problem.path


# --- a valid policy -------------------------------------------------------------


def test_the_base_policy_is_valid(tmp_path: Path) -> None:
    policy, problems = check_text(tmp_path, BASE)
    assert problems == []
    assert policy is not None
    assert policy.name == "demo"
    assert [c.id for c in policy.checks] == ["availability", "latency"]
    assert [(s.id, s.checks) for s in policy.sections] == [
        ("slo", ("availability",)), ("other", ("latency",))]
    assert policy.checks[0].rules.pass_ is not None
    assert policy.checks[0].rules.pass_.text == "value >= target"
    assert policy.params["target"].default == 99.9
    assert policy.window.duration_seconds == 86400.0
    assert policy.sources["prom"].settings["url"] == "${PROM_URL:-http://localhost:9090}"
    assert len(policy.sha256) == 64


def test_a_range_check_with_over_time_is_valid(tmp_path: Path) -> None:
    text = mutate(("    fail: value > 1000\n",
                   "    mode: range\n    over_time: p99\n    fail: value > 1000\n"))
    policy, problems = check_text(tmp_path, text)
    assert problems == []
    assert policy is not None
    assert (policy.checks[1].mode, policy.checks[1].over_time) == ("range", "p99")


def test_load_policy_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(mutate(("source: prom\n    query: avg", "source: promm\n    query: avg")),
                    encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path))
    assert [where(p) for p in caught.value.problems] == [(12, 13, "checks[0].source")]
    assert str(caught.value).startswith(f"{path}:12:13: checks[0].source: unknown source")


# --- one fault at a time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("replacements", "line", "column", "path", "message", "hint"),
    [
        pytest.param([("name: demo\n", "name: demo\nparms: {}\n")], 3, 1, "parms",
                     "unknown key 'parms'", "did you mean 'params'?",
                     id="an unknown top-level key is named at its key with a hint"),
        pytest.param([("    fail: value > 1000", "    fail: value > 1000\n    tgas: [x]")], 19, 5,
                     "checks[1].tgas", "unknown key 'tgas'", "did you mean 'tags'?",
                     id="an unknown key in a check is named with a hint"),
        pytest.param([("source: prom\n    query: avg", "source: promm\n    query: avg")],
                     12, 13, "checks[0].source", "unknown source 'promm'",
                     "did you mean 'prom'?", id="an unknown source id gets a hint"),
        pytest.param([("source: prom\n    query: avg", "source: zzz\n    query: avg")],
                     12, 13, "checks[0].source", "unknown source 'zzz'", "sources: prom",
                     id="an unknown source id with no close name lists the sources"),
        pytest.param([("type: prometheus", "type: influx")], 8, 11, "sources.prom.type",
                     "unknown source type 'influx'", "known types: prometheus",
                     id="an unknown source type lists the known types"),
        pytest.param([("id: latency", "id: availability")], 15, 9, "checks[1].id",
                     "duplicate check id 'availability' (first used by checks[0])", "",
                     id="a duplicate check id names the first use"),
        pytest.param([("value >= target", "value >= targt")], 14, 11, "checks[0].pass",
                     "expression 'value >= targt' uses unknown name 'targt'",
                     "did you mean 'target'?", id="an unknown name in an expression gets a hint"),
        pytest.param([("value >= target", "value >= zzz")], 14, 11, "checks[0].pass",
                     "expression 'value >= zzz' uses unknown name 'zzz'",
                     "names: job, labels, params, series_count, target, value",
                     id="an unknown name with nothing close lists the names"),
        pytest.param([("value >= target", "value = target")], 14, 11, "checks[0].pass",
                     "expression 'value = target': an expression cannot assign or hold several "
                     "statements", "", id="an assignment is located at the expression"),
        pytest.param([("    fail: value > 1000", "    fail: >\n      value >\n      open(1)")],
                     18, 11, "checks[1].fail", "only these functions may be called", "",
                     id="a folded bad expression is located at its first line"),
        pytest.param([('avg(up{job="$job"})', 'avg(up{job="$jobb"})')], 13, 12,
                     "checks[0].query", "unknown variable $jobb in query", "did you mean 'job'?",
                     id="a query with an unknown variable gets a hint"),
        pytest.param([('avg(up{job="$job"})', 'avg(up{job="${zzz}"})')], 13, 12,
                     "checks[0].query", "unknown variable $zzz in query",
                     "params and $__range, $__interval, $__rate_interval, ...",
                     id="a query with an unknown braced variable names the variables"),
        pytest.param([("checks: [availability]", "checks: [availability, latncy]")], 23, 30,
                     "report.sections[0].checks[1]", "unknown check 'latncy'",
                     "did you mean 'latency'?", id="a section naming an unknown check gets a hint"),
        pytest.param([("checks: [availability]", "checks: [availability]\n"
                       "    - id: more\n      title: More\n      checks: [availability]")],
                     26, 16, "report.sections[1].checks[0]",
                     "check 'availability' is already in section 'slo'; a check belongs to one "
                     "section", "", id="a check in two sections is refused in the second"),
        pytest.param([("- id: slo", "- id: other")], 21, 11, "report.sections[0].id",
                     "duplicate or reserved section id 'other'", "",
                     id="the automatic section id is reserved"),
        pytest.param([("  job: api\n", "  job: api\n  value: 3\n")], 6, 3, "params.value",
                     "param 'value' shadows a built-in name",
                     "built-in names: labels, params, series_count, value",
                     id="a param named value is reserved"),
        pytest.param([("  job: api\n", "  job: api\n  __range: 3\n")], 6, 3, "params.__range",
                     "param '__range' shadows a built-in name", "",
                     id="a param named like a window variable is reserved"),
        pytest.param([("${PROM_URL:-http://localhost:9090}", "${PROM_URL")], 9, 10,
                     "sources.prom.url", "malformed environment reference near '${PROM_URL'; "
                     "use ${NAME} or ${NAME:-default}", "",
                     id="a malformed reference in a source url is refused"),
        pytest.param([("name: demo\n", "name: demo\nwindow:\n  duration: 0s\n")], 4, 13,
                     "window.duration", "'0s' is zero; a duration must be positive", "",
                     id="a zero window duration is refused"),
    ],
)
def test_one_fault(tmp_path: Path, replacements: list[tuple[str, str]], line: int,
                   column: int, path: str, message: str, hint: str) -> None:
    problem = only_problem(tmp_path, mutate(*replacements))
    assert where(problem) == (line, column, path)
    assert message in problem.message
    if hint:
        assert problem.hint == hint
    assert problem.severity == "error"


def test_a_range_check_without_over_time_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, mutate(("    fail: value > 1000\n",
                                             "    mode: range\n    fail: value > 1000\n")))
    assert "over_time" in problem.message
    assert problem.path.startswith("checks[1]")
    assert problem.line >= 15


def test_over_time_on_an_instant_check_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, mutate(("    fail: value > 1000\n",
                                             "    over_time: max\n    fail: value > 1000\n")))
    assert problem.path == "checks[1].over_time"
    assert "range" in problem.message + problem.hint
    assert problem.line == 18


# --- several faults, odd files, formatting ------------------------------------------


def test_all_problems_are_reported_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = mutate(("source: prom\n    query: max", "source: promx\n    query: max"),
                  ("value >= target", "value >= targt"),
                  ("id: latency", "id: availability"),
                  ("checks: [availability]", "checks: [availability, nope]"))
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert [where(p) for p in problems] == [
        (14, 11, "checks[0].pass"),
        (15, 9, "checks[1].id"),
        (16, 13, "checks[1].source"),
        (23, 30, "report.sections[0].checks[1]"),
    ]


def test_several_schema_problems_are_reported_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = mutate(("name: demo", "name: Demo"),
                  ("    fail: value > 1000", "    fail: value > 1000\n    gate: maybe"),
                  ("    pass: value >= target\n", "    pass: value >= target\n    precision: -1\n"))
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert [(p.line, p.path) for p in problems] == [
        (2, "name"), (15, "checks[0].precision"), (20, "checks[1].gate")]
    assert "'maybe' is not of type 'boolean'" in problems[2].message


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        pytest.param("", 1, 1, "the file is empty; a policy is a YAML mapping",
                     id="an empty file is one problem"),
        pytest.param("# nothing\n", 1, 1, "the file is empty", id="a file of comments is empty"),
        pytest.param("- a\n- b\n", 1, 1, "is not of type 'object'",
                     id="a file that is a YAML list is refused"),
        pytest.param("42\n", 1, 1, "is not of type 'object'", id="a scalar file is refused"),
        pytest.param(BASE + "name: again\n", 24, 1, "duplicate key 'name'",
                     id="a duplicate key comes from the YAML loader"),
        pytest.param(BASE + "---\nversion: 1\n", 24, 1, "several YAML documents",
                     id="a second document is refused"),
    ],
)
def test_odd_files(tmp_path: Path, text: str, line: int, column: int, fragment: str) -> None:
    problem = only_problem(tmp_path, text)
    assert (problem.line, problem.column) == (line, column)
    assert fragment in problem.message


def test_a_missing_file_is_a_problem_without_position(tmp_path: Path) -> None:
    policy, problems = check_policy_file(str(tmp_path / "absent.yaml"))
    assert policy is None
    assert [(p.line, p.column) for p in problems] == [(0, 0)]
    assert "cannot read: No such file or directory" in problems[0].message


def test_a_big_file_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE + "#" + "x" * (2 * 1024 * 1024) + "\n")
    assert "the limit for a policy is 1,048,576" in problem.message


def test_problem_format_is_file_line_col_path_message(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, mutate(("name: demo\n", "name: demo\nparms: {}\n")))
    path = tmp_path / "policy.yaml"
    assert problem.format() == (f"{path}:3:1: parms: unknown key 'parms' "
                                "(did you mean 'params'?)")
    dup = only_problem(tmp_path, mutate(("id: latency", "id: availability")))
    assert dup.format() == (f"{path}:15:9: checks[1].id: duplicate check id 'availability' "
                            "(first used by checks[0])")


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        pytest.param(Problem("p.yaml", 3, 7, "checks[0].pass", "bad", "hint"),
                     "p.yaml:3:7: checks[0].pass: bad (hint)", id="a hint is in parentheses"),
        pytest.param(Problem("p.yaml", 1, 1, "", "empty"), "p.yaml:1:1: $: empty",
                     id="the root path is written as $"),
        pytest.param(Problem("p.yaml", 2, 5, "name", "odd", severity="warning"),
                     "p.yaml:2:5: warning: name: odd", id="a warning says so"),
    ],
)
def test_problem_format(problem: Problem, text: str) -> None:
    assert problem.format() == text


@pytest.mark.parametrize("name", ["value", "nan", "true", "round", "__range"])
def test_a_param_may_not_shadow_a_built_in_name(tmp_path: Path, name: str) -> None:
    problem = only_problem(tmp_path, mutate(("  job: api\n", f"  job: api\n  {name}: 1\n")))
    assert problem.message == f"param {name!r} shadows a built-in name"
    assert (problem.line, problem.column) == (6, 3)


def test_a_policy_without_gate_checks_gets_a_warning(tmp_path: Path) -> None:
    text = mutate(("    pass: value >= target\n", "    pass: value >= target\n    gate: false\n"),
                  ("    fail: value > 1000\n", "    fail: value > 1000\n    gate: false\n"))
    policy, problems = check_text(tmp_path, text)
    assert policy is not None
    assert [(p.severity, p.path) for p in problems] == [("warning", "checks")]
    assert "the verdict is always pass" in problems[0].message

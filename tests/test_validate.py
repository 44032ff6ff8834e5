"""gacert.policy.load: every problem of a policy file, located at the node at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_imports import heavy_imports

from gacert.errors import PolicyError, Problem
from gacert.model import Policy
from gacert.policy.load import check_policy_file, load_policy
from gacert.report.render import template_problem

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
    return check_policy_file(str(path), template_problem)


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
                     "names: baseline, job, labels, params, series_count, target, value",
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
                     "built-in names: baseline, labels, params, series_count, value",
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
        # A prefix, so that a list of names (source types, say) may grow.
        assert problem.hint.startswith(hint)
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


# --- every problem of a file, even when the schema fails ---------------------------


def test_meaning_problems_of_intact_parts_come_with_schema_problems(tmp_path: Path) -> None:
    text = mutate(("    pass: value >= target\n", "    pass: value >= target\n    tgas: [x]\n"),
                  ("max(latency_ms{", "max(rat(latency_ms{"),
                  ("checks: [availability]", "checks: [availability, nope]"))
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert [(p.line, p.path, p.message.split(":")[0]) for p in problems] == [
        (15, "checks[0].tgas", "unknown key 'tgas'"),
        (18, "checks[1].query", "query is not valid PromQL"),
        (24, "report.sections[0].checks[1]", "unknown check 'nope'"),
    ]


def test_a_schema_problem_in_one_key_of_a_check_does_not_hide_its_other_problems(
        tmp_path: Path) -> None:
    text = mutate(("    pass: value >= target\n", "    pass: value >= targt\n    gate: maybe\n"))
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert [p.path for p in problems] == ["checks[0].pass", "checks[0].gate"]


def test_a_misspelt_mode_does_not_also_make_over_time_an_error(tmp_path: Path) -> None:
    text = mutate(("    fail: value > 1000\n",
                   "    fail: value > 1000\n    mode: rnage\n    over_time: max\n"))
    _, problems = check_text(tmp_path, text)
    assert [p.path for p in problems] == ["checks[1].mode"]


def test_a_key_with_a_schema_problem_is_not_checked_again_for_meaning(tmp_path: Path) -> None:
    text = mutate(("    pass: value >= target\n", "    pass: [value >= targt]\n"))
    _, problems = check_text(tmp_path, text)
    assert [(p.path, p.message) for p in problems] == [
        ("checks[0].pass", "['value >= targt'] is not of type 'string'")]


def test_an_unknown_source_does_not_hide_the_querys_and_the_rules_problems(
        tmp_path: Path) -> None:
    text = mutate(('    source: prom\n    query: avg(up{job="$job"}) * 100\n'
                   "    pass: value >= target\n",
                   "    source: promethus\n    query: sum(rate(errors_total[5m])\n"
                   "    pass: value >= targt\n"))
    _, problems = check_text(tmp_path, text)
    assert [(p.path, p.message) for p in problems] == [
        ("checks[0].source", "unknown source 'promethus'"),
        ("checks[0].query", "query is not valid PromQL: unclosed left parenthesis"),
        ("checks[0].pass", "expression 'value >= targt' uses unknown name 'targt'"),
    ]


def test_a_check_on_a_source_with_a_schema_problem_is_still_checked(tmp_path: Path) -> None:
    text = mutate(("    url: ${PROM_URL:-http://localhost:9090}\n",
                   "    url: ${PROM_URL:-http://localhost:9090}\n    retries: 99\n"),
                  ("value >= target", "value >= targt"))
    _, problems = check_text(tmp_path, text)
    assert [p.path for p in problems] == ["sources.prom.retries", "checks[0].pass"]


# --- PromQL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        pytest.param('avg(up{job="$job"}', "unclosed left parenthesis",
                     "parsed with the params' defaults: $job = 'api'",
                     id="an unclosed parenthesis is named, with the params used"),
        pytest.param('avg(rat(up{job="$job"}[5m]))', "unknown function with name 'rat'",
                     "did you mean 'rate'?", id="a misspelt function gets a hint"),
        pytest.param("avg(rate(up[5q]))", "bad number or duration syntax", "",
                     id="a bad duration inside a range is refused"),
        pytest.param("avg(rate(up[1e19]))", "a duration or number in the query is out of range",
                     "", id="a range too large for the parser is a problem, not a crash"),
        pytest.param('up{job=~"(("}', "illegal regex", "", id="a bad regex is refused"),
        pytest.param("$empty", "no expression found in input",
                     "the query is empty once its variables are replaced",
                     id="a query that is empty once rendered says so"),
        pytest.param('up{job="$quote"}', "", "parsed with the params' defaults: $quote = 'a\"b'",
                     id="a param default that breaks the query is caught"),
    ],
)
def test_a_query_that_is_not_promql_is_located_at_the_query(
        tmp_path: Path, query: str, message: str, hint: str) -> None:
    text = mutate(("  job: api\n", "  job: api\n  empty: ''\n  quote: 'a\"b'\n"),
                  ('avg(up{job="$job"}) * 100', query))
    problem = only_problem(tmp_path, text)
    assert (problem.line, problem.column, problem.path) == (15, 12, "checks[0].query")
    assert problem.message.startswith("query is not valid PromQL: ")
    assert message in problem.message
    assert problem.hint == hint


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("sum(increase(up[$__range]))", id="window variables are substituted"),
        pytest.param("sum(rate(up[${__rate_interval}])) * $__interval_s",
                     id="braced variables and numeric window variables parse"),
        pytest.param('sum(up{job="$job"} offset $window_param)', id="a duration param parses"),
        pytest.param('sum(up{instance=~".*:9090$$"})', id="a doubled dollar is a literal one"),
        pytest.param("holt_winters(up[1h], 0.5, 0.5)", id="Prometheus 2 holt_winters is known"),
        pytest.param("double_exponential_smoothing(up[1h], 0.5, 0.5)",
                     id="its Prometheus 3 name too"),
        pytest.param('\'{"utf8.metric.name", job="x"}\'', id="Prometheus 3 quoted names parse"),
        pytest.param("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > bool 1",
                     id="a usual latency query parses"),
    ],
)
def test_valid_promql_is_accepted(tmp_path: Path, query: str) -> None:
    text = mutate(("  job: api\n", "  job: api\n  window_param: 7d\n"),
                  ('avg(up{job="$job"}) * 100', query))
    policy, problems = check_text(tmp_path, text)
    assert problems == []
    assert policy is not None


# --- rules: parts that always raise, params keys, thresholds -------------------------


@pytest.mark.parametrize(
    ("rule", "message", "hint"),
    [
        pytest.param("value > 9 ** 9 ** 9", "9 ** 9 ** 9 cannot be computed: ", "",
                     id="a huge power is refused before any run"),
        pytest.param("value > 'x' * 10 ** 6", "the result would be a giant string or list", "",
                     id="a giant string is refused before any run"),
        pytest.param("value > 1000 / (target - target)", "division by zero", "",
                     id="a constant part that divides by zero is refused"),
        pytest.param("value > params['targt']", "params['targt'] names no param",
                     "did you mean 'target'?", id="params[...] must name a param"),
        pytest.param("value > params.nope", "params['nope'] names no param", "params: job, target",
                     id="params.name must name a param"),
        pytest.param("value >= job", "orders the numeric value against the string 'api'", "",
                     id="ordering the value against a string param is refused"),
        pytest.param("value > " + " + ".join(["1"] * 60), "levels deep", "",
                     id="an expression nested too deep is refused"),
    ],
)
def test_a_rule_that_every_run_would_fail_is_refused(tmp_path: Path, rule: str, message: str,
                                                    hint: str) -> None:
    problem = only_problem(tmp_path, mutate(("fail: value > 1000", f"fail: {rule}")))
    assert (problem.line, problem.path, problem.severity) == (18, "checks[1].fail", "error")
    assert message in problem.message
    assert problem.hint == hint


@pytest.mark.parametrize(
    ("rules", "rule", "message"),
    [
        pytest.param("fail: value >= 1000\n    warn: value >= 1200", "warn",
                     "warn never applies: every value that matches 'value >= 1200' also matches "
                     "fail ('value >= 1000'), which is checked first",
                     id="a warn above the fail threshold never applies"),
        pytest.param("fail: value > 10\n    pass: value > 20", "pass",
                     "no value can pass: every value that meets 'value > 20' matches fail or "
                     "warn first", id="a pass rule inside the fail range can never pass"),
        pytest.param("fail: value > 10\n    warn: value <= 10", "fail",
                     "no value can pass: every value matches fail or warn",
                     id="fail and warn covering everything leave nothing to pass"),
        pytest.param("fail: value > 5 and value < 3", "fail",
                     "fail never holds: no value satisfies 'value > 5 and value < 3'",
                     id="a rule no value satisfies"),
        pytest.param("fail: value >= lim\n    warn: value >= lim * 1.5", "warn",
                     "warn never applies", id="thresholds from params are judged by defaults"),
    ],
)
def test_contradicting_thresholds_are_warnings(tmp_path: Path, rules: str, rule: str,
                                               message: str) -> None:
    text = mutate(("  job: api\n", "  job: api\n  lim: 1000\n"), ("fail: value > 1000", rules))
    policy, problems = check_text(tmp_path, text)
    assert policy is not None, "warnings do not make a policy invalid"
    assert [(p.severity, p.path) for p in problems] == [("warning", f"checks[1].{rule}")]
    assert message in problems[0].message


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param("fail: value >= 1000\n    warn: value >= 800", id="warn below fail"),
        pytest.param("fail: value >= 1000\n    warn: value >= 800\n    pass: value < 1000",
                     id="the documented example"),
        pytest.param("pass: value >= 99.9", id="a pass rule alone"),
        pytest.param("fail: value < 0 or value > 100\n    warn: labels.zone == 'x'",
                     id="a rule on labels cannot be judged, so nothing is said"),
        pytest.param("fail: abs(value) > 10\n    warn: value > 20",
                     id="a function of the value cannot be judged"),
    ],
)
def test_consistent_or_undecidable_thresholds_say_nothing(tmp_path: Path, rules: str) -> None:
    policy, problems = check_text(tmp_path, mutate(("fail: value > 1000", rules)))
    assert problems == []
    assert policy is not None


def test_shipped_policies_have_no_problem_at_all() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in sorted(p for p in (root / "policies").glob("*.yaml")
                      if not p.name.endswith(".tests.yaml")):
        policy, problems = check_policy_file(str(path))
        assert problems == [], [p.format() for p in problems]
        assert policy is not None


# --- templates -----------------------------------------------------------------------


def test_templates_named_by_the_policy_must_exist_and_compile(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bad.md.j2").write_text("# {{ doc.policy.name }\n", encoding="utf-8")
    (tmp_path / "t" / "good.md.j2").write_text('{% extends "builtin/report.md.j2" %}\n',
                                               encoding="utf-8")
    text = BASE + ("  templates:\n    report: t/bad.md.j2\n    email: t/missing.j2\n"
                   "    ga_day: t/good.md.j2\n")
    policy, problems = check_text(tmp_path, text)
    assert policy is None
    assert [(p.line, p.column, p.path) for p in problems] == [
        (25, 13, "report.templates.report"), (26, 12, "report.templates.email")]
    assert "template does not compile: " in problems[0].message
    assert "bad.md.j2:1: unexpected '}'" in problems[0].message
    assert problems[1].message == f"template file {tmp_path / 't' / 'missing.j2'} does not exist"


def test_a_template_path_is_relative_to_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "good.md.j2").write_text('{% extends "builtin/report.md.j2" %}\n',
                                         encoding="utf-8")
    policy, problems = check_text(tmp_path, BASE + "  templates:\n    report: good.md.j2\n")
    assert problems == []
    assert policy is not None


def test_the_command_prints_warnings_and_exits_0(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gacert.cli.main import cli

    path = tmp_path / "policy.yaml"
    path.write_text(mutate(("fail: value > 1000", "fail: value > 1000\n    warn: value > 2000")),
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert f"{path}:19:11: warning: checks[1].warn: warn never applies" in result.output
    assert f"{path}: valid (2 checks)" in result.output


def test_a_zero_duration_in_a_probe_setting_is_refused(tmp_path: Path) -> None:
    text = mutate(("sources:\n", "sources:\n  ws:\n    type: websocket\n"
                   "    url: ws://localhost:8080/ws\n    interval: 0s\n"))
    problem = only_problem(tmp_path, text)
    assert (problem.line, problem.column, problem.path) == (10, 15, "sources.ws.interval")
    assert problem.message == "'0s' is zero; a duration must be positive"


def test_validating_a_valid_policy_imports_no_heavy_package() -> None:
    # The speed of the pre-commit hook rests on this: jsonschema is imported
    # only to explain an invalid file, Jinja2 only for a policy's own templates.
    root = Path(__file__).resolve().parent.parent
    assert heavy_imports("validate", str(root / "policies" / "ga.yaml")) == []

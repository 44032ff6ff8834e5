"""gacert.policy.params (--set, ${VAR:-default}) and gacert.engine.plan (query variables)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gacert.engine.plan import build_plan
from gacert.errors import UsageError
from gacert.model import Param, ParamValue, Window
from gacert.policy.load import load_policy
from gacert.policy.params import closest, env_syntax_errors, interpolate_env, resolve_params
from gacert.policy.variables import format_param, query_variable_names, render_query

DEFAULTS: dict[str, ParamValue] = {"replicas": 3, "target": 99.9, "strict": True, "job": "tars"}
PARAMS = {name: Param(name, default) for name, default in DEFAULTS.items()}
URL = "sources.prom.url"


# --- --set --------------------------------------------------------------------


def test_no_override_gives_the_defaults() -> None:
    assert resolve_params(PARAMS, []) == DEFAULTS


@pytest.mark.parametrize(
    ("override", "name", "expected"),
    [
        pytest.param("replicas=5", "replicas", 5, id="an int default gives an int"),
        pytest.param("replicas=1e3", "replicas", 1000, id="a whole float for an int is an int"),
        pytest.param(" replicas = 7 ", "replicas", 7, id="spaces around name and number are ok"),
        pytest.param("target=99", "target", 99.0, id="a float default gives a float"),
        pytest.param("target=99.95", "target", 99.95, id="a decimal for a float default"),
        pytest.param("strict=false", "strict", False, id="false for a bool default"),
        pytest.param("strict=no", "strict", False, id="no for a bool default"),
        pytest.param("strict=0", "strict", False, id="0 for a bool default"),
        pytest.param("strict=TRUE", "strict", True, id="booleans ignore case"),
        pytest.param("strict=on", "strict", True, id="on for a bool default"),
        pytest.param("job=api", "job", "api", id="a str default gives a str"),
        pytest.param("job=a=b", "job", "a=b", id="the value may contain an equals sign"),
        pytest.param("job=", "job", "", id="an empty str value is allowed"),
        pytest.param("job=42", "job", "42", id="a number for a str default stays a str"),
    ],
)
def test_set_converts_to_the_type_of_the_default(override: str, name: str,
                                                 expected: ParamValue) -> None:
    values = resolve_params(PARAMS, [override])
    assert values[name] == expected
    assert type(values[name]) is type(expected)
    assert {k: v for k, v in values.items() if k != name} == {
        k: v for k, v in DEFAULTS.items() if k != name}


def test_the_last_set_of_a_param_wins() -> None:
    assert resolve_params(PARAMS, ["replicas=4", "replicas=6"])["replicas"] == 6


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param("jobb=x", "--set jobb: the policy has no param 'jobb'; did you mean 'job'?",
                     id="an unknown param gets a did-you-mean hint"),
        pytest.param("zzz=1", "--set zzz: the policy has no param 'zzz' (params: job, replicas, "
                     "strict, target)", id="an unknown param without a close name lists all"),
        pytest.param("replicas", "--set 'replicas': expected name=value",
                     id="a set without an equals sign is malformed"),
        pytest.param("=1", "--set '=1': expected name=value", id="a set without a name is "
                     "malformed"),
        pytest.param("replicas=many", "--set replicas=many: expected a number",
                     id="a non-number for a number default is refused"),
        pytest.param("strict=maybe", "--set strict=maybe: expected true or false",
                     id="a non-boolean for a bool default is refused"),
        pytest.param("target=nan", "--set target=nan: expected a finite number",
                     id="nan for a number is refused, since no rule can match it"),
        pytest.param("target=-inf", "--set target=-inf: expected a finite number",
                     id="an infinite number is refused"),
    ],
)
def test_set_usage_errors(override: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_params(PARAMS, [override])
    assert str(caught.value) == message


def test_set_on_a_policy_without_params_says_there_are_none() -> None:
    with pytest.raises(UsageError, match=r"no param 'x' \(params: none\)"):
        resolve_params({}, ["x=1"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("targt", "did you mean 'target'?", id="a typo finds its name"),
        pytest.param("qqqq", "", id="nothing close gives no hint"),
    ],
)
def test_closest(name: str, expected: str) -> None:
    assert closest(name, ["target", "job"]) == expected


# --- ${VAR:-default} ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        pytest.param("${URL}", {"URL": "http://prom:9090"}, "http://prom:9090",
                     id="a set variable is substituted"),
        pytest.param("${URL:-http://localhost:9090}", {}, "http://localhost:9090",
                     id="an unset variable takes its default"),
        pytest.param("${URL:-http://localhost:9090}", {"URL": ""}, "http://localhost:9090",
                     id="an empty variable takes its default"),
        pytest.param("${URL:-http://d}", {"URL": "http://set"}, "http://set",
                     id="a set variable beats its default"),
        pytest.param("${URL}", {"URL": ""}, "", id="an empty variable without default is empty"),
        pytest.param("${TOKEN:-}", {}, "", id="an empty default is allowed"),
        pytest.param("https://${HOST}:${PORT:-443}/x", {"HOST": "h"}, "https://h:443/x",
                     id="several references in one string"),
        pytest.param("pa$$word", {}, "pa$word", id="a double dollar is a literal dollar"),
        pytest.param("$$${X}", {"X": "1"}, "$1", id="a literal dollar before a reference"),
        pytest.param("${X}", {}, None, id="an unset variable without default is an error"),
        pytest.param("${X}", {"Y": "1"}, None, id="another variable does not count"),
        pytest.param("$HOME", {"HOME": "/root"}, "$HOME", id="a bare dollar name is left alone"),
        pytest.param("${A:-x:-y}", {}, "x:-y", id="the default runs to the closing brace"),
    ],
)
def test_interpolate_env(text: str, environ: dict[str, str], expected: str | None) -> None:
    if expected is None:
        with pytest.raises(UsageError):
            interpolate_env(text, environ, URL)
        return
    assert interpolate_env(text, environ, URL) == expected


def test_a_missing_variable_names_the_setting_and_the_variable() -> None:
    with pytest.raises(UsageError) as caught:
        interpolate_env("${PROMETHEUS_URL}", {}, URL)
    assert str(caught.value) == ("sources.prom.url: environment variable PROMETHEUS_URL is not "
                                 "set (set it, or write ${PROMETHEUS_URL:-default} in the policy)")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        pytest.param({"url": "http://x", "headers": {"X-Org": "${ORG}"}},
                     "sources.prom.headers.X-Org", id="a nested mapping names the full path"),
        pytest.param({"url": "http://x", "extra": ["ok", "${ORG}"]}, "sources.prom.extra[1]",
                     id="a list item names its index"),
    ],
)
def test_a_missing_variable_deep_in_settings_names_its_path(value: object, where: str) -> None:
    with pytest.raises(UsageError, match="^" + re.escape(where) + ": environment "
                       "variable ORG is not set"):
        interpolate_env(value, {}, "sources.prom")


def test_interpolate_env_keeps_non_strings_and_shape() -> None:
    settings = {"url": "${U}", "retries": 3, "compression": False, "auth": {"t": "${T:-x}"}}
    assert interpolate_env(settings, {"U": "http://u"}, "sources.prom") == {
        "url": "http://u", "retries": 3, "compression": False, "auth": {"t": "x"}}


@pytest.mark.parametrize(
    ("text", "count", "fragment"),
    [
        pytest.param("${1BAD}", 1, "near '${1BAD}'", id="a name starting with a digit is bad"),
        pytest.param("http://${HOST", 1, "near '${HOST'", id="an unclosed reference is bad"),
        pytest.param("${}", 1, "near '${}'", id="an empty name is bad"),
        pytest.param("${X-1}", 1, "near '${X-1}'", id="a default without colon is bad"),
        pytest.param("${X:-a", 1, "near '${X:-a'", id="an unclosed default is bad"),
        pytest.param("${OK} ${", 1, "near '${'", id="a good reference then a broken one"),
        pytest.param("${A} ${B:-1} $$ $C", 0, "", id="good references have no error"),
        pytest.param("$${X", 0, "", id="an escaped dollar before a brace is not a reference"),
        pytest.param("${1A} ${2B}", 2, "near '${1A}", id="every malformed reference is found"),
    ],
)
def test_env_syntax_errors(text: str, count: int, fragment: str) -> None:
    errors = env_syntax_errors(text)
    assert len(errors) == count
    if count:
        assert fragment in errors[0]
        assert errors[0].endswith("use ${NAME} or ${NAME:-default}")


# --- query variables ----------------------------------------------------------

WINDOW = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), 60.0, 15.0)
VARIABLES = {"job": "tars", "target": "99.9", **WINDOW.variables()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param('up{job="$job"}', 'up{job="tars"}', id="a bare param is substituted"),
        pytest.param('up{job="${job}"}', 'up{job="tars"}', id="a braced param is substituted"),
        pytest.param("x{a=\"${job}_api\"}", "x{a=\"tars_api\"}",
                     id="braces separate a param from following text"),
        pytest.param("avg_over_time(up[$__range])", "avg_over_time(up[86400s])",
                     id="the range window variable is substituted"),
        pytest.param("rate(x[$__rate_interval])", "rate(x[1m15s])",
                     id="the rate interval is substituted"),
        pytest.param("x @ ${__to}", "x @ 1735776000000", id="a braced window variable"),
        pytest.param('up{instance=~".*:9090$"}', 'up{instance=~".*:9090$"}',
                     id="a regex anchor before a quote is left alone"),
        pytest.param("label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")",
                     "label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")",
                     id="a regex group reference is left alone"),
        pytest.param("a$$b", "a$b", id="a double dollar is a literal dollar"),
        pytest.param("$$job", "$job", id="a double dollar escapes a name"),
        pytest.param("$$$job", "$tars", id="a literal dollar then a param"),
    ],
)
def test_render_query(query: str, expected: str) -> None:
    assert render_query(query, VARIABLES) == expected


@pytest.mark.parametrize(
    "query",
    [
        pytest.param('up{job="$jobs"}', id="an unknown bare variable raises"),
        pytest.param('up{job="${jobs}"}', id="an unknown braced variable raises"),
        pytest.param("x[$__range_seconds]", id="a misspelled window variable raises"),
    ],
)
def test_render_query_unknown_variable(query: str) -> None:
    name = query_variable_names(query)[0]
    with pytest.raises(UsageError) as caught:
        render_query(query, VARIABLES)
    assert str(caught.value) == (f"query variable ${name} is neither a param nor a window "
                                 "variable")


@pytest.mark.parametrize(
    ("query", "names"),
    [
        pytest.param('sum(rate(x{job="$job"}[$__rate_interval])) > ${target}',
                     ["job", "__rate_interval", "target"], id="names in order of appearance"),
        pytest.param("$job + $job", ["job", "job"], id="a repeated name is listed each time"),
        pytest.param('a$$b{x=~"y$"} $1', [], id="escapes and anchors are not variables"),
        pytest.param("$$$job", ["job"], id="a name after an escaped dollar is a variable"),
    ],
)
def test_query_variable_names(query: str, names: list[str]) -> None:
    assert query_variable_names(query) == names


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(True, "true", id="true is written in lower case"),
        pytest.param(False, "false", id="false is written in lower case"),
        pytest.param(99.0, "99", id="a whole float loses its fraction"),
        pytest.param(99.9, "99.9", id="a float keeps its fraction"),
        pytest.param(3, "3", id="an int is written as is"),
        pytest.param("tars", "tars", id="a string is written as is"),
    ],
)
def test_format_param(value: ParamValue, text: str) -> None:
    assert format_param(value) == text


def test_build_plan_renders_every_query(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nname: demo\nparams:\n  job: tars\n  target: 99.5\n  strict: true\n"
        "sources:\n  prom: {type: prometheus, url: 'http://localhost:9090'}\n"
        "checks:\n"
        "  - id: up\n    source: prom\n"
        "    query: ' avg_over_time(up{job=\"$job\", s=\"$strict\"}[$__range]) > $target '\n"
        "    pass: value > 0\n"
        "  - id: lat\n    source: prom\n    mode: range\n    over_time: max\n"
        "    query: rate(x[$__rate_interval])\n    fail: value > 1\n",
        encoding="utf-8")
    policy = load_policy(str(path))
    plan = build_plan(policy, WINDOW, {"job": "api", "target": 99.0, "strict": False})
    assert [p.query.text for p in plan.checks] == [
        'avg_over_time(up{job="api", s="false"}[86400s]) > 99',
        "rate(x[1m15s])",
    ]
    assert [p.query.mode for p in plan.checks] == ["instant", "range"]
    assert plan.checks[1].query.step_seconds == 60.0
    assert (plan.checks[0].query.start, plan.checks[0].query.end) == (WINDOW.start, WINDOW.end)

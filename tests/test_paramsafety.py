"""A param changes a query only as a value (gacert.policy.paramsafety): where each use
sits, which values are one value there, and the refusal (exit 2) of any other, before
anything is queried. The refusal through the real CLI is in tests/test_trust.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from gacert.errors import UsageError
from gacert.policy.load import check_policy_file
from gacert.policy.paramsafety import Use, check_params, uses, value_fault

AVAILABILITY = ('100 * sum(rate(up{job="$job", ns=~"${ns}.*"}[$window] offset $offset))'
                " * $factor > bool $limit")


def test_each_use_is_read_with_its_context() -> None:
    template = ('x{job="$job", $matchers}[$window] offset $offset @ $at * $factor'
                " + y{a='$single'} + z{b=`$raw`} # $comment\n + $$literal")
    assert uses(template) == [
        Use("job", "string", '"'), Use("matchers", "matchers"), Use("window", "range"),
        Use("offset", "offset"), Use("at", "at"), Use("factor", "expression"),
        Use("single", "string", "'"), Use("raw", "string", "`")]


def test_an_escaped_quote_does_not_end_the_string_a_use_is_in() -> None:
    assert uses('x{a="say \\"hi\\" $name"}') == [Use("name", "string", '"')]


@pytest.mark.parametrize(
    ("value", "use", "refused"),
    [
        pytest.param("tars", Use("job", "string", '"'), False, id="a word is a string body"),
        pytest.param('a\\"b', Use("job", "string", '"'), False,
                     id="an escaped quote stays inside the string"),
        pytest.param('tars"} or vector(100) or up{job="x', Use("job", "string", '"'), True,
                     id="a value that closes its string is refused"),
        pytest.param("tars\\", Use("job", "string", '"'), True,
                     id="a trailing backslash would escape the closing quote"),
        pytest.param("a`b", Use("raw", "string", "`"), True,
                     id="a backtick ends a raw string"),
        pytest.param('instance="redis:6379"', Use("m", "matchers"), False,
                     id="label matchers in a matcher list"),
        pytest.param("", Use("m", "matchers"), False, id="no matcher at all"),
        pytest.param('a="b"} or vector(1) or x{c="d"', Use("m", "matchers"), True,
                     id="a value that closes the matcher list is refused"),
        pytest.param("5m", Use("w", "range"), False, id="a duration in a range"),
        pytest.param("5m] or vector(1) or x[5m", Use("w", "range"), True,
                     id="a value that closes the range is refused"),
        pytest.param("7d", Use("o", "offset"), False, id="a duration after offset"),
        pytest.param("7d) or vector(1", Use("o", "offset"), True,
                     id="a value that closes a call after offset is refused"),
        pytest.param("1700000000", Use("t", "at"), False, id="a timestamp after @"),
        pytest.param("-1.5", Use("f", "expression"), False, id="a number"),
        pytest.param("up", Use("f", "expression"), False, id="a metric name"),
        pytest.param("1) or vector(100", Use("f", "expression"), True,
                     id="a value that closes a call is refused"),
        pytest.param("Inf", Use("f", "expression"), True, id="an infinite number is refused"),
    ],
)
def test_a_value_must_be_one_value_where_it_is_used(value: str, use: Use,
                                                    refused: bool) -> None:
    assert (value_fault(value, use) is not None) == refused


DEFAULTS = {"job": "tars", "ns": "tars", "window": "5m", "offset": "1h", "factor": "1",
            "limit": "99"}
WINDOW = {"__range": "86400s"}


def check(values: dict[str, str], overridden: list[str] | None = None) -> None:
    check_params([("check availability", AVAILABILITY)], {**DEFAULTS, **values}, DEFAULTS,
                 WINDOW, overridden if overridden is not None else list(values))


@pytest.mark.parametrize("values", [
    pytest.param({"job": "api-gateway", "ns": "prod"}, id="other label values"),
    pytest.param({"window": "10m", "offset": "7d", "factor": "-2", "limit": "99.95"},
                 id="other durations and numbers"),
    pytest.param({"job": 'quote\\"d'}, id="an escaped quote inside the label value"),
])
def test_values_pass(values: dict[str, str]) -> None:
    check(values)


@pytest.mark.parametrize(("values", "fragment"), [
    pytest.param({"job": 'tars"} or vector(100) or up{job="x'},
                 "param job = 'tars\"} or vector(100) or up{job=\"x' is refused: it would end "
                 'the "..." string it is used in (check availability); a param may change a '
                 "query only as a value", id="breaking out of a label matcher"),
    pytest.param({"factor": "up"}, "param factor = 'up' is refused: it changes the structure "
                 "of the query", id="a metric name where a number was is a new structure"),
    pytest.param({"limit": "1 or vector(1)"}, "param limit = '1 or vector(1)' is refused: it "
                 "is not one number or metric name", id="an expression where a number was"),
])
def test_values_that_change_the_structure_are_refused(values: dict[str, str],
                                                      fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        check(values)
    assert fragment in str(caught.value)


def test_a_matcher_list_param_may_add_matchers() -> None:
    template = "sum(increase(redis_keyspace_hits_total{$redis_matchers}[$__range]))"
    check_params([("check cache", template)], {"redis_matchers": 'instance="redis:6379"'},
                 {"redis_matchers": ""}, WINDOW, ["redis_matchers"])
    with pytest.raises(UsageError, match="not a list of label matchers"):
        check_params([("check cache", template)],
                     {"redis_matchers": '} or vector(1) or x{a="b"'},
                     {"redis_matchers": ""}, WINDOW, ["redis_matchers"])


def test_validate_refuses_a_default_that_breaks_out_of_its_string(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nname: t\nparams:\n  job: 'a\", x=\"b'\nsources:\n"
        "  p: {type: prometheus, url: 'http://localhost:9090'}\n"
        "checks:\n  - id: up\n    source: p\n    query: up{job=\"$job\"}\n"
        "    pass: value > 0\n", encoding="utf-8")
    found, problems = check_policy_file(str(policy))
    assert found is None
    assert [p.format() for p in problems] == [
        f"{policy}:10:12: checks[0].query: param job's default 'a\", x=\"b' cannot be used "
        'here: it would end the "..." string it is used in (a param may change a query only '
        "as a value)"]

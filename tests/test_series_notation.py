"""promtool's series notation, as policy tests read it (gacert.policy.seriesnotation)."""

from __future__ import annotations

import math
import re

import pytest

from gacert.policy.seriesnotation import NotationError, parse_labels, parse_values

N = None


@pytest.mark.parametrize(("text", "values"), [
    pytest.param("1 2 3", (1, 2, 3), id="plain samples are one per interval"),
    pytest.param("-2+4x3", (-2, 2, 6, 10), id="a+bxN is a then N more, each b higher"),
    pytest.param("1-2x4", (1, -1, -3, -5, -7), id="a-bxN counts down"),
    pytest.param("5x3", (5, 5, 5, 5), id="axN is short for a+0xN"),
    pytest.param("1 _ 3", (1, N, 3), id="_ is a step without a sample"),
    pytest.param("1 _x3 stale", (1, N, N, N, N),
                 id="_xN is N missing samples, as promtool reads it"),
    pytest.param("0.5 1e3 .25", (0.5, 1000, 0.25), id="decimals and exponents"),
    pytest.param("Inf -Inf", (math.inf, -math.inf), id="infinities as Prometheus writes them"),
    pytest.param("300x2 900", (300, 300, 300, 900), id="notations combine"),
])
def test_values_expand_as_promtool_reads_them(text: str, values: tuple[float | None, ...]
                                              ) -> None:
    assert parse_values(text) == values


def test_nan_is_a_sample_whose_value_is_nan() -> None:
    (value,) = parse_values("NaN")
    assert value is not None
    assert math.isnan(value)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("", "no values", id="an empty series is refused"),
    pytest.param("1+x3", "'1+x3' is not a sample", id="a step without a number is refused"),
    pytest.param("1x", "'1x' is not a sample", id="a count without a number is refused"),
    pytest.param("high", "'high' is not a sample", id="a word is refused"),
    pytest.param("1x999999999", "more than 100,000 samples", id="a huge count is refused"),
])
def test_malformed_values_say_which_word_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NotationError, match=re.escape(message)):
        parse_values(text)


@pytest.mark.parametrize(("text", "labels"), [
    pytest.param("{}", {}, id="{} is a series without labels"),
    pytest.param('{service="api"}', {"service": "api"}, id="a label"),
    pytest.param('{a="1", b = "2",}', {"a": "1", "b": "2"}, id="several labels, a trailing comma"),
    pytest.param('up{job="tars"}', {"__name__": "up", "job": "tars"},
                 id="a metric name is the __name__ label"),
    pytest.param("up", {"__name__": "up"}, id="a bare metric name"),
    pytest.param(r'{msg="say \"hi\"\n"}', {"msg": 'say "hi"\n'}, id="escapes in values"),
])
def test_selectors_give_the_labels(text: str, labels: dict[str, str]) -> None:
    assert parse_labels(text) == labels


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('service="api"', "is not a series selector", id="labels need braces"),
    pytest.param('{a="1" b="2"}', "expected ',' between labels", id="labels need commas"),
    pytest.param('{a="1", a="2"}', "label 'a' is given twice", id="a label only once"),
    pytest.param("{a=1}", 'expected label="value"', id="values need quotes"),
])
def test_malformed_selectors_are_refused(text: str, message: str) -> None:
    with pytest.raises(NotationError, match=re.escape(message)):
        parse_labels(text)

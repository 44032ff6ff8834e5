"""Hostile inputs, part 3: policies, command-line values and templates that would make
gacert work without end or fail with an internal error.

Each must end with exit 2 and a located message (a bad policy or usage), or
exit 3 naming the template, in bounded memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile_support import MAX_RSS, command_policy, gacert
from sample_results import sample_results, write_results

# -- defect 6: small files that expand to gigabytes --------------------------------------


def test_a_large_string_aliased_into_many_checks_is_refused_with_its_place(
        tmp_path: Path) -> None:
    """584 KB of policy: a 500 KB string, aliased into 1,000 checks."""
    checks = "".join(f"  - {{id: c{i}, source: sh, query: exit_code, description: *big, "
                     "fail: value != 0}\n" for i in range(1000))
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: bomb\nbig: &big " + "x" * 500_000 + "\n"
                      "sources:\n  sh: {type: command, command: [\"true\"]}\nchecks:\n" + checks)
    assert policy.stat().st_size < 600_000
    for command in ("validate", "run"):
        ran = gacert(command, str(policy), *(["-o", str(tmp_path / "out")] if command == "run"
                                             else []), cwd=tmp_path)
        assert ran.code == 2, ran.output
        assert f"{policy}:3:6: checks[7].description: document expands to more than " \
               "4,194,304 characters of text (a large value repeated through aliases?)" \
               in ran.stderr
        assert ran.rss < MAX_RSS
    assert not (tmp_path / "out").exists()


# -- defect 7: internal errors instead of exit 2 ------------------------------------------


@pytest.mark.parametrize(("default", "message"), [
    pytest.param(".nan", "param 'limit' default is nan; a param must be a finite number",
                 id="nan"),
    pytest.param(".inf", "param 'limit' default is inf; a param must be a finite number",
                 id="inf"),
    pytest.param("-.inf", "param 'limit' default is -inf", id="minus inf"),
    pytest.param("1" + "0" * 399, "param 'limit' default has 400 digits; a number must be "
                 "below 1.8e308", id="400 digits"),
])
def test_a_param_default_that_is_no_usable_number_is_a_located_error(
        tmp_path: Path, default: str, message: str) -> None:
    policy = command_policy(tmp_path)
    policy.write_text(policy.read_text().replace("sources:", f"params:\n  limit: {default}\n"
                                                 "sources:").replace("value != 0",
                                                                     "value > limit"))
    for command in ("validate", "run"):
        ran = gacert(command, str(policy), *(["-o", str(tmp_path / "out")] if command == "run"
                                             else []), cwd=tmp_path)
        assert ran.code == 2, ran.output
        assert f"{policy}:4:10: params.limit: {message}" in ran.stderr
    assert not (tmp_path / "out").exists()


def test_a_duration_of_3000_years_is_a_usage_error(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    ran = gacert("run", str(policy), "--duration", "3000y", "-o", str(tmp_path / "out"),
                 cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert "gacert: --duration: '3000y' is longer than 100y, the longest duration gacert " \
           "accepts" in ran.stderr


def test_a_window_past_the_year_9999_is_a_usage_error(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    ran = gacert("plan", str(policy), "--start", "9999-12-31T00:00:00Z", "--duration", "2d",
                 cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert "the window reaches past the dates gacert can represent" in ran.stderr


def test_a_policy_window_of_twenty_digit_years_is_a_located_error(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    policy.write_text(policy.read_text().replace(
        "sources:", "window:\n  duration: 99999999999999999999y\nsources:"))
    for command in ("validate", "plan"):
        ran = gacert(command, str(policy), cwd=tmp_path)
        assert ran.code == 2, ran.output
        assert f"{policy}:4:13: window.duration: '99999999999999999999y' is longer than " \
               "100y" in ran.stderr


# -- defect 9: unbounded work -------------------------------------------------------------


def test_a_fifo_as_the_policy_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    # Were it opened for reading, gacert would wait for a writer for ever; the
    # helper kills it after a while and fails the test.
    for command in ("validate", "run"):
        ran = gacert(command, str(fifo), cwd=tmp_path, timeout=60)
        assert ran.code == 2, ran.output
        assert f"{fifo}:0:0: $: cannot read: not a regular file" in ran.stderr


def test_a_fifo_as_results_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    ran = gacert("render", str(fifo), "-o", str(tmp_path / "out"), cwd=tmp_path, timeout=60)
    assert ran.code == 3, ran.output
    assert f"{fifo}: cannot read results: " in ran.stderr
    assert "not a regular file" in ran.stderr


@pytest.mark.parametrize(("template", "message"), [
    pytest.param("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                 "{% endfor %}\n", "rendering took longer than the render timeout (1 s; "
                 "--render-timeout)", id="nested loops"),
    pytest.param('{{ "x" * 10000000000 }}\n', "repeating 1 items 10,000,000,000 times is "
                 "refused in a template", id="a string of 10 GB"),
    pytest.param("{{ 9 ** 10000000 }}\n", "a power with exponent 10000000 is refused",
                 id="a huge power"),
])
def test_a_template_that_would_never_finish_ends_with_a_clear_error(
        tmp_path: Path, template: str, message: str) -> None:
    (tmp_path / "email.txt.j2").write_text(template)
    policy = command_policy(tmp_path)
    policy.write_text(policy.read_text() + "report:\n  templates:\n    email: email.txt.j2\n")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                 "--render-timeout", "1s", cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert f"gacert: report template {tmp_path / 'email.txt.j2'}" in ran.stderr
    assert message in ran.stderr
    assert ran.rss < MAX_RSS


def test_no_pdf_is_printed_past_the_check_limit_and_the_html_still_is(tmp_path: Path) -> None:
    results = write_results(tmp_path / "run")
    checks = len(sample_results()["checks"])
    ran = gacert("render", str(results), "-o", str(tmp_path / "out"), "--pdf-max-checks",
                 str(checks - 1), cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert f"pdf:     not written: the report has {checks} checks; a PDF is printed for at " \
           f"most {checks - 1} (--pdf-max-checks), so read the HTML report" in ran.stdout
    assert (tmp_path / "out" / "GA_DAY_REPORT.html").is_file()
    assert not (tmp_path / "out" / "GA_DAY_REPORT.pdf").exists()
    metadata = json.loads((tmp_path / "out" / "certification_metadata.json").read_text())
    assert "--pdf-max-checks" in metadata["pdf"]["reason"]

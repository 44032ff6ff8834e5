"""Reports from a results document: the GA Day report, HTML, email, charts, templates."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from sample_results import (
    HOSTILE_LABELS,
    RESULTS_SCHEMA,
    ROOT,
    START,
    sample_results,
    with_report_layout,
)

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.document import ResultsDocument
from gacert.errors import OutputError, PolicyError
from gacert.model import Rules, Slo
from gacert.policy.expressions import compile_expression
from gacert.policy.load import load_policy
from gacert.policy.thresholds import thresholds
from gacert.report.charts import build_charts
from gacert.report.html import markdown_to_html, render_html
from gacert.report.render import (
    Templates,
    code_fence,
    markdown_cell,
    packaged_templates,
    render_email,
    render_ga_day,
    render_markdown,
)

GA_POLICY = ROOT / "policies" / "ga.yaml"
# The section headings of the seed's GA_DAY_REPORT, in its order.
SEED_SECTIONS = [
    "Executive Summary", "Deployment Timeline", "Canary Deployment Results",
    "Hotfix Validation Results", "KPI Summary", "Drift Analysis Summary", "Test Suite Results",
    "Incident Summary", "Observability & Monitoring", "Performance Benchmarks",
    "SLO Compliance Report", "Security & Compliance", "Multi-Agent RL System Performance",
    "Customer Impact Assessment", "Rollback Readiness", "Post-GA Action Items",
    "Lessons Learned", "Final Certification", "Sign-Off", "Appendix",
]
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


@pytest.fixture(scope="module")
def document() -> ResultsDocument:
    """A failing GA day's results with the report layout of the shipped policy."""
    doc = with_report_layout(sample_results(), GA_POLICY)
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    return doc


@pytest.fixture(scope="module")
def hostile() -> ResultsDocument:
    doc = with_report_layout(sample_results(hostile=True), GA_POLICY)
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    return doc


@pytest.fixture(scope="module")
def ga_day(document: ResultsDocument) -> str:
    return render_ga_day(document)


def test_the_ga_day_report_has_every_section_of_the_seed_in_order(ga_day: str) -> None:
    headings = re.findall(r"^## (\d+)\. (.+)$", ga_day, flags=re.MULTILINE)
    assert headings == [(str(i), title) for i, title in enumerate(SEED_SECTIONS, start=1)]


def test_the_hotfix_section_has_tars_1001_and_tars_1002(ga_day: str) -> None:
    hotfix = ga_day.split("## 4. Hotfix Validation Results", 1)[1].split("## 5.", 1)[0]
    assert "### TARS-1001" in hotfix
    assert "### TARS-1002" in hotfix
    assert "WebSocket reconnect success (TARS-1001)" in hotfix
    assert "Database query P99 latency (TARS-1002)" in hotfix


def test_no_template_syntax_survives_in_any_report(document: ResultsDocument,
                                                   ga_day: str) -> None:
    html = render_html(document, ga_day)
    email = render_email(document, files=("GA_DAY_REPORT.md",))
    for text in (ga_day, render_markdown(document), html, email):
        assert PLACEHOLDER.search(text.replace("{ ", "").replace(" }", "")) is None


def test_what_the_results_do_not_hold_is_n_a_or_a_field_to_fill_in(ga_day: str) -> None:
    assert "N/A: no check of this policy is tagged `canary`." in ga_day
    sign_off = ga_day.split("## 19. Sign-Off", 1)[1].split("## 20.", 1)[0]
    assert sign_off.count("[FILL IN: name]") == 7
    # A check without data shows its value as N/A, never as 0 or an empty cell.
    assert "| ❔ NO DATA | Cache hit rate (`cache_hit_rate`) | N/A |" in ga_day


def test_the_ga_day_report_is_filled_from_the_results(ga_day: str) -> None:
    assert "**NOT CERTIFIED** ❌ FAIL" in ga_day
    assert "| Release | v1.0.1 |" in ga_day
    assert "1,750.0 ms (worst of 4)" in ga_day
    # Rules show with the thresholds they resolve to under the run's params.
    assert "fail: `value >= p99_latency_ms_max` (≥ 1,000.0 ms)" in ga_day
    assert "fail: `abs(value) >= drift_max_percent` (≥ 10.00 %, ≤ -10.00 %)" in ga_day
    # Error budget of availability (>= 99.9 %) at 99.97 %: 30 % of 86.4 s spent.
    assert "| Overall availability | ≥ 99.900 % | 99.970 % | 0.100 % | 86 s | 30.0 % | 70.0 % |" \
        in ga_day
    # Failing checks become immediate action items.
    actions = ga_day.split("### Immediate (0-24 h)", 1)[1].split("###", 1)[0]
    assert "Investigate Worst service P99 latency" in actions
    assert "```gacert-chart p99_latency" in ga_day


def test_hostile_data_stays_text_in_markdown(hostile: ResultsDocument) -> None:
    ga_day, short = render_ga_day(hostile), render_markdown(hostile)
    # Every `<` that could open a tag is backslash-escaped (the short report's
    # own template writes <br> between rules; data never writes a tag).
    assert re.search(r"(?<!\\)<[A-Za-z/!?]", ga_day) is None
    assert re.search(r"(?<!\\)<(script|img|b>)", short) is None
    for text in (ga_day, short):
        assert r"\<script>alert(1)\</script>" in text
        assert re.search(r"(?<!\\)\]\((http|javascript)", text) is None  # no link
        assert PLACEHOLDER.search(text.replace("{ ", "").replace(" }", "")) is None


def test_hostile_data_is_escaped_in_html(hostile: ResultsDocument) -> None:
    html = render_html(hostile, render_ga_day(hostile))
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>bold" not in html
    assert 'href="http://evil' not in html
    assert "javascript:" not in html.replace("[click](javascript:alert(1))", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{" not in html
    # The chart legend is drawn by the page template, escaped there too.
    legend = html.split('id="chart-p99_latency"')[1].split("</figure>")[0]
    assert "service=&lt;script&gt;alert(1)&lt;/script&gt;" in legend


@pytest.mark.parametrize(("text", "shown"), [
    pytest.param("<script>x</script>", r"\<script>x\</script>", id="a tag becomes text"),
    pytest.param("a|b", r"a\|b", id="a pipe does not split a table cell"),
    pytest.param("[t](http://x)", r"\[t\](http://x)", id="a link stays text"),
    pytest.param("{{ x }}", r"{\{ x }\}", id="template syntax is broken up"),
    pytest.param("http_requests_total", "http_requests_total",
                 id="underscores inside a word stay readable"),
    pytest.param("value >= 5 & 3", "value >= 5 & 3", id="comparisons stay readable"),
    pytest.param("line\nbreak", "line break", id="a line break becomes a space"),
    pytest.param(None, "N/A", id="nothing reads N/A"),
])
def test_markdown_cell_escapes_markdown(text: str | None, shown: str) -> None:
    assert markdown_cell(text) == shown


def test_markdown_cell_round_trips_through_the_renderer() -> None:
    for label in HOSTILE_LABELS:
        html, _ = markdown_to_html(f"| a |\n|---|\n| {markdown_cell(label)} |\n")
        cell = html.split("<td>")[1].split("</td>")[0]
        expected = (label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace('"', "&quot;"))
        assert cell == expected


def test_a_code_fence_is_longer_than_any_backtick_run_inside() -> None:
    fenced = code_fence("a ``` b ````` c", "promql")
    assert fenced.startswith("``````promql\n")
    html, _ = markdown_to_html(fenced)
    assert html.count("<pre>") == 1
    assert "a ``` b ````` c" in html


def test_html_has_status_classes_heading_ids_and_no_outside_resources(
        document: ResultsDocument, ga_day: str) -> None:
    html = render_html(document, ga_day)
    assert '<header class="verdict verdict-fail">' in html
    assert '<span class="status status-fail">FAIL</span>' in html
    assert '<span class="fill-in">[FILL IN: name]</span>' in html
    assert '<h2 id="4-hotfix-validation-results">' in html
    assert '<a href="#4-hotfix-validation-results">' in html
    assert re.search(r"""(src|href)=["']?(https?:|//)""", html) is None
    assert "<script" not in html
    assert "@media print" in html


def test_every_range_check_gets_a_chart_with_its_thresholds(document: ResultsDocument,
                                                            ga_day: str) -> None:
    html = render_html(document, ga_day)
    ranged = [c["id"] for c in document["checks"] if c["mode"] == "range"]
    assert ranged == ["p99_latency", "cpu_usage"]
    for check_id in ranged:
        assert html.count(f'id="chart-{check_id}"') == 1
    chart = html.split('id="chart-p99_latency"')[1].split("</figure>")[0]
    assert "fail ≥ 1,000.0 ms" in chart
    assert "warn ≥ 800.0 ms" in chart
    assert chart.count("<polyline") >= 4
    # The chart is placed where the GA Day report marks it, in the KPI summary.
    assert html.index('id="chart-p99_latency"') < html.index('id="6-drift-analysis-summary"')


def test_a_chart_keeps_a_one_minute_spike_and_stays_small(document: ResultsDocument) -> None:
    chart = next(c for c in build_charts(document) if c.id == "p99_latency")
    line = next(ln for ln in chart.lines if ln.label == "service=dashboard-api")
    points = [tuple(map(float, p.split(","))) for p in " ".join(line.segments).split()]
    assert len(points) < 1441  # decimated to pixel columns
    top = min(y for _, y in points)  # SVG y grows downwards
    assert top < chart.top + (chart.bottom - chart.top) * 0.2  # 1,750 ms on a 0-2,000 axis
    assert line.status == "fail"
    assert chart.lines[0] is line  # the worst series first


def test_a_gap_in_the_data_splits_the_line() -> None:
    doc = sample_results()
    check = next(c for c in doc["checks"] if c["id"] == "cpu_usage")
    points = check["series"][0]["points"]
    for point in points[600:700]:
        point[1] = "NaN"
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    chart = next(c for c in build_charts(doc) if c.id == "cpu_usage")
    assert len(chart.lines[0].segments) == 2


def test_a_chart_without_points_says_so() -> None:
    doc = sample_results()
    check = next(c for c in doc["checks"] if c["id"] == "cpu_usage")
    check["series"] = []
    chart = next(c for c in build_charts(doc) if c.id == "cpu_usage")
    assert chart.empty
    html = render_html(doc, render_ga_day(doc))
    assert "No data in the window" in html.split('id="chart-cpu_usage"')[1].split("</figure>")[0]


def test_the_samples_thresholds_are_what_evaluation_writes(document: ResultsDocument) -> None:
    for check in document["checks"]:
        written = {name: compile_expression(text) if text else None
                   for name, text in check["rules"].items()}
        rules = Rules(pass_=written["pass"], warn=written["warn"], fail=written["fail"])
        computed = [{"rule": t.rule, "operator": t.operator, "value": t.value,
                     "expression": t.expression}
                    for t in thresholds(rules, document["params"])]
        assert check["thresholds"] == computed, check["id"]


def test_charts_and_reports_draw_the_thresholds_of_the_results_not_the_rule_text() -> None:
    # The results are the single source of truth: a report never parses a rule
    # again, so thresholds it cannot derive from the text are drawn all the same.
    doc = sample_results()
    latency = next(c for c in doc["checks"] if c["id"] == "p99_latency")
    latency["thresholds"] = [{"rule": "fail", "operator": ">", "value": 1234.0,
                              "expression": "value > some_measured_bound"}]
    availability = next(c for c in doc["checks"] if c["id"] == "availability")
    availability["thresholds"] = [{"rule": "pass", "operator": ">=", "value": 99.0,
                                   "expression": "value >= availability_target"}]
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    chart = next(c for c in build_charts(doc) if c.id == "p99_latency")
    assert [r.label for r in chart.rules] == ["fail > 1,234.0 ms"]
    ga_day = render_ga_day(doc)
    assert "fail: `value >= p99_latency_ms_max` (> 1,234.0 ms)" in ga_day


def test_the_email_summary_is_plain_text_ready_to_paste(document: ResultsDocument) -> None:
    email = render_email(document, files=("GA_DAY_REPORT.md", "GA_DAY_REPORT.html"))
    lines = email.splitlines()
    assert lines[0].startswith("Subject: T.A.R.S. GA Day certification report: FAIL (")
    assert "Verdict:  FAIL (NOT CERTIFIED)" in email
    assert "- FAIL Worst service P99 latency: p99_latency fail: 1,750.0 ms" in email
    assert "  - GA_DAY_REPORT.html" in email
    assert "gacert verify" in email
    assert max(len(line) for line in lines[1:]) <= 100
    assert "<" not in email.replace("<package directory or .tar.gz>", "")


def test_results_missing_optional_keys_still_render(document: ResultsDocument) -> None:
    required = {"id", "title", "status", "value", "unit", "reason", "query", "series", "error",
                "thresholds"}
    doc = json.loads(json.dumps(document))
    doc["checks"] = [{k: v for k, v in c.items() if k in required} for c in doc["checks"]]
    for key in ("params", "sources", "sections", "exit_code"):
        del doc[key]
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    text = render_ga_day(doc)
    assert "## 20. Appendix" in text
    assert render_html(doc, text).count("<svg") == 0  # without `mode`, no check is a range


def _custom(tmp_path: Path, name: str, text: str) -> tuple[ResultsDocument, Path]:
    path = tmp_path / name
    path.write_text(text)
    doc = with_report_layout(sample_results(), GA_POLICY)
    doc["policy"]["report_templates"] = {"ga_day": str(path)}
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    return doc, path


def test_a_policy_template_replaces_the_built_in_one_and_may_extend_it(
        tmp_path: Path) -> None:
    (tmp_path / "footer.md.j2").write_text("Signed off by the release board.\n")
    doc, path = _custom(tmp_path, "ours.md.j2",
                     '{% extends "builtin/ga_day.md.j2" %}\n'
                     "{% block extra %}{% include \"footer.md.j2\" %}{% endblock %}\n")
    text = render_ga_day(doc, Templates({"ga_day": str(path)}))
    assert "## 1. Executive Summary" in text
    assert text.rstrip().endswith("Signed off by the release board.")


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    doc, path = _custom(tmp_path, "broken.md.j2", "# Title\n\n{% for x in %}\n")
    with pytest.raises(OutputError, match=rf"report template {re.escape(str(path))}:3: "):
        render_ga_day(doc, Templates({"ga_day": str(path)}))


def test_a_template_error_at_render_time_names_the_file_and_line(tmp_path: Path) -> None:
    doc, path = _custom(tmp_path, "wrong.md.j2",
                        "# {{ doc.policy.name }}\n\nfine\n{{ doc.no_such_key }}\n")
    with pytest.raises(OutputError, match=rf"report template {re.escape(str(path))}:4: .*"
                                          "no_such_key"):
        render_ga_day(doc, Templates({"ga_day": str(path)}))


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    doc, path = _custom(tmp_path, "escape.md.j2", "{{ ''.__class__.__mro__ }}\n")
    with pytest.raises(OutputError, match=rf"{re.escape(str(path))}:1: .*unsafe"):
        render_ga_day(doc, Templates({"ga_day": str(path)}))


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/hostname"])
def test_a_template_cannot_include_files_outside_its_directory(tmp_path: Path,
                                                               name: str) -> None:
    (tmp_path / "secret.txt").write_text("token")
    (tmp_path / "templates").mkdir()
    doc, path = _custom(tmp_path / "templates", "inc.md.j2", f'{{% include "{name}" %}}\n')
    with pytest.raises(OutputError, match=f"template {name!r} not found"):
        render_ga_day(doc, Templates({"ga_day": str(path)}))


def test_a_missing_policy_template_is_named(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"gone\.txt\.j2 \(email\) named by the policy: the "
                                          r"package holds no usable templates/gone\.txt\.j2"):
        packaged_templates(str(tmp_path), {"email": "../elsewhere/gone.txt.j2"})


def test_the_short_report_still_renders_every_check(document: ResultsDocument) -> None:
    text = render_markdown(document, Templates())
    for check in document["checks"]:
        assert f"(`{check['id']}`)" in text
    assert text.count("```promql") == len(document["checks"])


def test_a_chart_starts_at_the_window_start(document: ResultsDocument) -> None:
    chart = build_charts(document)[0]
    assert chart.start == "2025-01-15 00:00 UTC"
    assert chart.x_ticks[0].label == "00:00"
    assert chart.x_ticks[0].position == chart.left
    assert START == 1736899200


# --- the GA Day report's sections come from the policy ------------------------------------

# The structure every GA gets when its policy declares no report.ga_day.
GENERIC_SECTIONS = ["Summary", "Timeline", "Service Level Objectives", "Checks", "Evidence",
                    "Certification and Sign-Off", "Appendix"]
# What belongs to T.A.R.S. (its agents, hotfixes, canary) and never to the built-in template.
PRODUCT_WORDS = ("T.A.R.S", "TARS", "tars-", "Canary", "canary", "Hotfix", "hotfix",
                 "HyperSync", "AutoML", "Nash", "Multi-Agent", "PPO")
POLICY_SCHEMA = json.loads((ROOT / "schemas" / "policy.schema.json").read_text("utf-8"))
PART_KINDS = POLICY_SCHEMA["$defs"]["ga_day_part"]["properties"]["show"]["enum"]


def headings(report: str) -> list[str]:
    return [title for _, title in re.findall(r"^## (\d+)\. (.+)$", report, flags=re.MULTILINE)]


def section_text(report: str, title: str) -> str:
    return report.split(f". {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_built_in_templates_name_nothing_of_one_product() -> None:
    for name in ("ga_day.md.j2", "parts.md.j2", "macros.md.j2"):
        text = (ROOT / "report_templates" / name).read_text("utf-8")
        assert [word for word in PRODUCT_WORDS if word in text] == [], name


def test_results_without_a_layout_get_the_structure_every_ga_needs(
        document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    del doc["policy"]["ga_day"]
    report = render_ga_day(doc)
    assert headings(report) == GENERIC_SECTIONS
    assert [word for word in PRODUCT_WORDS if word in section_text(report, "Timeline")] == []
    assert "| Engineering lead | [FILL IN: name] |" in report


def test_a_policy_renders_only_the_sections_it_declares(document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    # Parts as a person might write them by hand: keys left out take their defaults.
    doc["policy"]["ga_day"] = {"sections": [
        {"title": "Platform health", "parts": [
            {"title": "Alerts", "show": "table", "tags": ["alerts"]},
            {"title": "Load", "show": "table", "tags": ["load"], "fill": "k6 results"}]},
        {"title": "Release board", "text": "Signed by the release board.", "parts": [
            {"show": "sign_off", "roles": ["Board chair"]},
            {"label": "Minutes", "fill": "link"}]}]}
    report = render_ga_day(doc)
    assert headings(report) == ["Platform health", "Release board"]
    health = section_text(report, "Platform health")
    assert "| ✅ PASS | Critical alerts (`critical_alerts`) | 0.00 |" in health
    assert "N/A: no check of this policy is tagged `load`. [FILL IN: k6 results]" in health
    board = section_text(report, "Release board")
    assert board.index("Signed by the release board.") < board.index("| Board chair |")
    assert board.rstrip().endswith("|\n\n- Minutes: [FILL IN: link]")
    assert "TARS-1001" not in report


def test_every_kind_of_part_the_schema_names_renders(document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    doc["policy"]["ga_day"] = {"sections": [
        {"title": kind, "parts": [{"show": kind, "tags": ["slo"], "fill": "something"}]}
        for kind in PART_KINDS]}
    report = render_ga_day(doc)
    assert headings(report) == PART_KINDS
    empty = [kind for kind in PART_KINDS if not section_text(report, kind).strip()]
    assert empty == []


def test_an_unknown_kind_of_part_is_an_error_naming_the_template(
        document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    doc["policy"]["ga_day"] = {"sections": [{"title": "X", "parts": [{"show": "pie"}]}]}
    with pytest.raises(OutputError, match=r"report template .*parts\.md\.j2:\d+: .*pie"):
        render_ga_day(doc)


def test_an_error_budget_only_for_a_check_that_declares_an_slo(
        document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    # A percentage tagged slo, with a threshold, but no declared SLO: no budget.
    busy = {**doc["checks"][0], "id": "cpu_busy", "title": "CPU busy", "value": 99.45,
            "rules": {"pass": None, "warn": None, "fail": "value >= 90"}, "slo": None,
            "tags": ["slo"], "status": "fail"}
    doc["checks"].append(busy)
    budget = render_ga_day(doc).split("### Error budget", 1)[1].split("###", 1)[0]
    assert "CPU busy" not in budget
    assert "| Overall availability | ≥ 99.900 % | 99.970 % | 0.100 % | 86 s | 30.0 % | 70.0 % |" \
        in budget
    # An error rate is the share of bad: 0.02 % of an allowed 0.1 %.
    assert "| Overall error rate (5xx) | ≤ 0.100 % | 0.020 % | 0.100 % | 86 s | 20.0 % | 80.0 % |" \
        in budget
    assert budget.count("\n| Overall") == 2


def test_probe_and_file_checks_read_as_what_they_are_not_as_the_window(
        document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    doc["sources"] += [{"id": "tars_ws", "type": "websocket", "endpoint": "ws://x/ws"},
                       {"id": "k6", "type": "file", "endpoint": "file: k6.json"}]
    probe = {**doc["checks"][3], "id": "ws_probe_success", "source": "tars_ws",
             "query": "success_rate", "tags": ["websocket"], "series": [],
             "measurements": {"success_rate": 100.0,
                              "reconnects": {"total": 10, "succeeded": 10, "failed": 0}},
             "evidence": {"started_at": "2025-01-16T00:05:01Z", "duration_s": 2.1}}
    load = {**doc["checks"][3], "id": "k6_p95", "source": "k6", "query": "metrics.p95",
            "tags": ["load"], "series": [],
            "evidence": {"path": "/ci/k6.json", "modified": "2025-01-15T22:00:00Z"}}
    doc["checks"] += [probe, load]
    for count in ("total", "gate", "pass"):
        doc["summary"][count] += 2
    report = render_ga_day(doc)
    assert ("- Source `tars_ws`: a probe run of 10 reconnects made at run time, not over "
            "the GA window (started 2025-01-16T00:05:01Z, 2.1 s)") in report
    assert ("- Source `k6`: read from /ci/k6.json, a file made elsewhere (modified "
            "2025-01-15T22:00:00Z), not measured over the GA window") in report
    assert "The checks were measured: 10 over the GA window (2025-01-15T00:00:00Z → " \
        "2025-01-16T00:00:00Z, 24 h), 1 in probe runs made at run time, 1 read from files " \
        "made elsewhere." in report
    assert "gacert evaluated 12 checks (10 gating): 10 over the GA window, 1 in probe runs" \
        in report


def test_a_policy_declares_its_report_sections_and_slos(tmp_path: Path) -> None:
    policy = load_policy(str(GA_POLICY))
    assert [s.title for s in policy.ga_day] == SEED_SECTIONS
    slos = {c.id: c.slo for c in policy.checks if c.slo is not None}
    assert slos == {"availability": Slo(99.9), "error_rate": Slo(99.9, "bad"),
                    "scrape_success": Slo(99.0)}
    hotfix = policy.ga_day[3].parts[0]
    assert (hotfix.title, hotfix.show, hotfix.tags) == ("TARS-1001", "validation", ("tars-1001",))


@pytest.mark.parametrize(("change", "message"), [
    pytest.param("unit: ms\n    slo: {objective: 99.9}",
                 r"checks\[0\]\.unit: '%' was expected",
                 id="an slo on a check that is not a percentage is refused"),
    pytest.param("unit: '%'\n    slo: {objective: 100}",
                 r"checks\[0\]\.slo\.objective: 100 is greater than",
                 id="an objective of 100 % leaves no budget and is refused"),
])
def test_a_wrong_slo_is_located(tmp_path: Path, change: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(MINIMAL + f"    {change}\n")
    with pytest.raises(PolicyError, match=rf"p\.yaml:\d+:\d+: {message}"):
        load_policy(str(path))


def test_a_part_with_a_key_its_kind_does_not_read_is_located(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(MINIMAL + "report:\n  ga_day:\n    sections:\n      - title: T\n"
                    "        parts: [{show: table, roles: [Owner]}]\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:\d+:\d+: report\.ga_day\.sections\[0\]"
                                          r"\.parts\[0\]\.show: 'sign_off' was expected"):
        load_policy(str(path))


MINIMAL = """\
version: 1
name: minimal
sources:
  prom: {type: prometheus, url: "http://localhost:9090"}
checks:
  - id: up
    source: prom
    query: up
    pass: value == 1
"""

# A node-health policy of another team: no report layout, SLO on availability only.
NODE_POLICY = """\
version: 1
name: node-health
title: Node health
params:
  job: tars
sources:
  prometheus: {type: prometheus, url: "${PROMETHEUS_URL}"}
checks:
  - id: node_up
    title: Node availability
    source: prometheus
    query: avg(avg_over_time(up{job="$job"}[$__range])) * 100
    unit: "%"
    precision: 3
    pass: value >= 99.5
    slo: {objective: 99.5}
    tags: [slo]
  - id: cpu_busy
    title: CPU busy
    source: prometheus
    query: 100 * avg(rate(process_cpu_seconds_total{job="$job"}[$__range]))
    unit: "%"
    fail: value >= 90
    tags: [slo, resources]
  - id: memory_peak
    title: Peak resident memory
    source: prometheus
    query: max(max_over_time(process_resident_memory_bytes{job="$job"}[$__range])) / 1024 / 1024
    unit: MiB
    fail: value >= 8192
    tags: [resources]
"""


@pytest.mark.prometheus
def test_a_node_health_policy_gets_a_report_with_nothing_of_tars(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    (tmp_path / "node.yaml").write_text(NODE_POLICY)
    start, end = scenario_window("clean")
    window = ["--start", f"{start:%Y-%m-%dT%H:%M:%SZ}", "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}"]
    run = gacert_cli(tmp_path, "run", "node.yaml", *window, "--output", "out", "--no-pdf",
                     "--no-tarball", url=prometheus.url)
    assert run.returncode == 0, run.stderr
    report = (tmp_path / "out" / "GA_DAY_REPORT.md").read_text("utf-8")
    assert headings(report) == GENERIC_SECTIONS
    assert [word for word in PRODUCT_WORDS if word in report] == []
    budget = report.split("### Error budget", 1)[1].split("###", 1)[0]
    assert "| Node availability | ≥ 99.500 % | 100.000 % | 0.500 % | 432 s | 0.0 % | 100.0 % |" \
        in budget
    assert "CPU busy" not in budget
    # The layout is in results.json: the report re-renders from it alone, the same.
    rerun = gacert_cli(tmp_path, "render", "out/results.json", "--output", "again",
                       "--no-pdf", "--no-tarball", url=prometheus.url)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "again" / "GA_DAY_REPORT.md").read_text("utf-8") == report


def gacert_cli(cwd: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, check=False,
                          env={**os.environ, "PROMETHEUS_URL": url})

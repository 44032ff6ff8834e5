"""Reports from a results document: the GA Day report, HTML, email, charts, templates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from sample_results import HOSTILE_LABELS, RESULTS_SCHEMA, START, sample_results

from gacert.document import ResultsDocument
from gacert.errors import OutputError
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
    doc = sample_results()
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(doc)
    return doc


@pytest.fixture(scope="module")
def hostile() -> ResultsDocument:
    doc = sample_results(hostile=True)
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


def test_a_hotfixes_label_names_the_hotfixes_even_without_checks(
        document: ResultsDocument) -> None:
    doc = json.loads(json.dumps(document))
    doc["policy"]["labels"]["hotfixes"] = "TARS-1001, TARS-2002"
    hotfix = render_ga_day(doc).split("## 4.", 1)[1].split("## 5.", 1)[0]
    assert "### TARS-1001" in hotfix
    assert "### TARS-2002" in hotfix
    assert "N/A: no check of this policy is tagged `tars-2002`." in hotfix
    assert "TARS-1002" not in hotfix


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


@pytest.mark.parametrize(("rules", "lines"), [
    pytest.param({"fail": "value >= limit"}, [("fail", ">=", 10.0)], id="a param bound"),
    pytest.param({"warn": "value >= limit * 0.8"}, [("warn", ">=", 8.0)], id="arithmetic"),
    pytest.param({"pass": "0 < value <= 5"}, [("pass", ">", 0.0), ("pass", "<=", 5.0)],
                 id="a chained comparison gives two lines"),
    pytest.param({"fail": "abs(value) >= limit"}, [("fail", ">=", 10.0), ("fail", "<=", -10.0)],
                 id="abs(value) gives a line on each side"),
    pytest.param({"fail": "labels['service'] == 'x' and value > 1"}, [],
                 id="a rule for some series only gives no line"),
    pytest.param({"fail": "value > unknown"}, [], id="an unknown name gives no line"),
])
def test_thresholds_read_back_from_rules(rules: dict[str, str],
                                         lines: list[tuple[str, str, float]]) -> None:
    found = thresholds(rules, {"limit": 10})
    assert [(t.rule, t.operator, t.value) for t in found] == lines


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
    required = {"id", "title", "status", "value", "unit", "reason", "query", "series", "error"}
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
    doc = sample_results()
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

"""How long do reports and the package take for a large results document, and how big are they?

The document: 1,000 checks in 10 report sections, of which 25 range checks
with 4 series each (100 range series of 1,441 one-minute points, a day) and
975 instant checks with 1 to 4 series. Each figure is the median of several
repetitions, beside baselines measured in the same script:

- json.load of results.json: the floor of anything that reads the results;
- markdown-it-py rendering the GA Day Markdown: the floor of any HTML made
  from that Markdown;
- then each stage: the GA Day Markdown, report.md, the HTML page (with its
  charts), the email, and the whole package (no PDF, with the tarball);
- the PDF once, when WeasyPrint is installed (--pdf).

Run: .venv/bin/python benchmarks/bench_render.py [--repeat N] [--pdf]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from gacert.package.build import PackageOptions, write_package
from gacert.report.html import render_html
from gacert.report.pdf import write_pdf
from gacert.report.render import render_email, render_ga_day, render_markdown

START = 1736899200  # 2025-01-15T00:00:00Z
TAGS = ("slo", "latency", "drift", "resources", "alerts", "kubernetes", "traffic", "websocket",
        "tars-1001", "rl")
POLICY = b"version: 1\nname: bench\n"


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: template compilation, imports
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _series(index: int, count: int, ranged: bool) -> list[dict[str, Any]]:
    found = []
    for n in range(count):
        series: dict[str, Any] = {"labels": {"service": f"service-{n}", "pod": f"pod-{index}-{n}"},
                                  "value": 100.0 + n, "status": "pass"}
        if ranged:
            series["points"] = [[START + m * 60, round(100 + 20 * math.sin(m / 90 + n), 3)]
                                for m in range(24 * 60 + 1)]
            series["value"] = max(v for _, v in series["points"])
        found.append(series)
    return found


def _check(index: int) -> dict[str, Any]:
    ranged = index % 40 == 0  # 25 of 1,000
    series = _series(index, 4 if ranged else 1 + index % 4, ranged)
    status = "fail" if index % 97 == 0 else ("warn" if index % 31 == 0 else "pass")
    return {
        "id": f"check_{index:04d}", "title": f"Check number {index}", "description": "",
        "section": f"s{index // 100}", "source": "prometheus", "gate": index % 3 != 0,
        "tags": [TAGS[index % len(TAGS)]], "status": status,
        "value": max(s["value"] for s in series), "unit": "ms", "precision": 1,
        "reason": f"check_{index:04d} {status}: value against its rule",
        "decided_by": status, "expression": "value >= limit",
        "rules": {"fail": "value >= limit", "warn": "value >= limit * 0.8", "pass": None},
        "thresholds": [
            {"rule": "fail", "operator": ">=", "value": 1000.0, "expression": "value >= limit"},
            {"rule": "warn", "operator": ">=", "value": 800.0,
             "expression": "value >= limit * 0.8"}],
        "no_data": "no_data", "query": f'max(metric_{index}{{job="bench"}})',
        "mode": "range" if ranged else "instant", "over_time": "max" if ranged else None,
        "series_reduction": "each", "series": series, "warnings": [], "error": None,
        "duration_seconds": 0.01, "measurements": {}, "evidence": {},
    }


def large_results(policy_path: str) -> dict[str, Any]:
    checks = [_check(i) for i in range(1000)]
    counts = {s: sum(1 for c in checks if c["status"] == s)
              for s in ("pass", "warn", "fail", "no_data", "error")}
    return {
        "schema_version": 1, "status": "fail", "exit_code": 1, "gacert_version": "0.1.0",
        "policy": {"name": "bench", "title": "Benchmark", "path": policy_path,
                   "sha256": hashlib.sha256(POLICY).hexdigest(), "version": 1},
        "window": {"start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z",
                   "duration_seconds": 86400.0, "step_seconds": 60.0},
        "params": {"limit": 1000},
        "sources": [{"id": "prometheus", "type": "prometheus", "endpoint": "http://x:9090"}],
        "timings": {"started_at": "2025-01-16T00:00:01Z", "finished_at": "2025-01-16T00:01:00Z",
                    "duration_seconds": 59.0, "fetch_seconds": 50.0},
        "summary": {"total": 1000, "gate": sum(1 for c in checks if c["gate"]), **counts},
        "sections": [{"id": f"s{n}", "title": f"Section {n}", "description": "",
                      "checks": [c["id"] for c in checks[n * 100:(n + 1) * 100]]}
                     for n in range(10)],
        "checks": checks,
    }


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pdf", action="store_true", help="also print the PDF once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "policy.yaml").write_bytes(POLICY)
        results = root / "results.json"
        results.write_text(json.dumps(large_results(str(root / "policy.yaml")), indent=2))
        document = json.loads(results.read_text())
        ga_day = render_ga_day(document)
        html = render_html(document, ga_day)
        ranged = sum(len(c["series"]) for c in document["checks"] if c["mode"] == "range")
        print(f"results.json: {len(document['checks']):,} checks, {ranged} range series, "
              f"{_kib(results.stat().st_size)}")

        def package() -> None:
            write_package(document, str(results), str(root / "pkg"), PackageOptions(pdf=False))

        stages: list[tuple[str, Callable[[], object], int | None]] = [
            ("baseline: json.load(results.json)",
             lambda: json.loads(results.read_text()), None),
            ("baseline: markdown-it-py on GA_DAY_REPORT.md",
             lambda: MarkdownIt("commonmark").enable("table").render(ga_day), None),
            ("GA_DAY_REPORT.md", lambda: render_ga_day(document), len(ga_day.encode())),
            ("report.md", lambda: render_markdown(document),
             len(render_markdown(document).encode())),
            ("GA_DAY_REPORT.html (with charts)", lambda: render_html(document, ga_day),
             len(html.encode())),
            ("EMAIL_SUMMARY.txt", lambda: render_email(document),
             len(render_email(document).encode())),
            ("whole package, no PDF, with tarball", package, None),
        ]
        for name, action, size in stages:
            seconds = median_seconds(action, args.repeat)
            shown = f"  {_kib(size):>10}" if size is not None else ""
            print(f"{name:<44} {seconds * 1000:9.1f} ms{shown}")
        tarball = root / "pkg.tar.gz"
        print(f"{'package tarball':<44} {'':>12}  {_kib(tarball.stat().st_size):>10}")
        if args.pdf:
            started = time.perf_counter()
            status = write_pdf(html, str(root / "report.pdf"))
            if status.written:
                print(f"{'GA_DAY_REPORT.pdf (' + (status.engine or '') + ', once)':<44} "
                      f"{(time.perf_counter() - started) * 1000:9.1f} ms  "
                      f"{_kib((root / 'report.pdf').stat().st_size):>10}")
            else:
                print(f"GA_DAY_REPORT.pdf: {status.describe()}")


if __name__ == "__main__":
    main()

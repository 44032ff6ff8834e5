"""The file source: values by path out of evidence made elsewhere (k6, pytest-json-report)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
from probe_support import build, fetch_all, measure, value

from gacert.errors import SourceError
from gacert.sources.file import FileSource

# The shape of `k6 run --summary-export=summary.json`.
K6_SUMMARY = {
    "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e",
                   "groups": [], "checks": []},
    "metrics": {
        "http_req_duration": {"avg": 120.5, "min": 80.1, "med": 110.2, "max": 900.3,
                              "p(90)": 180.4, "p(95)": 220.7},
        "http_req_duration{expected_response:true}": {"avg": 118.2, "p(95)": 210.0},
        "http_req_failed": {"passes": 2, "fails": 998, "value": 0.002},
        "http_reqs": {"count": 1000, "rate": 33.3},
        "checks": {"passes": 1000, "fails": 0, "value": 1},
    },
}
# The shape of `pytest --json-report --json-report-file=report.json`.
PYTEST_REPORT = {
    "created": 1736985600.0, "duration": 12.34, "exitcode": 0, "root": "/repo",
    # Counts that are zero are left out, as pytest-json-report does.
    "summary": {"passed": 48, "skipped": 2, "total": 50, "collected": 50},
    "tests": [{"nodeid": "tests/test_ga.py::test_rollout", "outcome": "passed",
               "call": {"duration": 0.41}}],
}


@pytest.fixture
def k6(tmp_path: Path) -> str:
    path = tmp_path / "k6-summary.json"
    path.write_text(json.dumps(K6_SUMMARY))
    return str(path)


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("metrics.http_req_duration.p(95)", 220.7, id="a k6 percentile"),
    pytest.param('metrics."http_req_duration{expected_response:true}".avg', 118.2,
                 id="a quoted key with dots and braces"),
    pytest.param("metrics.http_req_failed.value", 0.002, id="a k6 rate"),
    pytest.param("metrics.http_reqs.count", 1000.0, id="a k6 counter"),
])
def test_k6_summary_values_by_path(k6: str, path: str, expected: float) -> None:
    assert value(measure("file", {"path": k6}, path)) == expected


def test_pytest_json_report_values(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(PYTEST_REPORT))
    fetched = fetch_all(build("file", {"path": str(report)}), "exitcode", "summary.passed",
                        "duration", "tests.0.call.duration")
    assert [value(f) for f in fetched] == [0.0, 48.0, 12.34, 0.41]
    with pytest.raises(SourceError, match=r"no summary\.failed: summary has no key 'failed'$"):
        measure("file", {"path": str(report)}, "summary.failed")


def test_yaml_evidence(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text("rollout:\n  updated: 4\n  desired: 4\n  complete: true\n")
    fetched = fetch_all(build("file", {"path": str(path)}), "rollout.updated",
                        "rollout.complete")
    assert [value(f) for f in fetched] == [4.0, 1.0]


def test_the_evidence_records_the_file_and_its_digest(k6: str) -> None:
    fetched = measure("file", {"path": k6}, "metrics.http_reqs.count")
    evidence = fetched.evidence
    assert evidence["sha256"] == hashlib.sha256(Path(k6).read_bytes()).hexdigest()
    assert evidence["path"] == os.path.abspath(k6)
    assert evidence["format"] == "json"
    assert evidence["value"] == 1000.0
    assert fetched.measurements == {}


def test_null_is_no_data(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"p99": null}')
    fetched = measure("file", {"path": str(path)}, "p99")
    assert fetched.series == ()


# A file source's errors name the path and what was expected, never what the file
# holds: a policy may point it at a file of secrets (see test_hostile.py).
@pytest.mark.parametrize(("path", "message"), [
    pytest.param("metrics.http_req_duration.p(99)", r"no metrics\.http_req_duration\.p\(99\): "
                 r"metrics\.http_req_duration has no key 'p\(99\)'$",
                 id="a missing key is named, not the keys there"),
    pytest.param("metrics.http_reqs", r"metrics\.http_reqs is a mapping, not a number; name a "
                 r"key under it$", id="a mapping is not a value"),
    pytest.param("root_group.groups.0", r"root_group\.groups is a list of 0",
                 id="an index past the end"),
    pytest.param("root_group.name", r"root_group\.name is a string, not a number$",
                 id="text is not a number, and is not quoted"),
    pytest.param('metrics."open', "unclosed double quote", id="a malformed path"),
])
def test_paths_that_lead_nowhere_say_where_and_not_what_is_there(k6: str, path: str,
                                                                 message: str) -> None:
    with pytest.raises(SourceError, match=message):
        measure("file", {"path": k6}, path)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot read: No such file or directory"):
        measure("file", {"path": str(tmp_path / "absent.json")}, "x")


def test_a_file_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("<html>not json</html>")
    with pytest.raises(SourceError, match="not valid JSON"):
        measure("file", {"path": str(path)}, "x")


def test_evidence_older_than_max_age_is_refused(k6: str) -> None:
    an_hour_ago = time.time() - 3600
    os.utime(k6, (an_hour_ago, an_hour_ago))
    assert value(measure("file", {"path": k6, "max_age": "2h"}, "metrics.http_reqs.count"))
    with pytest.raises(SourceError, match="max_age allows 1,800 s"):
        measure("file", {"path": k6, "max_age": "30m"}, "metrics.http_reqs.count")


def test_the_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "evidence.txt"
    path.write_text("a: 1\n")
    assert value(measure("file", {"path": str(path), "format": "yaml"}, "a")) == 1.0


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({}, "path is required", id="no path"),
    pytest.param({"path": "x.json", "format": "xml"}, "format must be one of auto, json, yaml",
                 id="an unknown format"),
])
def test_impossible_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FileSource.from_settings("evidence", settings)


def test_a_nan_in_evidence_stays_nan(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"v": NaN}')
    assert math.isnan(value(measure("file", {"path": str(path)}, "v")) or 0.0)

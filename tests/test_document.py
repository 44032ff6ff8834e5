"""The typed results document (gacert.document) agrees with the results schema, and
reading results back checks them against it.

The TypedDicts are what mypy holds every reader to; the schema is what a file
is held to. A key the schema requires must be required in the type, a key it
leaves optional must be NotRequired, and the type may list no key the schema
does not know beyond the few that runs write ahead of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NotRequired, get_origin, get_type_hints

import pytest
from sample_results import RESULTS_SCHEMA, sample_results

from gacert import document as types
from gacert.engine.results import read_results, write_results
from gacert.errors import OutputError

DEFS = RESULTS_SCHEMA["$defs"]
PROPERTIES = RESULTS_SCHEMA["properties"]
# Each TypedDict and the schema object it types.
PARTS: list[tuple[Any, dict[str, Any]]] = [
    (types.ResultsDocument, RESULTS_SCHEMA),
    (types.PolicyDocument, PROPERTIES["policy"]),
    (types.WindowDocument, PROPERTIES["window"]),
    (types.SourceDocument, PROPERTIES["sources"]["items"]),
    (types.TimingsDocument, PROPERTIES["timings"]),
    (types.SummaryDocument, PROPERTIES["summary"]),
    (types.SectionDocument, PROPERTIES["sections"]["items"]),
    (types.CheckDocument, DEFS["check"]),
    (types.SeriesDocument, DEFS["series"]),
    (types.RegradeDocument, PROPERTIES["regrade"]),
    (types.OriginDocument, PROPERTIES["regrade"]["properties"]["origin"]),
    (types.OriginPolicyDocument,
     PROPERTIES["regrade"]["properties"]["origin"]["properties"]["policy"]),
    (types.RegradeSummaryDocument, PROPERTIES["regrade"]["properties"]["summary"]),
    (types.ChangeDocument, PROPERTIES["regrade"]["properties"]["changes"]["items"]),
    (types.CheckStateDocument,
     PROPERTIES["regrade"]["properties"]["changes"]["items"]["properties"]["old"]),
    (types.FieldChangeDocument,
     PROPERTIES["regrade"]["properties"]["changes"]["items"]["properties"]["changes"]["items"]),
]
# Keys a run writes that the schema does not list (yet): readers ignore unknown keys.
AHEAD_OF_THE_SCHEMA = {
    "PolicyDocument": {"description", "labels", "report_title"},
}


def _keys(typed: Any) -> tuple[set[str], set[str]]:
    """(required, optional) keys of a TypedDict, read from its annotations: Python
    3.11 cannot see NotRequired in the string annotations of __required_keys__."""
    hints = get_type_hints(typed, include_extras=True)
    optional = {key for key, hint in hints.items() if get_origin(hint) is NotRequired}
    return set(hints) - optional, optional


@pytest.mark.parametrize(("typed", "schema"), PARTS, ids=[t.__name__ for t, _ in PARTS])
def test_a_key_is_required_in_the_type_exactly_when_the_schema_requires_it(
        typed: Any, schema: dict[str, Any]) -> None:
    required, _ = _keys(typed)
    assert required == set(schema["required"])


@pytest.mark.parametrize(("typed", "schema"), PARTS, ids=[t.__name__ for t, _ in PARTS])
def test_the_type_names_every_key_of_the_schema_and_no_other(
        typed: Any, schema: dict[str, Any]) -> None:
    required, optional = _keys(typed)
    known = set(schema["properties"])
    assert known <= required | optional
    assert (required | optional) - known <= AHEAD_OF_THE_SCHEMA.get(typed.__name__, set())


def test_results_read_back_are_the_results_written(tmp_path: Path) -> None:
    written = sample_results()
    path = str(tmp_path / "results.json")
    write_results(path, written)
    assert read_results(path) == json.loads(json.dumps(written))


def test_reading_results_that_break_the_schema_names_the_file_and_the_place(
        tmp_path: Path) -> None:
    document = json.loads(json.dumps(sample_results()))
    document["checks"][2]["status"] = "ok"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    with pytest.raises(OutputError, match=r"results\.json: not a gacert results document: "
                                          r"at checks/2/status: 'ok' is not one of"):
        read_results(str(path))


def test_reading_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(OutputError, match=r"results\.json: cannot read results"):
        read_results(str(path))

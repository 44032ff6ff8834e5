"""The published policy schema, what editors do with it, and the validator agree.

- `schemas/policy.schema.json` is a valid Draft 2020-12 schema, and it is the
  very file `gacert validate` checks against;
- the fast check (`gacert.policy.quickschema`) gives jsonschema's verdict on the
  corpus, the shipped policies and random mutations, and knows every keyword
  the schema uses, so that a valid file never needs jsonschema;
- check-jsonschema, as an editor or a CI job would run it on the published
  file, passes the shipped policies and fails the corpus' schema cases;
- every field has a title, a description and examples, for completion and
  hover text; the shipped policies name the schema on their first line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from policy_mutations import VALID_DATA, data_mutation

from gacert.policy import quickschema
from gacert.policy.load import policy_schema
from gacert.policy.yamlsource import YamlLoadError, load_yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schemas" / "policy.schema.json"
# Policy tests (NAME.tests.yaml) sit beside the policies and have a schema of their own.
POLICIES = sorted(p for p in (ROOT / "policies").glob("*.yaml")
                  if not p.name.endswith(".tests.yaml"))
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def jsonschema_valid(instance: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(policy_schema()).is_valid(instance))


def loaded(path: Path) -> Any:
    try:
        return load_yaml(path.read_bytes(), str(path)).data
    except YamlLoadError:
        return None


# --- one schema -------------------------------------------------------------------------


def test_the_published_schema_is_the_one_the_validator_uses() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert policy_schema() == published
    jsonschema.Draft202012Validator.check_schema(published)


def test_the_fast_check_knows_every_keyword_of_the_schema() -> None:
    assert quickschema.unsupported_keywords(policy_schema()) == set()


# --- the fast check gives jsonschema's verdict --------------------------------------------

# The files that load as YAML documents (the others never reach the schema).
DOCUMENTS = [pytest.param(p, id=p.name) for p in [*POLICIES, *CORPUS] if loaded(p) is not None]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_the_fast_check_agrees_with_jsonschema_on_files(path: Path) -> None:
    data = loaded(path)
    assert quickschema.is_valid(policy_schema(), data) == jsonschema_valid(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_mutation())
def test_the_fast_check_agrees_with_jsonschema_on_mutations(data: Any) -> None:
    assert quickschema.is_valid(policy_schema(), data) == jsonschema_valid(data)


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        pytest.param({"type": "integer"}, 1.0, True, id="1.0 is an integer, as in jsonschema"),
        pytest.param({"type": "integer"}, True, False, id="true is not an integer"),
        pytest.param({"const": 1}, True, False, id="true is not the constant 1"),
        pytest.param({"enum": [1, "a"]}, 1.0, True, id="1.0 equals 1"),
        pytest.param({"uniqueItems": True}, [1, True], True, id="1 and true are distinct"),
        pytest.param({"uniqueItems": True}, [1, 1.0], False, id="1 and 1.0 are not"),
        pytest.param({"minimum": 0}, float("nan"), True, id="NaN passes minimum in jsonschema"),
        pytest.param({"pattern": "b"}, "abc", True, id="a pattern matches anywhere"),
        pytest.param({"format": "email"}, "x", True, id="format is an annotation"),
        pytest.param({"if": {"const": 1}, "then": False, "else": True}, 1, False,
                     id="if and then"),
    ],
)
def test_the_fast_check_follows_jsonschema_on_edge_cases(schema: dict[str, Any], instance: Any,
                                                          expected: bool) -> None:
    assert quickschema.is_valid(schema, instance) is expected
    assert jsonschema.Draft202012Validator(schema).is_valid(instance) is expected


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"multipleOf": 2}, id="a keyword it does not implement"),
        pytest.param({"$ref": "https://example.com/other.json"}, id="a remote reference"),
        pytest.param({"prefixItems": [True], "items": False}, id="prefixItems"),
    ],
)
def test_the_fast_check_says_it_cannot_tell_rather_than_guess(schema: dict[str, Any]) -> None:
    assert quickschema.is_valid(schema, [1, 2]) is None


# --- what editors and CI see --------------------------------------------------------------


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(tool), "--schemafile", str(SCHEMA_FILE), *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_check_jsonschema_passes_the_shipped_policies() -> None:
    proc = check_jsonschema(*POLICIES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_fails_each_schema_case_of_the_corpus() -> None:
    cases = [p for p in CORPUS if p.name.startswith(("type-", "key-"))]
    proc = check_jsonschema(*cases)
    assert proc.returncode == 1
    failed = {line.split("::")[0].strip() for line in proc.stdout.splitlines() if "::" in line}
    assert {str(p) for p in cases} <= failed, proc.stdout


def test_the_shipped_policies_name_the_schema_for_editors() -> None:
    for policy in POLICIES:
        first = policy.read_text(encoding="utf-8").split("\n", 1)[0]
        match = MODELINE.match(first)
        assert match, f"{policy.name} does not start with the yaml-language-server line"
        assert (policy.parent / match.group(1)).resolve() == SCHEMA_FILE


def fields(schema: dict[str, Any], path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field of the policy language: properties, map values and list items."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from fields(resolve(sub), f"{path}.{name}")
    for key, suffix in (("additionalProperties", ".*"), ("items", "[]")):
        sub = schema.get(key)
        if isinstance(sub, dict):
            yield f"{path}{suffix}", sub
            yield from fields(resolve(sub), f"{path}{suffix}")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from fields(resolve(sub), path)
    for key in ("then", "else"):
        if isinstance(schema.get(key), dict):
            yield from fields(resolve(schema[key]), path)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = policy_schema()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def test_every_field_has_a_title_a_description_and_examples() -> None:
    lacking = []
    for path, schema in fields(policy_schema()):
        full = resolve(schema)
        # An enum or a const already lists the values an editor offers.
        wanted = ["title", "description"] + ([] if {"enum", "const"} & full.keys()
                                             else ["examples"])
        lacking += [f"{path}: {key}" for key in wanted if key not in full]
    assert lacking == []


def test_the_schema_examples_are_valid_values() -> None:
    definitions = policy_schema()["$defs"]
    for path, schema in fields(policy_schema()):
        full = {**resolve(schema), "$defs": definitions}
        for example in full.get("examples", []):
            assert jsonschema.Draft202012Validator(full).is_valid(example), (path, example)


def test_the_base_of_the_mutations_is_a_valid_policy() -> None:
    assert jsonschema_valid(VALID_DATA)
    assert yaml.safe_dump(VALID_DATA)

"""Random mutations of a valid policy never crash the validator.

Whatever the text, `gacert validate` answers with located problems: it
never raises, a file it refuses has at least one error, a file it accepts
has none, and the command exits 0 or 2, never with a traceback.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_mutations import VALID_POLICY, data_mutation, dump, text_mutation

from gacert.cli.main import cli
from gacert.errors import Problem
from gacert.model import Policy
from gacert.policy.load import check_policy_bytes

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_well_formed(policy: Policy | None, problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    assert (policy is None) == bool(errors)
    for problem in problems:
        assert problem.severity in ("error", "warning")
        assert problem.message
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.format().startswith(f"fuzz.yaml:{problem.line}:{problem.column}: ")
    assert [(p.line, p.column) for p in problems] == sorted((p.line, p.column) for p in problems)


def test_the_base_policy_is_valid() -> None:
    policy, problems = check_policy_bytes(VALID_POLICY.encode(), "fuzz.yaml")
    assert problems == []
    assert policy is not None


@FUZZ
@given(text_mutation())
def test_text_mutations_never_crash(raw: bytes) -> None:
    assert_well_formed(*check_policy_bytes(raw, "fuzz.yaml"))


@FUZZ
@given(data_mutation())
def test_data_mutations_never_crash(data: Any) -> None:
    assert_well_formed(*check_policy_bytes(dump(data), "fuzz.yaml"))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(raw: bytes) -> None:
    assert_well_formed(*check_policy_bytes(raw, "fuzz.yaml"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(text_mutation(), data_mutation().map(dump)))
def test_the_command_exits_0_or_2_without_a_traceback(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.yaml"
        path.write_bytes(raw)
        result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.output

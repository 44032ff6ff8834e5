"""Policy test outcomes on the terminal (`gacert test`): a line per file, and for
each failing test what was expected, what the policy gave, why, and its input."""

from __future__ import annotations

import click

from gacert.cli.status import status_label
from gacert.engine.policytest import FileOutcome, TestOutcome


def print_file_outcome(outcome: FileOutcome, *, quiet: bool, verbose: bool) -> None:
    path = outcome.file.path
    for test in outcome.tests:
        if not test.passed:
            _print_failure(path, test)
        elif verbose:
            click.echo(f"{status_label('pass', 4)} {path}:{test.test.line}: {test.test.name}")
    total, failed = len(outcome.tests), outcome.failed
    if failed:
        click.secho(f"{path}: {failed} of {total} tests failed (policy {outcome.file.policy.path})",
                    fg="red", bold=True)
    elif not quiet:
        click.echo(f"{path}: {total} tests passed (policy {outcome.file.policy.path})")


def _print_failure(path: str, outcome: TestOutcome) -> None:
    click.echo(f"{status_label('fail', 4)} {path}:{outcome.test.line}: {outcome.test.name}")
    for mismatch in outcome.mismatches:
        click.echo(f"  {mismatch.what}: expected {_label(mismatch.expected)}, "
                   f"got {_label(mismatch.got)}")
        click.echo(f"    {mismatch.reason}")
        for line in mismatch.inputs:
            click.echo(f"    {line}")


def _label(status: str) -> str:
    return click.style(status.upper(), bold=True)

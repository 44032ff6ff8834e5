"""Policy diffs and re-grade changes on the terminal (`gacert diff`, `gacert regrade`).

Both read the JSON forms (`gacert.policy.diff.diff_document`, the rows of
`gacert.engine.regrade.change_document`), so that text, Markdown and JSON
show the same data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from gacert.cli.status import status_label
from gacert.formatting import format_value


def _side(state: Mapping[str, Any], change: Mapping[str, Any], absent: str) -> str:
    if state["status"] is None:
        return absent.ljust(24)
    value = format_value(state["value"], change["unit"], change["precision"])
    return f"{status_label(state['status'])} {value:>17}"


def _value(text: str | None, absent: str) -> str:
    return absent if text is None else text


def _fields(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{c['field']}: {_value(c['old'], '(none)')} -> {_value(c['new'], '(none)')}"
            for c in changes]


def print_changes(changes: Sequence[Mapping[str, Any]], old_status: str, new_status: str
                  ) -> None:
    """A table of the checks that changed: before, after, and what changed."""
    click.echo(f"verdict: {status_label(old_status, 0)} -> {status_label(new_status, 0)}")
    if not changes:
        click.echo("  no check changed status, value or the way it is judged")
        return
    click.echo(f"  {'check':<28} {'before':<24} {'after':<24} what changed")
    for change in changes:
        mark = "*" if change["flipped"] else " "
        notes = ([f"not re-gradable: {change['note']}"] if not change["regradable"]
                 else [change["note"]] if change["note"] else []) + _fields(change["changes"])
        click.echo(f"{mark} {change['check']:<28} {_side(change['old'], change, 'not in results')}"
                   f" {_side(change['new'], change, 'removed')} {(notes or [''])[0]}")
        for note in notes[1:]:
            click.echo(" " * 81 + note)
    flipped = sum(1 for c in changes if c["flipped"])
    click.echo(f"  * status changed: {flipped} of {len(changes)} checks listed")


def print_policy_diff(diff: Mapping[str, Any]) -> None:
    """Params, sources and checks that differ between two policies."""
    click.echo(f"--- {diff['old']}\n+++ {diff['new']}")
    if diff["empty"]:
        click.echo("no change to params, sources, checks or the report")
    for title, key in (("policy", "policy"), ("params", "params"), ("sources", "sources")):
        if diff[key]:
            click.echo(f"{title}:")
            for c in diff[key]:
                sign = "+" if c["old"] is None else "-" if c["new"] is None else "~"
                click.echo(f"  {sign} {c['field']}: {_value(c['old'], '(none)')} -> "
                           f"{_value(c['new'], '(none)')}")
    if diff["added_checks"] or diff["removed_checks"] or diff["changed_checks"]:
        click.echo("checks:")
    for check_id in diff["added_checks"]:
        click.echo(f"  + {check_id}")
    for check_id in diff["removed_checks"]:
        click.echo(f"  - {check_id}")
    for check in diff["changed_checks"]:
        click.echo(f"  ~ {check['id']}")
        for line in _fields(check["changes"]):
            click.echo(f"      {line}")


def print_evidence(evidence: Mapping[str, Any]) -> None:
    """What the change does to stored evidence, judged by both policies."""
    window = evidence["window"]
    click.echo(f"on the evidence of {evidence['path']} ({window['start']} -> {window['end']}):")
    print_changes(evidence["changes"], evidence["old_status"], evidence["new_status"])


"""What a person sees on the terminal: a progress line, the summary, the plan,
the package written and the outcome of a verification."""

from __future__ import annotations

import json
import os
import sys

import click

from gacert.cli.status import status_label
from gacert.document import CheckDocument
from gacert.engine.plan import Plan
from gacert.engine.results import STATUSES
from gacert.formatting import format_value
from gacert.model import Outcome, Policy
from gacert.package.build import Package
from gacert.package.verify import Verification
from gacert.policy.variables import format_param
from gacert.publish.summary import RunSummary
from gacert.report.reportdata import coverage_detail, coverage_text, override_origin
from gacert.run import RunOutput
from gacert.timestamps import format_timestamp


class Progress:
    """A live "fetched 12/40" line on a terminal; silent in CI and when piped."""

    def __init__(self, *, enabled: bool) -> None:
        # A terminal gets a live line; CI logs and pipes would only collect noise.
        self.enabled = enabled and sys.stderr.isatty() and not os.environ.get("CI")
        self.done = 0

    def update(self, check_id: str, outcome: Outcome) -> None:
        self.done += 1
        if self.enabled:
            sys.stderr.write(f"\r\x1b[Kfetched {self.done} checks (last: {check_id})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def print_summary(result: RunOutput, *, quiet: bool, verbose: bool) -> None:
    doc = result.document
    if not quiet:
        window = doc["window"]
        click.echo(f"{doc['policy']['name']}: {window['start']} -> {window['end']}")
        for check in doc["checks"]:
            _print_check(check, verbose)
    summary = doc["summary"]
    counts = ", ".join(f"{summary.get(s, 0)} {s.replace('_', ' ')}" for s in STATUSES
                       if summary.get(s, 0))
    overrides = doc.get("overrides") or []
    for override in overrides:
        click.secho(f"override: {override['name']} = {override['value']} (committed "
                    f"{'none' if override['default'] is None else override['default']}), "
                    f"{override_origin(override)}", fg="yellow")
    flag = f"; {len(overrides)} value{'s' if len(overrides) > 1 else ''} overridden at run " \
        "time" if overrides else ""
    click.echo(f"verdict: {status_label(doc['status'], 0)} ({counts}; "
               f"{summary['gate']} of {summary['total']} checks gate{flag})")
    if not quiet:
        click.echo(f"results: {result.results_path}")
        if result.package is not None:
            print_package(result.package)


def print_json(summary: RunSummary) -> None:
    """The stable JSON of `--format json`, alone on standard output."""
    click.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.0f} KiB"


def print_package(package: Package) -> None:
    """The package's files with their sizes, the PDF status and the tarball."""
    total = sum(f.size for f in package.files)
    click.echo(f"package: {package.directory} ({len(package.files)} files and "
               f"MANIFEST.sha256, {_size(total)})")
    for file in package.files:
        click.echo(f"         {file.name:<40} {_size(file.size):>14}")
    pdf = package.pdf
    if pdf.written:
        click.echo(f"pdf:     {pdf.describe()}")
    else:
        click.secho(f"pdf:     {pdf.describe()}", fg="yellow")
    if package.tarball is not None and package.tarball_size is not None:
        click.echo(f"tarball: {package.tarball} ({_size(package.tarball_size)})")
    else:
        click.echo("tarball: not written (--certify-only)")


def print_verification(result: Verification, *, quiet: bool) -> None:
    """Each problem found, then one line saying whether the package verifies."""
    for finding in result.findings:
        click.secho(finding.format(), fg="red")
    if result.ok:
        if not quiet:
            click.echo(f"{result.source}: OK, all {result.checked} files match MANIFEST.sha256")
    else:
        click.secho(f"{result.source}: FAILED, {len(result.findings)} problems", fg="red",
                    bold=True)


def _print_check(check: CheckDocument, verbose: bool) -> None:
    value = format_value(check["value"], check["unit"], check["precision"])
    gate = "" if check["gate"] else "  (informational)"
    coverage = check.get("coverage")
    evidence = f"  evidence {coverage_text(check)}" \
        if coverage is not None and coverage["share"] is not None else ""
    line = f"  {status_label(check['status'])} {check['id']:<28} {value:>16}{evidence}{gate}"
    click.echo(line)
    if check["status"] not in ("pass",) or verbose:
        click.echo(f"         {check['reason']}")
    if verbose:
        # The schema allows a null query (a source without one); runs write "".
        click.echo(f"         query: {' '.join((check['query'] or '').split())}")
        if coverage is not None:
            click.echo(f"         coverage: {coverage_detail(check)}")


def print_plan(policy: Policy, plan: Plan) -> None:
    window = plan.window
    click.echo(f"policy: {policy.name} ({policy.path}, sha256 {policy.sha256[:12]})")
    click.echo(f"window: {format_timestamp(window.start)} -> {format_timestamp(window.end)} "
               f"(step {window.step_seconds:g}s)")
    for name, value in plan.params.items():
        click.echo(f"param  {name} = {format_param(value)}")
    for planned in plan.checks:
        check = planned.check
        kind = check.mode + (f", {check.over_time} over time" if check.over_time else "")
        click.echo(f"\n{check.id} [{check.source}; {kind}; series: {check.series}"
                   f"{'' if check.gate else '; informational'}]")
        click.echo(f"  {planned.query.text}")
        coverage = planned.coverage
        if coverage is not None:
            query = f": {coverage.query.text}" if coverage.query is not None else ""
            click.echo(f"  coverage {coverage.note}{query}")

"""What a person sees on the terminal: a progress line, the summary, the plan,
the package written and the outcome of a verification."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from gacert.cli.status import LABELS, status_label
from gacert.engine.results import STATUSES
from gacert.engine.waivers import is_waived, waiver_sentence
from gacert.formatting import baseline_text, format_value
from gacert.policy.variables import format_param
from gacert.redact import printable
from gacert.report.reportdata import coverage_detail, coverage_text, override_origin
from gacert.timestamps import format_timestamp

# Types only: each command imports the stages it runs, and no more.
if TYPE_CHECKING:
    from gacert.document import CheckDocument, NotificationDocument, ResultsDocument
    from gacert.engine.plan import Plan
    from gacert.model import Outcome, Policy
    from gacert.package.build import Package
    from gacert.package.verify import Verification
    from gacert.publish.notify import Delivery
    from gacert.publish.summary import RunSummary
    from gacert.run import RunOutput
    from gacert.watch import SnapshotReport, WatchOutput
    from gacert.watchstate import WatchState


class Progress:
    """A live "fetched 12/40" line on a terminal; silent in CI and when piped."""

    def __init__(self, *, enabled: bool) -> None:
        # A terminal gets a live line; CI logs and pipes would only collect noise.
        self.enabled = enabled and sys.stderr.isatty() and not os.environ.get("CI")
        self.done = 0

    def update(self, check_id: str, outcome: Outcome) -> None:
        self.done += 1
        if self.enabled:
            sys.stderr.write(f"\r\x1b[Kfetched {self.done} checks (last: {_shown(check_id)})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _shown(text: object) -> str:
    """Data on one terminal line: secrets redacted, control characters and line breaks
    as escapes, so that a label value can neither clear the screen nor print a fake
    verdict."""
    return printable(str(text), one_line=True)


def print_summary(result: RunOutput, *, quiet: bool, verbose: bool) -> None:
    doc = result.document
    if not quiet:
        window = doc["window"]
        click.echo(_shown(f"{doc['policy']['name']}: {window['start']} -> {window['end']}"))
        for check in doc["checks"]:
            _print_check(check, verbose)
    summary = doc["summary"]
    counts = ", ".join(f"{summary.get(s, 0)} {s.replace('_', ' ')}" for s in STATUSES
                       if summary.get(s, 0))
    overrides = doc.get("overrides") or []
    for override in overrides:
        committed = "none" if override["default"] is None else override["default"]
        click.secho(_shown(f"override: {override['name']} = {override['value']} (committed "
                           f"{committed}), {override_origin(override)}"), fg="yellow")
    flag = f"; {len(overrides)} value{'s' if len(overrides) > 1 else ''} overridden at run " \
        "time" if overrides else ""
    print_waivers(doc)
    print_baseline(doc)
    if summary.get("waived"):
        flag += f"; {summary.get('waived')} waived"
    click.echo(f"verdict: {status_label(doc['status'], 0)} ({_shown(counts)}; "
               f"{summary['gate']} of {summary['total']} checks gate{flag})")
    print_score(doc)
    print_notifications(doc.get("notifications") or [])
    if not quiet:
        click.echo(f"results: {_shown(result.results_path)}")
        if result.package is not None:
            print_package(result.package)


def print_waivers(doc: ResultsDocument) -> None:
    """One line per waiver: what it waives, why, who approved it, until when; an
    expired one in red, since its check gates again."""
    for check in doc["checks"]:
        waiver = check.get("waiver")
        if waiver is not None:
            click.secho(_shown(f"waiver: {check['id']} {waiver_sentence(waiver)}"),
                        fg="yellow" if waiver["in_force"] else "red")


def print_baseline(doc: ResultsDocument) -> None:
    """Which previous run the checks were compared with, and whether it was verified."""
    baseline = doc.get("baseline")
    if baseline is None:
        return
    verified = "package verified" if baseline["manifest_sha256"] else \
        "a results.json, not verified"
    click.echo(_shown(f"baseline: {baseline['path']} ({baseline['policy']}, "
                      f"{baseline['window']['start']} -> {baseline['window']['end']}, verdict "
                      f"{baseline['status']}; {verified})"))


def print_score(doc: ResultsDocument) -> None:
    """The optional score, said to be beside the verdict, not part of it."""
    score = doc.get("score")
    if score is None or score["value"] is None or score["status"] is None:
        return
    click.echo(f"score:   {score['value']:.1f} % {LABELS[score['status']]} (pass at "
               f"{score['pass_at']:g} %, warn at {score['warn_at']:g} %; beside the verdict, "
               "never changing it)")


def print_notifications(notifications: list[NotificationDocument]) -> None:
    """One line per notification; a failed one in red (it never changes the verdict)."""
    for sent in notifications:
        what = f"{sent['event']} to {sent['target']} {sent['endpoint']}"
        if sent["delivered"]:
            click.echo(f"notified: {what}")
        else:
            click.secho(f"notification failed: {what}: {sent['error']} "
                        f"({sent['attempts']} attempts)", fg="red")


def print_notes(notes: list[str]) -> None:
    for note in notes:
        click.secho(f"note: {note}", fg="yellow", err=True)


class WatchLine:
    """The watch's progress: a live line on a terminal that keeps a line for each
    change; one quiet line per snapshot in CI and pipes."""

    def __init__(self, state: WatchState, *, quiet: bool) -> None:
        self.live = sys.stdout.isatty() and not os.environ.get("CI") and not quiet
        self.state = state
        self.open = False
        if not quiet:
            click.echo(f"watching {format_timestamp(state.start)} -> "
                       f"{format_timestamp(state.end)} every "
                       f"{state.interval_seconds:g} s (window time)"
                       + (f", {state.clock.speed:g}x replay" if state.clock.speed != 1 else "")
                       + (f"; resuming after snapshot {state.last_number}"
                          if state.last_number else ""))

    def snapshot(self, report: SnapshotReport) -> None:
        changes = [f"{c['check']} {c['before']}->{c['after']}" for c in report.changes
                   if c["before"] is not None]
        told = [_told(d) for d in report.deliveries]
        was = report.before
        line = (f"[{report.share:4.0%}] snapshot {report.number:04d} at {report.at} "
                f"{LABELS[report.status]}"
                + (f" (was {LABELS[was]})" if was is not None and was != report.status else ""))
        detail = "; ".join(part for part in (", ".join(changes), "; ".join(told)) if part)
        text = line + (f": {detail}" if detail else "") + (" (final)" if report.final else "")
        if not self.live:
            click.echo(text)
            return
        keep = bool(detail) or report.final
        sys.stdout.write("\r\x1b[K" + text + ("\n" if keep else ""))
        sys.stdout.flush()
        self.open = not keep

    def close(self) -> None:
        if self.live and self.open:
            sys.stdout.write("\n")
            sys.stdout.flush()


def _told(delivery: Delivery) -> str:
    if delivery.delivered:
        return f"notified {delivery.target} ({delivery.event})"
    return f"notifying {delivery.target} failed: {delivery.error}"


def print_watch_end(result: WatchOutput, *, quiet: bool) -> None:
    """The certification at the end of a watch: the summary as `gacert run` prints it,
    and how much of the window the probes covered."""
    document = result.document
    assert document is not None
    if result.results_path is not None:
        from gacert.run import RunOutput

        print_summary(RunOutput(document, result.results_path, result.package), quiet=quiet,
                      verbose=False)
    _print_coverage(document)


def _print_coverage(document: ResultsDocument) -> None:
    watched = document.get("watch")
    if watched is None:
        return
    cover = watched["coverage"]
    share = cover.get("share")
    shown = "N/A" if share is None else f"{share:.1%}"
    click.echo(f"watch: {len(watched['snapshots'])} snapshots; probe coverage {shown} of the "
               f"window" + (" (aborted on fail)" if watched["aborted"] else ""))
    for gap in cover["gaps"]:
        click.secho(f"  gap {gap['start']} -> {gap['end']} ({gap['seconds']:g} s): {gap['why']}",
                    fg="yellow")


def print_json(summary: RunSummary) -> None:
    """The stable JSON of `--format json`, alone on standard output."""
    click.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.0f} KiB"


def print_package(package: Package) -> None:
    """The package's files with their sizes, the PDF status and the tarball."""
    total = sum(f.size for f in package.files)
    click.echo(f"package: {_shown(package.directory)} ({len(package.files)} files and "
               f"MANIFEST.sha256, {_size(total)})")
    for file in package.files:
        click.echo(f"         {_shown(file.name):<40} {_size(file.size):>14}")
    pdf = package.pdf
    if pdf.written:
        click.echo(f"pdf:     {pdf.describe()}")
    else:
        click.secho(f"pdf:     {pdf.describe()}", fg="yellow")
    if package.tarball is not None and package.tarball_size is not None:
        click.echo(f"tarball: {_shown(package.tarball)} ({_size(package.tarball_size)})")
    else:
        click.echo("tarball: not written (--certify-only)")


def print_verification(result: Verification, *, quiet: bool) -> None:
    """Each problem found, then one line saying whether the package verifies."""
    for finding in result.findings:
        click.secho(_shown(finding.format()), fg="red")
    if result.ok:
        if not quiet:
            click.echo(f"{_shown(result.source)}: OK, all {result.checked} files match "
                       "MANIFEST.sha256")
    else:
        click.secho(f"{_shown(result.source)}: FAILED, {len(result.findings)} problems",
                    fg="red", bold=True)


def _print_check(check: CheckDocument, verbose: bool) -> None:
    value = format_value(check["value"], check["unit"], check["precision"])
    gate = "" if check["gate"] else "  (informational)"
    if is_waived(check):
        gate += "  (waived)"
    coverage = check.get("coverage")
    evidence = f"  evidence {coverage_text(check)}" \
        if coverage is not None and coverage["share"] is not None else ""
    line = (f"  {status_label(check['status'])} {_shown(check['id']):<28} "
            f"{_shown(value):>16}{evidence}{gate}")
    click.echo(line)
    compared = check.get("baseline")
    if compared is not None and (compared["value"] is not None or verbose):
        click.echo(f"         {_shown(baseline_text(compared, check['unit'], check['precision']))}")
    if check["status"] not in ("pass",) or verbose:
        click.echo(f"         {_shown(check['reason'])}")
    if verbose:
        # The schema allows a null query (a source without one); runs write "".
        click.echo(f"         query: {_shown(' '.join((check['query'] or '').split()))}")
        if coverage is not None:
            click.echo(f"         coverage: {coverage_detail(check)}")


def print_plan(policy: Policy, plan: Plan) -> None:
    window = plan.window
    click.echo(_shown(f"policy: {policy.name} ({policy.path}, sha256 {policy.sha256[:12]})"))
    click.echo(f"window: {format_timestamp(window.start)} -> {format_timestamp(window.end)} "
               f"(step {window.step_seconds:g}s)")
    for name, value in plan.params.items():
        click.echo(_shown(f"param  {name} = {format_param(value)}"))
    for planned in plan.checks:
        check = planned.check
        kind = check.mode + (f", {check.over_time} over time" if check.over_time else "")
        click.echo("\n" + _shown(f"{check.id} [{check.source}; {kind}; series: {check.series}"
                                 f"{'' if check.gate else '; informational'}]"))
        click.echo(f"  {printable(planned.query.text)}")
        coverage = planned.coverage
        if coverage is not None:
            query = f": {printable(coverage.query.text)}" if coverage.query is not None else ""
            click.echo(f"  coverage {coverage.note}{query}")

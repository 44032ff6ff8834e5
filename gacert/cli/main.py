"""The command line: parse options, call a stage, turn errors into exit codes.

Exit codes: 0 pass (and warn unless --fail-on warn), 1 fail, 2 usage error or
invalid policy, 3 could not evaluate (a source unreachable, a gate check in
error) or could not write the output. Errors become messages here and only
here; a bug prints one line and a hint instead of a traceback unless
GACERT_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from gacert import __version__
from gacert.errors import GacertError, OutputError, PolicyError, Problem, UsageError
from gacert.redact import printable

if TYPE_CHECKING:
    from gacert.cli.validation import FileReport
    from gacert.document import ResultsDocument
    from gacert.model import Policy
    from gacert.package.build import PackageOptions

EXIT_USAGE = 2
EXIT_COULD_NOT_EVALUATE = 3

window_options = [
    click.option("--start", metavar="RFC3339", help="Window start, e.g. 2025-01-15T00:00:00Z."),
    click.option("--end", metavar="RFC3339", help="Window end, e.g. 2025-01-16T00:00:00Z."),
    click.option("--duration", metavar="DURATION",
                 help="Window length, e.g. 24h; alone, the window ends now. "
                      "Default: the policy's window.duration."),
    click.option("--set", "overrides", metavar="NAME=VALUE", multiple=True,
                 help="Override a policy param; repeatable."),
]


package_options = [
    click.option("--include-artifacts", "artifacts", metavar="PATH...", multiple=True,
                 help="Add evidence made elsewhere (files or directories) under artifacts/ "
                      "in the package; takes every path up to the next option."),
    click.option("--certify-only", "--no-tarball", "certify_only", is_flag=True,
                 help="Write the package directory only, no .tar.gz."),
    click.option("--tarball", "tarball_path", metavar="PATH",
                 help="Where to write the .tar.gz. Default: DIR.tar.gz beside the package."),
    click.option("--no-pdf", is_flag=True, help="Do not print the PDF report, even when a "
                 "PDF engine is installed."),
    click.option("--allow-nonempty-output", "allow_nonempty", is_flag=True,
                 help="Write the package into --output even when it holds files that are "
                      "not a gacert package; gacert removes none of them."),
    click.option("--render-timeout", metavar="DURATION", default="30s", show_default=True,
                 help="Time allowed to render each report with a policy's own template."),
    click.option("--pdf-max-checks", type=click.IntRange(min=1), default=500,
                 show_default=True, metavar="N",
                 help="Print no PDF for a report of more checks (the HTML has them all)."),
]


publish_options = [
    click.option("--junit", "junit", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Also write JUnit XML to FILE: one testcase per check, for CI test "
                      "viewers."),
    click.option("--format", "output_format", type=click.Choice(["text", "json"]),
                 default="text", show_default=True,
                 help="text: for people; json: one stable JSON object on standard output "
                      "for CI systems (docs/ci.md)."),
]

# Commands that end with a verdict (run, regrade) exit with it.
verdict_options = [
    click.option("--fail-on", type=click.Choice(["fail", "warn"]), default="fail",
                 show_default=True, help="Exit 1 on a fail verdict only, or on warn too."),
    click.option("-q", "--quiet", is_flag=True, help="Print only errors and the verdict line."),
]


def exit_code(document: ResultsDocument, fail_on: str) -> int:
    """0 pass (or warn), 1 fail (or warn with --fail-on warn), 3 error."""
    if document["status"] == "warn" and fail_on == "warn":
        return 1
    return document.get("exit_code", EXIT_COULD_NOT_EVALUATE)


def _exit_with_verdict(document: ResultsDocument, fail_on: str) -> NoReturn:
    sys.exit(exit_code(document, fail_on))


def _package_options(artifacts: tuple[str, ...], certify_only: bool,
                     tarball_path: str | None, no_pdf: bool, allow_nonempty: bool,
                     render_timeout: str, pdf_max_checks: int,
                     policy_path: str | None = None) -> PackageOptions:
    from gacert.package.build import PackageOptions

    return PackageOptions(policy_path=policy_path, artifacts=artifacts,
                          tarball=not certify_only, tarball_path=tarball_path, pdf=not no_pdf,
                          allow_nonempty=allow_nonempty,
                          render_timeout=_seconds(render_timeout, "--render-timeout"),
                          pdf_max_checks=pdf_max_checks)


def _with_options(options: list[Callable[..., Any]]
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


_with_window_options = _with_options(window_options)
_baseline_option = click.option(
    "--baseline", metavar="PREVIOUS", type=click.Path(exists=True),
    help="The last release's results (a results.json, a package directory or its .tar.gz; "
         "a package must verify), which rules compare with as baseline.value. A rule that "
         "reads baseline.value without one is no_baseline: a failure, never a pass.")


def spread_artifacts(args: list[str]) -> list[str]:
    """`--include-artifacts A B` as `--include-artifacts A --include-artifacts B`.

    click options take one value each; this lets the option take every path up
    to the next option, as a shell glob gives them.
    """
    spread: list[str] = []
    greedy = taken = False
    for index, arg in enumerate(args):
        if arg == "--":
            return spread + args[index:]
        if greedy and not arg.startswith("-"):
            spread += [arg] if not taken else ["--include-artifacts", arg]
            taken = True
            continue
        greedy, taken = arg == "--include-artifacts", False
        spread.append(arg)
    return spread


class PackagingCommand(click.Command):
    """A command with package options, whose --include-artifacts takes several paths."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_artifacts(args))


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": 100})
@click.version_option(__version__, prog_name="gacert")
def cli() -> None:
    """Certify a release against its service levels, from a YAML policy.

    \b
    gacert run policies/ga.yaml --start 2025-01-15T00:00:00Z --end 2025-01-16T00:00:00Z
    gacert watch policies/ga.yaml --duration 24h --interval 5m -o ga-day/
    gacert validate policies/*.yaml
    gacert plan policies/ga.yaml --duration 24h
    gacert render out/results.json --output out2
    gacert verify out.tar.gz
    gacert diff old.yaml policies/ga.yaml --evidence out.tar.gz
    gacert regrade out.tar.gz --policy policies/ga.yaml -o regraded
    gacert test policies/ga.tests.yaml
    """


@cli.command(cls=PackagingCommand)
@click.argument("policy", type=click.Path(dir_okay=False))
@_with_window_options
@click.option("-o", "--output", default="gacert-out", show_default=True, metavar="DIR",
              help="The package directory: results.json, reports, policy, manifest.")
@_with_options(package_options)
@click.option("--keep-points", type=click.IntRange(min=0), metavar="N",
              help="Keep every sample of the worst N series of each range check in "
                   "results.json (the others keep value, status and summary). "
                   "Default: the policy's keep_points, else 5.")
@_baseline_option
@_with_options(publish_options)
@_with_options(verdict_options)
@click.option("-v", "--verbose", is_flag=True, help="Print every check with its query.")
def run(policy: str, start: str | None, end: str | None, duration: str | None,
        overrides: tuple[str, ...], output: str, artifacts: tuple[str, ...],
        certify_only: bool, tarball_path: str | None, no_pdf: bool, allow_nonempty: bool,
        render_timeout: str, pdf_max_checks: int, keep_points: int | None,
        baseline: str | None, junit: str | None, output_format: str,
        fail_on: str, quiet: bool, verbose: bool) -> None:
    """Evaluate POLICY over a window; write the certification package; exit with the verdict.

    The package directory (--output) gets results.json, the reports (report.md,
    GA_DAY_REPORT.md/.html/.pdf, EMAIL_SUMMARY.txt), the exact policy,
    certification_metadata.json and MANIFEST.sha256; DIR.tar.gz beside it
    holds the same files. Exit codes: 0 pass (or warn), 1 fail (or warn with
    --fail-on warn), 2 invalid policy or usage, 3 could not evaluate.

    In GitHub Actions (GITHUB_ACTIONS=true) it also writes the job summary
    ($GITHUB_STEP_SUMMARY), the step outputs ($GITHUB_OUTPUT: verdict,
    exit_code, failing_checks, package, tarball, report, results, junit) and
    an annotation at the policy line of each check that does not pass.
    """
    from gacert.cli.summary import Progress, print_json, print_summary
    from gacert.publish.outputs import PublishOptions, publish_outputs
    from gacert.publish.summary import RunSummary
    from gacert.run import RunOptions, execute

    package = _package_options(artifacts, certify_only, tarball_path, no_pdf, allow_nonempty,
                               render_timeout, pdf_max_checks)
    options = RunOptions(policy_path=policy, output_dir=output, start=start, end=end,
                         duration=duration, overrides=overrides, package=package,
                         keep_points=keep_points, baseline=baseline)
    progress = Progress(enabled=not quiet)
    try:
        result = execute(options, progress.update)
    finally:
        progress.close()
    code = exit_code(result.document, fail_on)
    package_dir = result.package.directory if result.package else output
    summary = RunSummary(result.document, code, result.results_path, package_dir,
                         result.package.tarball if result.package else None, junit)
    if output_format == "json":
        print_json(summary)
    else:
        print_summary(result, quiet=quiet, verbose=verbose)
    publish_outputs(summary, PublishOptions(junit=junit), os.environ,
                    sys.stderr if output_format == "json" else sys.stdout)
    sys.exit(code)


@cli.command(cls=PackagingCommand)
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--start", metavar="RFC3339", help="Window start; may be in the past (a window "
              "that began earlier). Default: now.")
@click.option("--end", "--until", "end", metavar="RFC3339",
              help="Window end (--until is the same): the watch certifies then.")
@click.option("--duration", metavar="DURATION", help="Window length, e.g. 24h; alone, the "
              "window starts now. Default: the policy's window.duration.")
@click.option("--interval", metavar="DURATION", help="Window time between snapshots, e.g. 5m. "
              "Default: 5m.")
@click.option("--set", "overrides", metavar="NAME=VALUE", multiple=True,
              help="Override a policy param; repeatable.")
@click.option("-o", "--output", required=True, metavar="DIR",
              help="Where snapshots/, watch-state.json and, at the end, package/ go. The same "
                   "DIR resumes a watch that stopped.")
@_with_options(package_options)
@click.option("--abort-on-fail", is_flag=True, help="Stop at the first snapshot whose verdict "
              "is fail, and certify with it.")
@click.option("--speed", type=float, metavar="FACTOR", help="Replay a window that has ended, "
              "FACTOR times faster than real time (demos, tests). Default: 1, live.")
@click.option("--fail-on", type=click.Choice(["fail", "warn"]), default="fail", show_default=True,
              help="Exit 1 on a fail verdict only, or on warn too.")
@_baseline_option
@click.option("-q", "--quiet", is_flag=True, help="One line per snapshot, then the verdict line.")
def watch(policy: str, start: str | None, end: str | None, duration: str | None,
          interval: str | None, overrides: tuple[str, ...], output: str,
          artifacts: tuple[str, ...], certify_only: bool, tarball_path: str | None,
          no_pdf: bool, allow_nonempty: bool, render_timeout: str, pdf_max_checks: int,
          abort_on_fail: bool, speed: float | None, fail_on: str, baseline: str | None,
          quiet: bool) -> None:
    """Judge POLICY every interval through a GA window, then write the certification package.

    \b
    gacert watch policies/ga.yaml --duration 24h --interval 5m -o ga-day/
    gacert watch policies/ga.yaml --start 2025-01-15T06:00:00Z --duration 24h -o ga-day/

    Every interval the window so far is evaluated and written to
    DIR/snapshots/snapshot_NNNN.json; probes run a short cycle each time and
    are judged over every cycle. Gate checks that turn failing are notified
    once (the policy's notify section). At the window's end DIR/package/ is
    written as `gacert run` writes its package, with the trend of each gate
    check. Ctrl-C or SIGTERM stops after the snapshot in progress; the same
    command resumes. Exit codes as `gacert run`; 130 or 143 when stopped.
    """
    from gacert.cli.summary import WatchLine, print_notes, print_watch_end
    from gacert.watch import WatchOptions, prepare
    from gacert.watch import watch as run_watch

    package = _package_options(artifacts, certify_only, tarball_path, no_pdf, allow_nonempty,
                               render_timeout, pdf_max_checks)
    options = WatchOptions(policy_path=policy, output_dir=output, start=start, end=end,
                           duration=duration, interval=interval, overrides=overrides,
                           speed=speed, abort_on_fail=abort_on_fail, package=package,
                           baseline=baseline)
    prepared = prepare(options)
    print_notes(prepared.notes)
    stop, signals = _stop_on_signals()
    line = WatchLine(prepared.state, quiet=quiet)
    try:
        result = run_watch(prepared, stop, line.snapshot)
    finally:
        line.close()
    if result.stopped:
        resume = " ".join(["gacert watch", policy, "-o", output,
                           *(f"--set {o}" for o in overrides),
                           *([f"--baseline {baseline}"] if baseline else [])])
        click.echo(f"stopped at snapshot {result.state.last_number}; resume with: {resume}",
                   err=True)
        sys.exit(143 if signals and signals[-1] == signal.SIGTERM else 130)
    print_watch_end(result, quiet=quiet)
    assert result.document is not None
    code = result.document.get("exit_code", 3)
    sys.exit(1 if result.document["status"] == "warn" and fail_on == "warn" else code)


def _stop_on_signals() -> tuple[threading.Event, list[int]]:
    """SIGINT and SIGTERM stop the watch after the snapshot in progress; a second one
    stops it at once (the state is consistent at any moment)."""
    stop = threading.Event()
    received: list[int] = []

    def handle(signum: int, frame: Any) -> None:
        received.append(signum)
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nstopping after the snapshot in progress (signal again to stop now)",
                   err=True)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop, received


@cli.command()
@click.argument("policies", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text: file:line:col: path: message; json: for tools.")
@click.option("--skip-non-policies", is_flag=True,
              help="Check only the files that are gacert policies by their content (top-level "
                   "checks and sources keys, or a yaml-language-server modeline naming the "
                   "gacert schema); name every other file as skipped, with the reason. For "
                   "hooks that see every YAML file of a repository.")
@click.option("--strict", "--fail-on-warning", "strict", is_flag=True,
              help="Warnings make a file invalid too (exit 2). Notes never do.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print problems only, not a line per valid or skipped file.")
def validate(policies: tuple[str, ...], output_format: str, skip_non_policies: bool,
             strict: bool, quiet: bool) -> None:
    """Check POLICIES against the schema and for meaning; exit 0 if all are valid, else 2.

    Every problem in every file is reported, located at the YAML node at fault:
    schema, YAML, PromQL of every query, expressions and the names they use,
    thresholds that contradict each other, params, durations, sources, report
    sections and templates. Warnings are printed but do not make a file invalid
    unless --strict; notes say what could not be checked (MetricsQL queries).
    In GitHub Actions each problem is also an annotation at its line.
    """
    from gacert.cli.validation import validate_file

    report = [validate_file(path, _template_problem, skip_non_policies=skip_non_policies,
                            strict=strict) for path in policies]
    for entry in report:
        if output_format == "text":
            _print_validation(entry, quiet)
    _annotate([p for entry in report for p in entry.problems],
              sys.stderr if output_format == "json" else sys.stdout)
    invalid = [entry for entry in report if not entry.valid]
    if output_format == "json":
        click.echo(json.dumps({"valid": not invalid,
                               "files": [entry.to_json() for entry in report]}, indent=2))
    sys.exit(EXIT_USAGE if invalid else 0)


def _print_validation(entry: FileReport, quiet: bool) -> None:
    for problem in entry.problems:
        click.echo(printable(problem.format()), err=problem.severity == "error")
    if quiet:
        return
    if entry.skipped:
        click.echo(f"{entry.file}: skipped, {entry.skip_reason}")
    elif entry.valid:
        click.echo(f"{entry.file}: valid ({entry.checks} checks)")
    elif entry.errors == 0:
        click.echo(f"{entry.file}: invalid under --strict ({entry.warnings} warnings)")


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@_with_window_options
def plan(policy: str, start: str | None, end: str | None, duration: str | None,
         overrides: tuple[str, ...]) -> None:
    """Show the window, params and every rendered query of POLICY; contact nothing."""
    from gacert.cli.summary import print_plan
    from gacert.run import RunOptions, plan_run

    options = RunOptions(policy_path=policy, output_dir="", start=start, end=end,
                         duration=duration, overrides=overrides)
    print_plan(*plan_run(options))


@cli.command(cls=PackagingCommand)
@click.argument("results", type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", required=True, metavar="DIR",
              help="The package directory to write (may be the one RESULTS is in).")
@click.option("--policy", "policy_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="The exact policy file evaluated, whose report templates are used. "
                   "Default: policy.yaml beside RESULTS (in a package), with the "
                   "package's own templates/ copies.")
@_with_options(package_options)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def render(results: str, output: str, policy_path: str | None, artifacts: tuple[str, ...],
           certify_only: bool, tarball_path: str | None, no_pdf: bool, allow_nonempty: bool,
           render_timeout: str, pdf_max_checks: int, quiet: bool) -> None:
    """Re-render the reports and the package from a stored RESULTS.json; contact nothing.

    The same results give the same package, byte for byte (and the same
    tarball), so a package can be rebuilt and compared offline. When RESULTS
    is inside a package, that package's artifacts are kept. Nothing RESULTS
    says makes gacert read a file: the policy and templates come from --policy
    or from inside the package.
    """
    from gacert.cli.summary import print_package
    from gacert.package.rerender import rerender

    package = rerender(results, output, _package_options(
        artifacts, certify_only, tarball_path, no_pdf, allow_nonempty, render_timeout,
        pdf_max_checks, policy_path))
    if not quiet:
        print_package(package)


@cli.command(cls=PackagingCommand)
@click.argument("results", type=click.Path(exists=True))
@click.option("--policy", "policy_path", required=True, metavar="POLICY",
              type=click.Path(dir_okay=False), help="The edited policy to judge the evidence with.")
@click.option("--set", "overrides", metavar="NAME=VALUE", multiple=True,
              help="Override a param of POLICY; repeatable. The run's own overrides are not "
                   "carried over: give them again.")
@click.option("-o", "--output", required=True, metavar="DIR",
              help="The package directory of the re-grade (not the one RESULTS is in).")
@_with_options(package_options)
@_with_options(verdict_options)
@click.option("--baseline", metavar="PREVIOUS", type=click.Path(exists=True),
              help="Compare with these results (a results.json or a package that verifies) "
                   "instead of the baseline values the run recorded.")
@click.option("-v", "--verbose", is_flag=True, help="Also print every check of the re-grade.")
def regrade(results: str, policy_path: str, overrides: tuple[str, ...], output: str,
            artifacts: tuple[str, ...], certify_only: bool, tarball_path: str | None,
            no_pdf: bool, allow_nonempty: bool, render_timeout: str, pdf_max_checks: int,
            fail_on: str, quiet: bool, baseline: str | None, verbose: bool) -> None:
    """Judge the evidence stored in RESULTS with an edited POLICY; contact nothing.

    RESULTS is a results.json, a package directory or its .tar.gz; a package
    is verified first and refused if anything in it changed. Every check is
    judged on the stored series values and probe measurements with the new
    rules, params, thresholds, gate, no_data and series reduction. A check
    whose query, source, mode or over_time changed, or a new check, cannot be
    re-graded: it is an error that says so, never a pass. Writes a package
    (results marked as a re-grade of RESULTS, naming its SHA-256, and
    REGRADE_DIFF.md) and prints the checks that changed. Exit codes as run:
    0 pass (or warn), 1 fail, 2 invalid policy or usage, 3 not evaluated.

    \b
    gacert regrade out/ga.tar.gz --policy policies/ga.yaml -o regraded/
    gacert regrade out/ga/results.json --policy ga.yaml --set p99_latency_ms_max=800 -o r/
    """
    from gacert.cli.difftext import print_changes
    from gacert.cli.summary import print_package, print_summary
    from gacert.package.regrade import RegradeOptions, execute_regrade
    from gacert.run import RunOutput

    package = _package_options(artifacts, certify_only, tarball_path, no_pdf, allow_nonempty,
                               render_timeout, pdf_max_checks)
    result = execute_regrade(RegradeOptions(results=results, policy_path=policy_path,
                                            output_dir=output, overrides=overrides,
                                            package=package, baseline=baseline))
    document = result.document
    record = document["regrade"]
    if not quiet:
        origin = record["origin"]
        click.echo(f"re-grade of {origin['path']} (results SHA-256 "
                   f"{origin['results_sha256'][:12]}, "
                   f"{'package verified' if origin['manifest_sha256'] else 'not a package'})")
        print_changes(record["changes"], origin["status"], document["status"])
    print_summary(RunOutput(document, result.results_path, result.package),
                  quiet=not verbose, verbose=verbose)
    if not quiet and not verbose:
        click.echo(f"results: {result.results_path}")
        print_package(result.package)
    _exit_with_verdict(document, fail_on)


@cli.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--evidence", metavar="RESULTS", type=click.Path(exists=True),
              help="A results.json, package directory or .tar.gz: show the checks whose "
                   "status flips when both policies judge its evidence.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="text for a terminal, markdown for a pull request comment, json for tools.")
@click.option("--exit-code", is_flag=True,
              help="Exit 1 when the policies differ (with --evidence: when a status flips).")
def diff(old: str, new: str, evidence: str | None, output_format: str, exit_code: bool) -> None:
    """Show what changing policy OLD into NEW changes; contact nothing.

    Params, sources, and checks added, removed and changed (rules, the params
    they read, queries, gate, no_data); with --evidence, the checks whose status
    flips when both policies judge that stored evidence. Without --evidence it
    is as fast as validate, for pre-commit.

    \b
    git show main:policies/ga.yaml > /tmp/ga.main.yaml
    gacert diff /tmp/ga.main.yaml policies/ga.yaml --evidence last-ga.tar.gz --format markdown
    """
    from gacert.policy.diff import diff_document, diff_policies
    from gacert.policy.load import load_policy

    old_policy = load_policy(old, _template_problem)
    new_policy = load_policy(new, _template_problem)
    document = diff_document(diff_policies(old_policy, new_policy))
    judged = _judge_both(evidence, old_policy, new_policy) if evidence else None
    _print_diff(document, judged, output_format)
    flips = judged is not None and any(c["flipped"] for c in judged["changes"])
    differs = flips if judged is not None else not document["empty"]
    sys.exit(1 if exit_code and differs else 0)


def _judge_both(path: str, old: Policy, new: Policy) -> dict[str, Any]:
    from gacert.package.regrade import compare_on_evidence, read_evidence

    return compare_on_evidence(read_evidence(path), old, new)


def _print_diff(document: dict[str, Any], judged: dict[str, Any] | None,
                output_format: str) -> None:
    if output_format == "json":
        click.echo(json.dumps({**document, "evidence": judged}, indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        from gacert.report.render import render_policy_diff

        click.echo(render_policy_diff(document, judged), nl=False)
    else:
        from gacert.cli.difftext import print_evidence, print_policy_diff

        print_policy_diff(document)
        if judged is not None:
            print_evidence(judged)


@cli.command()
@click.argument("package", type=click.Path(exists=True))
@click.option("-q", "--quiet", is_flag=True, help="Print only the problems found.")
def verify(package: str, quiet: bool) -> None:
    """Check every file of PACKAGE (a directory or .tar.gz) against its MANIFEST.sha256.

    Names each changed, missing or extra file; exit 0 only when all match, 1 when
    anything differs, 3 when PACKAGE cannot be read as a directory or tarball.
    """
    from gacert.cli.summary import print_verification
    from gacert.package.verify import verify as verify_package

    result = verify_package(package)
    print_verification(result, quiet=quiet)
    sys.exit(0 if result.ok else 1)


@cli.command("test")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="Print failures only.")
@click.option("-v", "--verbose", is_flag=True, help="Print every test, passed or not.")
def test_policies(files: tuple[str, ...], quiet: bool, verbose: bool) -> None:
    """Run policy tests: judge each policy on the input its tests give; contact nothing.

    FILES are test files (NAME.tests.yaml, see schemas/policy-tests.schema.json)
    or policies, whose NAME.tests.yaml beside them is run (a policy without
    one is skipped). Without FILES, every *.tests.yaml under policies/ runs.
    A test gives what the checks' queries return (series in promtool's
    notation such as '{service="api"}': '300+0x60 900'), probe measurements
    or a stored results.json, and the statuses and verdict expected. A
    failure prints expected and got, the reason and the input. Exit 0 when
    all pass, 1 when a test fails, 2 when a test file or policy is invalid.
    """
    from gacert.cli.testtext import print_file_outcome
    from gacert.engine.policytest import run_test_file
    from gacert.policy.testfile import load_test_file

    failed = invalid = 0
    for path in _test_files(files, quiet):
        try:
            test_file = load_test_file(path, _template_problem)
        except PolicyError as exc:
            for problem in exc.problems:
                click.echo(problem.format(), err=True)
            invalid += 1
            continue
        outcome = run_test_file(test_file)
        print_file_outcome(outcome, quiet=quiet, verbose=verbose)
        failed += outcome.failed > 0
    sys.exit(EXIT_USAGE if invalid else 1 if failed else 0)


def _test_files(given: tuple[str, ...], quiet: bool) -> list[str]:
    """The test files to run: those given, those beside the policies given, or all."""
    import glob

    from gacert.policy.testfile import TESTS_SUFFIX, tests_file_for

    if not given:
        found = sorted(glob.glob(f"policies/**/*{TESTS_SUFFIX}", recursive=True))
        if not found:
            raise UsageError(f"no policies/**/*{TESTS_SUFFIX} here: give the test files")
        return found
    paths: list[str] = []
    for path in given:
        tests = path if path.endswith((TESTS_SUFFIX, ".tests.yml")) else tests_file_for(path)
        if tests is None and not quiet:
            click.echo(f"{path}: no tests beside it ({os.path.splitext(path)[0]}{TESTS_SUFFIX})")
        elif tests is not None and tests not in paths:
            paths.append(tests)
    return paths


def _seconds(text: str, option: str) -> float:
    from gacert.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _fail(message: str, code: int) -> NoReturn:
    click.secho(f"gacert: {printable(message)}", fg="red", err=True)
    sys.exit(code)


def main() -> None:
    """Entry point: the one place where errors become messages and exit codes."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        _fail("interrupted", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(printable(problem.format()), err=True)
        _annotate(exc.problems)
        _fail("the policy is invalid", EXIT_USAGE)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except OutputError as exc:
        _fail(str(exc), EXIT_COULD_NOT_EVALUATE)
    except GacertError as exc:
        _fail(str(exc), EXIT_COULD_NOT_EVALUATE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:
        # Every file gacert writes names itself in an OutputError; a bare OSError
        # still says what it is about rather than starting with ": ".
        where = f"{exc.filename}: " if exc.filename else "a file could not be read or written: "
        _fail(f"{where}{exc.strerror or exc}", EXIT_COULD_NOT_EVALUATE)
    except Exception as exc:
        if os.environ.get("GACERT_DEBUG") == "1":
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc} "
              "(set GACERT_DEBUG=1 for a traceback and report it)", EXIT_COULD_NOT_EVALUATE)


def _annotate(problems: list[Problem], stream: TextIO | None = None) -> None:
    """In GitHub Actions, each policy problem as an annotation at its line."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    from gacert.publish.commands import problem_annotations

    for line in problem_annotations(problems, os.environ.get("GITHUB_WORKSPACE")):
        print(line, file=stream or sys.stdout)


def _template_problem(kind: str, path: str) -> str:
    # Jinja2 is imported only for a policy that names its own templates, so that
    # validating the others stays fast (pre-commit runs it on every commit).
    from gacert.report.render import template_problem

    return template_problem(kind, path)

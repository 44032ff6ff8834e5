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
from typing import Any, NoReturn

import click

from gacert import __version__
from gacert.errors import GacertError, OutputError, PolicyError, UsageError

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
]


def _with_options(options: list[Callable[..., Any]]
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


_with_window_options = _with_options(window_options)


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
    """


@cli.command(cls=PackagingCommand)
@click.argument("policy", type=click.Path(dir_okay=False))
@_with_window_options
@click.option("-o", "--output", default="gacert-out", show_default=True, metavar="DIR",
              help="The package directory: results.json, reports, policy, manifest.")
@_with_options(package_options)
@click.option("--fail-on", type=click.Choice(["fail", "warn"]), default="fail", show_default=True,
              help="Exit 1 on a fail verdict only, or on warn too.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the verdict line.")
@click.option("-v", "--verbose", is_flag=True, help="Print every check with its query.")
def run(policy: str, start: str | None, end: str | None, duration: str | None,
        overrides: tuple[str, ...], output: str, artifacts: tuple[str, ...],
        certify_only: bool, tarball_path: str | None, no_pdf: bool, fail_on: str,
        quiet: bool, verbose: bool) -> None:
    """Evaluate POLICY over a window; write the certification package; exit with the verdict.

    The package directory (--output) gets results.json, the reports (report.md,
    GA_DAY_REPORT.md/.html/.pdf, EMAIL_SUMMARY.txt), the exact policy,
    certification_metadata.json and MANIFEST.sha256; DIR.tar.gz beside it
    holds the same files. Exit codes: 0 pass (or warn), 1 fail (or warn with
    --fail-on warn), 2 invalid policy or usage, 3 could not evaluate.
    """
    from gacert.cli.summary import Progress, print_summary
    from gacert.package.build import PackageOptions
    from gacert.run import RunOptions, execute

    package = PackageOptions(artifacts=artifacts, tarball=not certify_only,
                             tarball_path=tarball_path, pdf=not no_pdf)
    options = RunOptions(policy_path=policy, output_dir=output, start=start, end=end,
                         duration=duration, overrides=overrides, package=package)
    progress = Progress(enabled=not quiet)
    try:
        result = execute(options, progress.update)
    finally:
        progress.close()
    print_summary(result, quiet=quiet, verbose=verbose)
    status = result.document["status"]
    code = result.document["exit_code"]
    if status == "warn" and fail_on == "warn":
        code = 1
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
@click.option("-q", "--quiet", is_flag=True, help="One line per snapshot, then the verdict line.")
def watch(policy: str, start: str | None, end: str | None, duration: str | None,
          interval: str | None, overrides: tuple[str, ...], output: str,
          artifacts: tuple[str, ...], certify_only: bool, tarball_path: str | None,
          no_pdf: bool, abort_on_fail: bool, speed: float | None, fail_on: str,
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
    from gacert.package.build import PackageOptions
    from gacert.watch import WatchOptions, prepare
    from gacert.watch import watch as run_watch

    package = PackageOptions(artifacts=artifacts, tarball=not certify_only,
                             tarball_path=tarball_path, pdf=not no_pdf)
    options = WatchOptions(policy_path=policy, output_dir=output, start=start, end=end,
                           duration=duration, interval=interval, overrides=overrides,
                           speed=speed, abort_on_fail=abort_on_fail, package=package)
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
                           *(f"--set {o}" for o in overrides)])
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
@click.option("-q", "--quiet", is_flag=True, help="Print problems only, not a line per valid file.")
def validate(policies: tuple[str, ...], output_format: str, quiet: bool) -> None:
    """Check POLICIES against the schema and for meaning; exit 0 if all are valid, else 2.

    Every problem in every file is reported, located at the YAML node at fault:
    schema, YAML, PromQL of every query, expressions and the names they use,
    thresholds that contradict each other, params, durations, sources, report
    sections and templates. Warnings are printed but do not make a file invalid.
    """
    from gacert.policy.load import check_policy_file

    report: list[dict[str, Any]] = []
    for path in policies:
        policy, problems = check_policy_file(path, _template_problem)
        errors = sum(p.severity == "error" for p in problems)
        report.append({"file": path, "valid": policy is not None, "errors": errors,
                       "warnings": len(problems) - errors,
                       "problems": [p.__dict__ for p in problems]})
        if output_format == "text":
            for problem in problems:
                click.echo(problem.format(), err=problem.severity == "error")
            if policy is not None and not quiet:
                click.echo(f"{path}: valid ({len(policy.checks)} checks)")
    invalid = [entry for entry in report if not entry["valid"]]
    if output_format == "json":
        click.echo(json.dumps({"valid": not invalid, "files": report}, indent=2))
    sys.exit(EXIT_USAGE if invalid else 0)


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
              help="The exact policy file evaluated. Default: the path the results "
                   "record, else policy.yaml beside RESULTS.")
@_with_options(package_options)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def render(results: str, output: str, policy_path: str | None, artifacts: tuple[str, ...],
           certify_only: bool, tarball_path: str | None, no_pdf: bool, quiet: bool) -> None:
    """Re-render the reports and the package from a stored RESULTS.json; contact nothing.

    The same results give the same package, byte for byte (and the same
    tarball), so a package can be rebuilt and compared offline. When RESULTS
    is inside a package, that package's artifacts are kept.
    """
    from gacert.cli.summary import print_package
    from gacert.package.build import PackageOptions
    from gacert.package.rerender import rerender

    package = rerender(results, output, PackageOptions(
        policy_path=policy_path, artifacts=artifacts, tarball=not certify_only,
        tarball_path=tarball_path, pdf=not no_pdf))
    if not quiet:
        print_package(package)


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


def _fail(message: str, code: int) -> NoReturn:
    click.secho(f"gacert: {message}", fg="red", err=True)
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
            click.echo(problem.format(), err=True)
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
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}", EXIT_COULD_NOT_EVALUATE)
    except Exception as exc:
        if os.environ.get("GACERT_DEBUG") == "1":
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc} "
              "(set GACERT_DEBUG=1 for a traceback and report it)", EXIT_COULD_NOT_EVALUATE)


def _template_problem(kind: str, path: str) -> str:
    # Jinja2 is imported only for a policy that names its own templates, so that
    # validating the others stays fast (pre-commit runs it on every commit).
    from gacert.report.render import template_problem

    return template_problem(kind, path)

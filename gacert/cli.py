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
import sys
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


def _with_window_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(window_options):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": 100})
@click.version_option(__version__, prog_name="gacert")
def cli() -> None:
    """Certify a release against its service levels, from a YAML policy.

    \b
    gacert run policies/ga.yaml --start 2025-01-15T00:00:00Z --end 2025-01-16T00:00:00Z
    gacert validate policies/*.yaml
    gacert plan policies/ga.yaml --duration 24h
    """


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@_with_window_options
@click.option("-o", "--output", default="gacert-out", show_default=True, metavar="DIR",
              help="Directory for results.json and report.md.")
@click.option("--fail-on", type=click.Choice(["fail", "warn"]), default="fail", show_default=True,
              help="Exit 1 on a fail verdict only, or on warn too.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the verdict line.")
@click.option("-v", "--verbose", is_flag=True, help="Print every check with its query.")
def run(policy: str, start: str | None, end: str | None, duration: str | None,
        overrides: tuple[str, ...], output: str, fail_on: str, quiet: bool,
        verbose: bool) -> None:
    """Evaluate POLICY over a window; write results and a report; exit with the verdict.

    Exit codes: 0 pass (or warn), 1 fail (or warn with --fail-on warn),
    2 invalid policy or usage, 3 could not evaluate.
    """
    from gacert.run import RunOptions, execute
    from gacert.summary import Progress, print_summary

    options = RunOptions(policy_path=policy, output_dir=output, start=start, end=end,
                         duration=duration, overrides=overrides)
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


@cli.command()
@click.argument("policies", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text: file:line:col: path: message; json: for tools.")
@click.option("-q", "--quiet", is_flag=True, help="Print problems only, not a line per valid file.")
def validate(policies: tuple[str, ...], output_format: str, quiet: bool) -> None:
    """Check POLICIES against the schema and for meaning; exit 0 if all are valid, else 2.

    Every problem in every file is reported, located at the YAML node at fault.
    """
    from gacert.validate import check_policy_file

    report: list[dict[str, Any]] = []
    failed = False
    for path in policies:
        policy, problems = check_policy_file(path)
        failed |= policy is None
        report.append({"file": path, "valid": policy is not None,
                       "problems": [p.__dict__ for p in problems]})
        if output_format == "text":
            for problem in problems:
                click.echo(problem.format(), err=problem.severity == "error")
            if policy is not None and not quiet:
                click.echo(f"{path}: valid ({len(policy.checks)} checks)")
    if output_format == "json":
        click.echo(json.dumps({"valid": not failed, "files": report}, indent=2))
    sys.exit(EXIT_USAGE if failed else 0)


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@_with_window_options
def plan(policy: str, start: str | None, end: str | None, duration: str | None,
         overrides: tuple[str, ...]) -> None:
    """Show the window, params and every rendered query of POLICY; contact nothing."""
    from gacert.run import RunOptions, plan_run
    from gacert.summary import print_plan

    options = RunOptions(policy_path=policy, output_dir="", start=start, end=end,
                         duration=duration, overrides=overrides)
    print_plan(*plan_run(options))


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

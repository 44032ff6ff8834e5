"""One run of a policy: load -> plan -> fetch -> evaluate -> results -> package.

Each step is a module of its own; this one only wires them in order and
times them. The CLI calls `execute`; tests and other programs may too.
Whatever can be refused without a source (templates that do not compile,
artifacts that may not be packaged) is refused before anything is fetched.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from gacert.document import ResultsDocument
from gacert.engine.fetch import build_sources, fetch_and_evaluate
from gacert.engine.plan import Plan, build_plan
from gacert.engine.results import results_bytes, to_document, verdict
from gacert.engine.window import resolve_window
from gacert.fsutil import write_atomic
from gacert.model import Outcome, Policy, RunResult, SourceInfo, Timings
from gacert.package.options import PackageOptions, check_options
from gacert.policy.load import load_policy
from gacert.policy.params import resolve_params
from gacert.report.templates import Templates, policy_templates
from gacert.timestamps import format_timestamp

if TYPE_CHECKING:
    from gacert.package.build import Package

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    policy_path: str
    output_dir: str
    start: str | None = None
    end: str | None = None
    duration: str | None = None
    overrides: tuple[str, ...] = ()
    environ: Mapping[str, str] | None = None
    now: datetime | None = None
    # Series of each range check that keep every sample, the worst first; None: as
    # the policy says (--keep-points).
    keep_points: int | None = None
    package: PackageOptions = field(default_factory=PackageOptions)


@dataclass(frozen=True)
class RunOutput:
    document: ResultsDocument
    results_path: str
    package: Package | None = None


def plan_run(options: RunOptions) -> tuple[Policy, Plan]:
    """Load the policy and plan the run (no I/O beyond reading the policy)."""
    policy = load_policy(options.policy_path, _template_problem)
    params = resolve_params(policy.params, list(options.overrides))
    window = resolve_window(
        start=options.start, end=options.end, duration=options.duration,
        default_duration_seconds=policy.window.duration_seconds,
        step_seconds=policy.window.step_seconds,
        scrape_interval_seconds=policy.window.scrape_interval_seconds,
        now=options.now or datetime.now(UTC))
    return policy, build_plan(policy, window, params)


def execute(options: RunOptions,
            progress: Callable[[str, Outcome], None] | None = None) -> RunOutput:
    """Run the policy; write `results.json` and the package into the output dir.

    The queries go out as soon as the policy is loaded; the package writer (the
    report templates, Jinja2 and markdown-it, about 150 ms of CPU to import and
    compile) is made ready in a thread while the sources answer, and each
    answer is evaluated as it arrives.
    """
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    policy, plan = plan_run(options)
    templates = policy_templates(policy)
    if templates.overrides:  # a policy's own template that does not compile: refused now
        _check_templates(templates)
    package_options = replace(options.package, policy_path=options.policy_path)
    check_options(options.output_dir, package_options)
    writer = InBackground(lambda: _package_writer(templates))
    sources = build_sources(policy, options.environ)
    fetch_clock = time.perf_counter()
    # The writer starts once the queries are on their way, not before: it would
    # share the interpreter with the work of sending them.
    results = fetch_and_evaluate(plan, sources, progress, options.keep_points,
                                 started=writer.start)
    fetch_seconds = time.perf_counter() - fetch_clock
    checks = tuple(results[p.check.id] for p in plan.checks)
    run = RunResult(
        status=verdict(checks), policy=policy, window=plan.window, params=plan.params,
        sources=tuple(SourceInfo(sid, policy.sources[sid].type, s.endpoint)
                      for sid, s in sources.items()),
        timings=Timings(format_timestamp(started_at), format_timestamp(datetime.now(UTC)),
                        time.perf_counter() - clock, fetch_seconds),
        checks=checks)
    document = to_document(run)
    if templates.overrides:
        document["policy"]["report_templates"] = dict(templates.overrides)
    results_path = os.path.join(options.output_dir, "results.json")
    written = results_bytes(document)
    write_atomic(results_path, written)
    package = writer.result()(document, results_path, options.output_dir, package_options,
                              templates, results=written)
    return RunOutput(document, results_path, package)


class InBackground(Generic[T]):
    """`work` run in a thread from `start()` on; `result()` waits for it (starting it
    if need be) and returns what it returned, or raises what it raised."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                        name="gacert-prepare")

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value = work()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> T:
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when no error was


def _package_writer(templates: Templates) -> Callable[..., Package]:
    """The package writer, imported, with every template it will render compiled."""
    from gacert.package.build import write_package

    _check_templates(templates)
    return write_package


def _check_templates(templates: Templates) -> None:
    from gacert.report.render import check_templates

    check_templates(templates)


def _template_problem(kind: str, path: str) -> str:
    # Jinja2 is imported only for a policy that names its own templates.
    from gacert.report.render import template_problem

    return template_problem(kind, path)

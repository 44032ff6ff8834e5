"""One run of a policy: load -> plan -> fetch -> evaluate -> results -> notify -> package.

Each step is a module of its own; this one only wires them in order and
times them. The CLI calls `execute`; tests and other programs may too.
Notifications are sent before the package is written, so that how each
went is in the results the package certifies.
Whatever can be refused without a source (templates that do not compile,
artifacts that may not be packaged) is refused before anything is fetched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from gacert.document import ResultsDocument
from gacert.engine.coverage import measure_coverage
from gacert.engine.evaluate import evaluate_check
from gacert.engine.fetch import build_sources, fetch_and_judge
from gacert.engine.plan import Plan, PlannedCheck, build_plan
from gacert.engine.results import results_bytes, to_document, verdict
from gacert.engine.waivers import apply_waivers
from gacert.engine.window import resolve_window
from gacert.fsutil import write_atomic
from gacert.model import (
    Baseline,
    CheckResult,
    Notify,
    Outcome,
    Override,
    Policy,
    RunResult,
    SourceInfo,
    Timings,
)
from gacert.package.build import (
    Package,
    PackageOptions,
    check_options,
    report_names,
    write_package,
)
from gacert.policy.load import load_policy
from gacert.policy.params import param_overrides, resolve_params, source_overrides
from gacert.publish.notify import Notice, alerting, report_link, send
from gacert.report.render import Templates, policy_templates, template_problem
from gacert.sources.base import Source
from gacert.timestamps import format_timestamp


@dataclass(frozen=True)
class RunOptions:
    policy_path: str
    output_dir: str
    start: str | None = None
    end: str | None = None
    duration: str | None = None
    overrides: tuple[str, ...] = ()
    environ: Mapping[str, str] | None = None
    # Series of each range check that keep every sample, the worst first; None: as
    # the policy says (--keep-points).
    keep_points: int | None = None
    # The previous release's results (a results.json or a package), which rules read
    # as baseline.value (--baseline).
    baseline: str | None = None
    now: datetime | None = None
    package: PackageOptions = field(default_factory=PackageOptions)


@dataclass(frozen=True)
class RunOutput:
    document: ResultsDocument
    results_path: str
    package: Package | None = None


def plan_run(options: RunOptions) -> tuple[Policy, Plan]:
    """Load the policy and plan the run (no I/O beyond reading the policy)."""
    policy = load_policy(options.policy_path, template_problem)
    params = resolve_params(policy.params, list(options.overrides))
    window = resolve_window(
        start=options.start, end=options.end, duration=options.duration,
        default_duration_seconds=policy.window.duration_seconds,
        step_seconds=policy.window.step_seconds,
        scrape_interval_seconds=policy.window.scrape_interval_seconds,
        now=options.now or datetime.now(UTC))
    overridden = [o.name for o in param_overrides(policy.params, list(options.overrides))]
    return policy, build_plan(policy, window, params, overridden)


def execute(options: RunOptions,
            progress: Callable[[str, Outcome], None] | None = None) -> RunOutput:
    """Run the policy; write `results.json` and the package into the output dir."""
    started = (datetime.now(UTC), time.perf_counter())
    policy, plan = plan_run(options)
    templates = policy_templates(policy)
    package_options = replace(options.package, policy_path=options.policy_path)
    check_options(options.output_dir, package_options)
    baseline = load_baseline(options.baseline)
    environ = os.environ if options.environ is None else options.environ
    sources = build_sources(policy, environ)
    overrides = (*param_overrides(policy.params, list(options.overrides)),
                 *source_overrides(policy.sources, environ))
    run = evaluate_plan(policy, plan, sources, progress, started, overrides,
                        options.keep_points, judged_at=options.now, baseline=baseline)
    document = to_document(run)
    if templates.overrides:
        document["policy"]["report_templates"] = dict(templates.overrides)
    if policy.notify is not None:
        notices = final_notices(policy.notify, document, environ, {"command": "run"},
                                templates, report_names(pdf=package_options.pdf))
        document["notifications"] = [d.to_json() for d in send(policy.notify, notices, environ)]
    results_path = os.path.join(options.output_dir, "results.json")
    written = results_bytes(document)
    write_atomic(results_path, written)
    package = write_package(document, results_path, options.output_dir, package_options,
                            templates, results=written)
    return RunOutput(document, results_path, package)


def load_baseline(path: str | None) -> Baseline | None:
    """The baseline at `path` (--baseline), verified if a package; None without one."""
    if path is None:
        return None
    # Imported here: reading and verifying a package costs a run without one nothing.
    from gacert.package.baseline import read_baseline

    return read_baseline(path)


def evaluate_plan(policy: Policy, plan: Plan, sources: Mapping[str, Source],
                  progress: Callable[[str, Outcome], None] | None = None,
                  started: tuple[datetime, float] | None = None,
                  overrides: tuple[Override, ...] = (),
                  keep_points: int | None = None, *,
                  judged_at: datetime | None = None,
                  baseline: Baseline | None = None) -> RunResult:
    """Fetch every planned query through `sources` and judge every check, each as soon
    as its answers arrive (so that answers are never all in memory together).

    `started` is when the run began (UTC, perf_counter) if before this step;
    `keep_points`, when given, replaces each range check's own setting. The policy's
    waivers are judged at `judged_at` (default: when the checks are judged); rules
    compare with `baseline`, the previous release's results, if given."""
    started_at, clock = started or (datetime.now(UTC), time.perf_counter())
    fetch_clock = time.perf_counter()
    checks_by_id = fetch_and_judge(
        plan, sources,
        lambda p, main, measured: _evaluate(p, main, measured, plan, keep_points, baseline),
        progress)
    fetch_seconds = time.perf_counter() - fetch_clock
    judged_at = judged_at or datetime.now(UTC)
    checks = apply_waivers((checks_by_id[p.check.id] for p in plan.checks), policy.waivers,
                           judged_at)
    return RunResult(
        status=verdict(checks), policy=policy, window=plan.window, params=plan.params,
        sources=tuple(SourceInfo(sid, policy.sources[sid].type, s.endpoint)
                      for sid, s in sources.items()),
        timings=Timings(format_timestamp(started_at), format_timestamp(datetime.now(UTC)),
                        time.perf_counter() - clock, fetch_seconds),
        checks=checks, overrides=overrides,
        waivers_judged_at=judged_at if policy.waivers else None, baseline=baseline)


def final_notices(notify: Notify, document: ResultsDocument, environ: Mapping[str, str],
                  context: Mapping[str, Any], templates: Templates,
                  files: tuple[str, ...]) -> list[Notice]:
    """What to tell at the end of a run or a watch: the verdict, and the failing gate
    checks for targets that want only early warnings."""
    link = report_link(notify, environ)
    failing = tuple(alerting(document, notify.alert_on))
    notices = [Notice("verdict", document, report_url=link, context=context,
                      templates=templates, files=files)]
    if failing:
        notices.append(Notice("fail", document, checks=failing, report_url=link,
                              context=context, templates=templates, files=files))
    return notices


def _evaluate(planned: PlannedCheck, outcome: Outcome, measured: Outcome | None, plan: Plan,
              keep_points: int | None = None, baseline: Baseline | None = None) -> CheckResult:
    """One check judged on its answer and on how much of the window its evidence covers
    (from its own points, or `measured`: the answer to its coverage query)."""
    coverage = None
    if planned.coverage is not None:
        coverage = measure_coverage(planned.coverage, plan.window.step_seconds, outcome,
                                    measured)
    return evaluate_check(planned.check, planned.query.text, outcome, plan.params, coverage,
                          window=plan.window, keep_points=keep_points, baseline=baseline)



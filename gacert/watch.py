"""`gacert watch`: judge a policy every interval through a GA window, then certify it.

Every interval the policy is evaluated over [window start, now] and the
results are written as `DIR/snapshots/snapshot_NNNN.json` (a results
document with a `snapshot` part, committed atomically: see
`gacert.watchstate`). Probe sources run a short cycle each time and are
judged over every cycle of the window (`gacert.sources.window`). Gate checks
that turn failing, and verdicts that change, are notified once per change
(`gacert.publish.notify`). At the window's end the last evaluation becomes
the certification: `DIR/package/` is written as `gacert run` writes its
package, with the trend of each gate check over the snapshots and the
snapshots themselves under `artifacts/snapshots/`.

`DIR/watch-state.json` records all that was done; the same command on the
same DIR resumes, continues the numbering and keeps the probes' samples;
the time it was down is a gap in probe coverage, in the results and reports.
"""

from __future__ import annotations

import copy
import json
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gacert.document import ResultsDocument, StatusChangeDocument, WatchDocument
from gacert.engine.fetch import build_sources
from gacert.engine.plan import build_plan
from gacert.engine.results import EXIT_CODES, json_number, read_results, to_document, write_results
from gacert.engine.window import option_duration, resolve_window
from gacert.errors import UsageError
from gacert.model import Baseline, Override, Policy, SourceSpec
from gacert.package.build import Package, PackageOptions, check_options, report_names, write_package
from gacert.policy.load import load_policy
from gacert.policy.params import param_overrides, resolve_params, source_overrides
from gacert.publish.notify import (
    Delivery,
    Notice,
    alerting,
    newly_failing,
    report_link,
    send,
    target_problems,
)
from gacert.report.render import Templates, policy_templates, template_problem
from gacert.run import evaluate_plan, final_notices, load_baseline
from gacert.sources.base import Source
from gacert.sources.window import ProbeRecord, WindowProbe, cycle_settings, cycles
from gacert.timestamps import format_timestamp, parse_timestamp
from gacert.watchstate import Clock, StateFile, WatchState, check_resume, coverage

DEFAULT_INTERVAL = "5m"
PACKAGE_DIR = "package"


def _wall_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WatchOptions:
    policy_path: str
    output_dir: str
    start: str | None = None
    end: str | None = None
    duration: str | None = None
    interval: str | None = None
    overrides: tuple[str, ...] = ()
    speed: float | None = None  # replay a past window this many times faster
    abort_on_fail: bool = False
    environ: Mapping[str, str] | None = None
    package: PackageOptions = field(default_factory=PackageOptions)
    wall: Callable[[], datetime] = _wall_now  # the wall clock, for tests
    baseline: str | None = None  # the previous release's results (--baseline)


@dataclass(frozen=True)
class SnapshotReport:
    """One snapshot, as the terminal shows it."""

    number: int
    at: str
    share: float  # of the window elapsed
    status: str
    before: str | None
    changes: tuple[StatusChangeDocument, ...]
    deliveries: tuple[Delivery, ...]
    final: bool


@dataclass(frozen=True)
class WatchOutput:
    state: WatchState
    document: ResultsDocument | None  # the final results; None when stopped before the end
    results_path: str | None
    package: Package | None
    stopped: bool


@dataclass
class _Watch:
    """What one watch process works with."""

    options: WatchOptions
    policy: Policy
    params: Mapping[str, Any]
    templates: Templates
    files: StateFile
    state: WatchState
    environ: Mapping[str, str]
    step_seconds: float = 60.0
    notes: list[str] = field(default_factory=list)
    baseline: Baseline | None = None  # read once, when the watch (re)starts

    @property
    def overrides(self) -> tuple[Override, ...]:
        """The values used instead of the committed policy's, recorded in each snapshot."""
        return (*param_overrides(self.policy.params, list(self.options.overrides)),
                *source_overrides(self.policy.sources, self.environ))

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.state.interval_seconds)

    def wall(self) -> datetime:
        return self.options.wall()

    def now(self) -> datetime:
        return self.state.clock.now(self.wall())


def prepare(options: WatchOptions) -> _Watch:
    """Load the policy and the state (new, or the one to resume); refuse what cannot work
    before anything is measured."""
    policy = load_policy(options.policy_path, template_problem)
    params = resolve_params(policy.params, list(options.overrides))
    templates = policy_templates(policy)
    package_dir = os.path.join(options.output_dir, PACKAGE_DIR)
    check_options(package_dir, replace(options.package, policy_path=options.policy_path))
    files = StateFile(options.output_dir)
    environ = os.environ if options.environ is None else options.environ
    if files.exists():
        state = files.load()
        check_resume(state, policy.sha256, list(options.overrides),
                     _instant(options.start, "--start"), _instant(options.end, "--end"))
        notes = files.recover(state)
    else:
        if os.path.isdir(files.snapshots_dir):
            raise UsageError(f"{files.snapshots_dir} exists but {files.path} does not: "
                             "watch into a new directory")
        state, notes = _new_state(options, policy), []
    watch = _Watch(options, policy, params, templates, files, state, environ,
                   step_seconds=policy.window.step_seconds, notes=notes,
                   baseline=load_baseline(options.baseline))
    if policy.notify is not None:
        watch.notes += target_problems(policy.notify, environ)
    return watch


def _instant(text: str | None, option: str) -> datetime | None:
    return parse_timestamp(text, option) if text else None


def _new_state(options: WatchOptions, policy: Policy) -> WatchState:
    wall = options.wall().astimezone(UTC).replace(microsecond=0)
    start, end = _window(options, policy, wall)
    interval = _seconds(options.interval or DEFAULT_INTERVAL, "--interval")
    if interval >= (end - start).total_seconds():
        raise UsageError(f"--interval {options.interval}: as long as the window or longer")
    speed = options.speed or 1.0
    if not math.isfinite(speed) or speed <= 0:
        raise UsageError("--speed must be a number above 0")
    if speed != 1.0 and end > wall:
        raise UsageError("--speed replays a window that has ended; this one ends "
                         f"{format_timestamp(end)}, in the future")
    if speed == 1.0 and end <= wall:
        raise UsageError(f"the window ended at {format_timestamp(end)}: certify it with "
                         "gacert run, or replay it with --speed")
    # Live, window time is wall time; a replay starts at the window's start now.
    clock = Clock(start, start if speed == 1.0 else wall, speed)
    return WatchState(policy_path=options.policy_path, policy_sha256=policy.sha256,
                      overrides=list(options.overrides), start=start, end=end,
                      interval_seconds=interval, clock=clock)


def _window(options: WatchOptions, policy: Policy, wall: datetime) -> tuple[datetime, datetime]:
    """--duration alone is a window that starts now; otherwise as `gacert run` reads them."""
    if options.start is None and options.end is None:
        length = _seconds(options.duration, "--duration") if options.duration else \
            policy.window.duration_seconds
        return wall, wall + timedelta(seconds=length)
    window = resolve_window(start=options.start, end=options.end, duration=options.duration,
                            default_duration_seconds=policy.window.duration_seconds,
                            step_seconds=policy.window.step_seconds,
                            scrape_interval_seconds=policy.window.scrape_interval_seconds,
                            now=wall)
    return window.start, window.end


def _seconds(text: str, option: str) -> float:
    return option_duration(text, option).total_seconds()


def watch(watch_: _Watch, stop: threading.Event,
          on_snapshot: Callable[[SnapshotReport], None] | None = None) -> WatchOutput:
    """Take snapshots until the window ends (or `stop` is set), then certify."""
    state, files = watch_.state, watch_.files
    if state.finished is not None:
        return _finished(watch_)
    wall = watch_.wall()
    if not state.sessions and state.clock.speed != 1.0:
        # A replay starts at the window's start when its first session does.
        state.clock = Clock(state.start, wall, state.clock.speed)
    stamp = format_timestamp(wall)
    state.sessions.append({"started_at": stamp, "last_seen": stamp, "ended": None})
    files.save(state)
    last = state.snapshots[-1] if state.snapshots else None
    while last is None or not last.get("final"):
        due = _next_due(watch_)
        if stop.wait(max(0.0, state.clock.seconds_until(due, watch_.wall()))):
            break
        report = _take(watch_, due)
        if on_snapshot is not None:
            on_snapshot(report)
        last = state.snapshots[-1]
        if stop.is_set() and not last.get("final"):
            break
    else:
        return _certify(watch_)
    state.sessions[-1]["ended"] = "stopped"
    files.save(state)
    return WatchOutput(state, None, None, None, stopped=True)


def _next_due(watch_: _Watch) -> datetime:
    """The next time on the snapshot grid after the last snapshot (at most the end)."""
    state = watch_.state
    last = parse_timestamp(state.snapshots[-1]["at"], "at") if state.snapshots else state.start
    ticks = math.floor((last - state.start) / watch_.interval) + 1
    return min(state.start + ticks * watch_.interval, state.end)


def _take(watch_: _Watch, due: datetime) -> SnapshotReport:
    """Evaluate over [start, now], notify what changed, commit the snapshot."""
    state, policy = watch_.state, watch_.policy
    now = watch_.now()
    at = min(max(now, due), state.end).replace(microsecond=0)
    final = at >= state.end
    window = resolve_window(start=format_timestamp(state.start), end=format_timestamp(at),
                            duration=None, default_duration_seconds=0,
                            step_seconds=watch_.step_seconds,
                            scrape_interval_seconds=policy.window.scrape_interval_seconds,
                            now=at)
    overrides = watch_.overrides
    plan = build_plan(policy, window, watch_.params,
                      [o.name for o in overrides if o.kind == "param"])
    # A window that ended more than an interval ago (a watch resumed late) runs no
    # more probe cycles: they would measure outside it.
    sources = _sources(watch_, at, run_cycles=now - state.end <= watch_.interval)
    run = evaluate_plan(policy, plan, sources, overrides=overrides, baseline=watch_.baseline)
    document = to_document(run)
    if watch_.templates.overrides:
        document["policy"]["report_templates"] = dict(watch_.templates.overrides)
    final = final or (watch_.options.abort_on_fail and document["status"] == "fail")
    changes = _changes(state, document)
    deliveries = _early_warnings(watch_, document, changes)
    number = state.last_number + 1
    share = (at - state.start) / (state.end - state.start)
    document["notifications"] = [d.to_json() for d in deliveries]
    document["snapshot"] = {
        "number": number, "at": format_timestamp(at),
        "taken_at": format_timestamp(watch_.wall()), "elapsed_share": round(min(share, 1.0), 4),
        "final": final, "verdict_before": state.last_status, "changes": changes}
    for sid, source in sources.items():
        if isinstance(source, WindowProbe):
            state.probes[sid] = source.record
    state.alerting = alerting(document, policy.notify.alert_on if policy.notify else "fail")
    state.notifications += [d.to_json() for d in deliveries]
    state.sessions[-1]["last_seen"] = format_timestamp(watch_.wall())
    record = {"number": number, "at": format_timestamp(at), "status": document["status"],
              "final": final, "taken_at": document["snapshot"]["taken_at"],
              "checks": {c["id"]: [c["status"], c["value"]] for c in document["checks"]
                         if c.get("gate", True)}}
    # Snapshots leave out the points of range series (the final results keep them):
    # a day of snapshots every five minutes would otherwise fill a disk.
    kept = document if final else _without_points(document)
    data = json.dumps(kept, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    watch_.files.commit(state, record, data.encode("utf-8"))
    return SnapshotReport(number, format_timestamp(at), share, document["status"],
                          document["snapshot"]["verdict_before"], tuple(changes),
                          tuple(deliveries), final)


def _sources(watch_: _Watch, at: datetime, *, run_cycles: bool) -> dict[str, Source]:
    """The policy's sources; probes run one short cycle and answer for the whole window."""
    policy = watch_.policy
    cycle_policy = replace(policy, sources={
        sid: SourceSpec(sid, spec.type, cycle_settings(spec.settings))
        for sid, spec in policy.sources.items()})
    built = build_sources(cycle_policy, watch_.environ)
    covered = coverage(watch_.state, at)
    return {sid: WindowProbe(source, watch_.state.probes.get(sid) or ProbeRecord(), covered,
                             run_cycle=run_cycles) if cycles(source) else source
            for sid, source in built.items()}


def _changes(state: WatchState, document: ResultsDocument) -> list[StatusChangeDocument]:
    before = state.snapshots[-1]["checks"] if state.snapshots else {}
    return [{"check": c["id"], "before": before[c["id"]][0] if c["id"] in before else None,
             "after": c["status"]}
            for c in document["checks"] if c.get("gate", True)
            and (c["id"] not in before or before[c["id"]][0] != c["status"])]


def _early_warnings(watch_: _Watch, document: ResultsDocument,
                    changes: list[StatusChangeDocument]) -> list[Delivery]:
    """Notify gate checks that turned failing, and a verdict that changed."""
    notify = watch_.policy.notify
    if notify is None:
        return []
    state = watch_.state
    context = {"command": "watch", "snapshot": state.last_number + 1,
               "changes": [dict(c) for c in changes]}
    link = report_link(notify, watch_.environ)
    notices = []
    turned = newly_failing(document, notify.alert_on, state.alerting)
    if turned:
        notices.append(Notice("fail", document, checks=turned, report_url=link,
                              context=context, templates=watch_.templates))
    before = state.last_status
    if before is not None and before != document["status"]:
        notices.append(Notice("change", document, checks=tuple(c["check"] for c in changes),
                              previous=before, report_url=link, context=context,
                              templates=watch_.templates))
    return send(notify, notices, watch_.environ) if notices else []


def _without_points(document: ResultsDocument) -> ResultsDocument:
    light = copy.deepcopy(document)
    for check in light["checks"]:
        for series in check["series"]:
            series.pop("points", None)
    return light


def _certify(watch_: _Watch) -> WatchOutput:
    """The last snapshot becomes the certification: results, notifications, package."""
    state, options = watch_.state, watch_.options
    last = state.snapshots[-1]
    document: ResultsDocument = watch_.files.read_snapshot(last["number"])  # type: ignore[assignment]
    document.pop("snapshot", None)
    aborted = parse_timestamp(last["at"], "at") < state.end
    # Saved once the package is written; a kill before then certifies again on resume.
    state.sessions[-1]["ended"] = "finished"
    document["watch"] = watch_section(state, document, aborted=aborted)
    if watch_.policy.notify is not None:
        notices = final_notices(watch_.policy.notify, document, watch_.environ,
                                {"command": "watch", "snapshots": last["number"],
                                 "aborted": aborted},
                                watch_.templates, report_names(pdf=options.package.pdf))
        notices = [n for n in notices if n.event == "verdict"]
        state.notifications += [d.to_json() for d in send(watch_.policy.notify, notices,
                                                          watch_.environ)]
    document["notifications"] = list(state.notifications)
    package_dir = os.path.join(options.output_dir, PACKAGE_DIR)
    results_path = os.path.join(package_dir, "results.json")
    write_results(results_path, document)
    package_options = replace(options.package, policy_path=options.policy_path,
                              artifacts=(*options.package.artifacts,
                                         watch_.files.snapshots_dir))
    package = write_package(document, results_path, package_dir, package_options,
                            watch_.templates)
    state.finished = {"status": document["status"], "exit_code": EXIT_CODES[document["status"]],
                      "results": results_path, "package": package_dir,
                      "tarball": package.tarball, "at": format_timestamp(watch_.wall())}
    watch_.files.save(state)
    return WatchOutput(state, document, results_path, package, stopped=False)


def _finished(watch_: _Watch) -> WatchOutput:
    """A watch that had finished already: its results, nothing done again."""
    finished = watch_.state.finished
    assert finished is not None
    document = read_results(finished["results"])
    return WatchOutput(watch_.state, document, finished["results"], None, stopped=False)


def watch_section(state: WatchState, document: ResultsDocument, *,
                  aborted: bool) -> WatchDocument:
    """The `watch` part of the final results: snapshots, trends, sessions, coverage."""
    at = parse_timestamp(state.snapshots[-1]["at"], "at")
    trend = []
    for check in document["checks"]:
        if not check.get("gate", True):
            continue
        points = [[parse_timestamp(s["at"], "at").timestamp(),
                   json_number(_number(s["checks"][check["id"]][1])),
                   s["checks"][check["id"]][0]]
                  for s in state.snapshots if check["id"] in s["checks"]]
        trend.append({"id": check["id"], "title": check["title"], "unit": check["unit"],
                      "precision": check.get("precision", 2), "points": points})
    return {"interval_seconds": state.interval_seconds, "speed": state.clock.speed,
            "aborted": aborted,
            "snapshots": [{"number": s["number"], "at": s["at"], "status": s["status"],
                           "file": s["file"]} for s in state.snapshots],
            "trend": trend,  # type: ignore[typeddict-item]
            "sessions": copy.deepcopy(state.sessions), "coverage": coverage(state, at)}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return float(value.replace("Inf", "inf"))
    return float(value)

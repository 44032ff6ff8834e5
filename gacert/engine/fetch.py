"""Fetch: build the sources, run every planned query concurrently, keep outcomes.

A failed query is data (an `Outcome` with an error sentence), never an
exception that stops the run: the other checks still get evaluated, and the
results and report are still written.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from gacert.engine.evaluate import evaluate_check
from gacert.engine.plan import Plan, PlannedCheck
from gacert.errors import SourceError, UsageError
from gacert.model import CheckResult, Outcome, Policy
from gacert.policy.params import interpolate_env
from gacert.redact import redact_text
from gacert.sources import source_factory
from gacert.sources.base import Source

ProgressCallback = Callable[[str, Outcome], None]
T = TypeVar("T")


def build_sources(policy: Policy, environ: Mapping[str, str] | None = None) -> dict[str, Source]:
    """Every source the policy declares, settings interpolated; no I/O happens here."""
    environ = os.environ if environ is None else environ
    sources: dict[str, Source] = {}
    for spec in policy.sources.values():
        settings = interpolate_env(dict(spec.settings), environ, f"sources.{spec.id}")
        try:
            sources[spec.id] = source_factory(spec.type)(spec.id, settings)
        except ValueError as exc:
            raise UsageError(f"sources.{spec.id}: {exc}") from None
    return sources


async def _fetch_one(planned: PlannedCheck, source: Source) -> Outcome:
    started = time.perf_counter()
    try:
        fetched = await source.fetch(planned.query)
    except SourceError as exc:
        return Outcome(None, redact_text(str(exc)), time.perf_counter() - started)
    except Exception as exc:  # a broken adapter must not take the other checks down
        return Outcome(None, redact_text(f"source {planned.check.source!r} failed "
                                         f"unexpectedly: {type(exc).__name__}: {exc}"),
                       time.perf_counter() - started)
    # What a source says goes into results and reports: never a secret it quoted.
    warnings = tuple(redact_text(w) for w in fetched.warnings)
    if warnings != fetched.warnings:
        fetched = replace(fetched, warnings=warnings)
    return Outcome(fetched, None, time.perf_counter() - started)


async def fetch_all(plan: Plan, sources: Mapping[str, Source],
                    progress: ProgressCallback | None = None) -> dict[str, Outcome]:
    """Run every query at once (each source caps its own concurrency)."""
    return await fetch_each(plan, sources, _as_is, progress)


async def fetch_each(plan: Plan, sources: Mapping[str, Source],
                     handle: Callable[[PlannedCheck, Outcome], T],
                     progress: ProgressCallback | None = None) -> dict[str, T]:
    """Run every query at once, and hand each outcome to `handle` as soon as it
    arrives, while the other queries are still under way: what `handle` keeps
    (a check's result) is all that stays of an answer, so that the answers of a
    run are never all in memory together."""
    async def run(planned: PlannedCheck) -> tuple[str, T]:
        outcome = await _fetch_one(planned, sources[planned.check.source])
        if progress is not None:
            progress(planned.check.id, outcome)
        return planned.check.id, handle(planned, outcome)

    try:
        pairs = await asyncio.gather(*(run(p) for p in plan.checks))
    finally:
        await asyncio.gather(*(s.aclose() for s in sources.values()), return_exceptions=True)
    return dict(pairs)


def _as_is(planned: PlannedCheck, outcome: Outcome) -> Outcome:
    return outcome


def fetch(plan: Plan, sources: Mapping[str, Source],
          progress: ProgressCallback | None = None) -> dict[str, Outcome]:
    """Synchronous entry point for the CLI."""
    return asyncio.run(fetch_all(plan, sources, progress))


def fetch_and_evaluate(plan: Plan, sources: Mapping[str, Source],
                       progress: ProgressCallback | None = None,
                       keep_points: int | None = None) -> dict[str, CheckResult]:
    """Every check's result, each evaluated as soon as its answer arrives."""
    def judge(planned: PlannedCheck, outcome: Outcome) -> CheckResult:
        return evaluate_check(planned.check, planned.query.text, outcome, plan.params,
                              window=plan.window, keep_points=keep_points)
    return asyncio.run(fetch_each(plan, sources, judge, progress))

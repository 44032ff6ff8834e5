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
from dataclasses import dataclass, replace
from typing import TypeVar

from gacert.engine.plan import Plan, PlannedCheck
from gacert.errors import SourceError, UsageError
from gacert.model import Outcome, Policy, Query
from gacert.policy.params import interpolate_env
from gacert.redact import redact_text
from gacert.sources import source_factory
from gacert.sources.base import Source

ProgressCallback = Callable[[str, Outcome], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Fetches:
    """What the sources answered: each check's query, and the coverage queries of the
    checks that have one, by check id."""

    checks: Mapping[str, Outcome]
    coverage: Mapping[str, Outcome]


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


async def _fetch_one(query: Query, source_id: str, source: Source) -> Outcome:
    started = time.perf_counter()
    try:
        fetched = await source.fetch(query)
    except SourceError as exc:
        return Outcome(None, redact_text(str(exc)), time.perf_counter() - started)
    except Exception as exc:  # a broken adapter must not take the other checks down
        return Outcome(None, redact_text(f"source {source_id!r} failed "
                                         f"unexpectedly: {type(exc).__name__}: {exc}"),
                       time.perf_counter() - started)
    # What a source says goes into results and reports: never a secret it quoted.
    warnings = tuple(redact_text(w) for w in fetched.warnings)
    if warnings != fetched.warnings:
        fetched = replace(fetched, warnings=warnings)
    return Outcome(fetched, None, time.perf_counter() - started)


async def _fetch_check(planned: PlannedCheck, source: Source
                       ) -> tuple[Outcome, Outcome | None]:
    """A check's query and, when its coverage needs one, its coverage query."""
    source_id = planned.check.source
    extra = planned.coverage.query if planned.coverage is not None else None
    if extra is None:
        return await _fetch_one(planned.query, source_id, source), None
    main, measured = await asyncio.gather(_fetch_one(planned.query, source_id, source),
                                          _fetch_one(extra, source_id, source))
    return main, measured


async def fetch_all(plan: Plan, sources: Mapping[str, Source],
                    progress: ProgressCallback | None = None) -> Fetches:
    """Run every query at once (each source caps its own concurrency)."""
    pairs = await fetch_each(plan, sources, _as_is, progress)
    return Fetches({cid: main for cid, (main, _) in pairs.items()},
                   {cid: measured for cid, (_, measured) in pairs.items()
                    if measured is not None})


async def fetch_each(plan: Plan, sources: Mapping[str, Source],
                     handle: Callable[[PlannedCheck, Outcome, Outcome | None], T],
                     progress: ProgressCallback | None = None) -> dict[str, T]:
    """Run every query at once, and hand each check's outcomes (its query's, and its
    coverage query's if it has one) to `handle` as soon as they arrive, while the
    other queries are still under way: what `handle` keeps (a check's result) is
    all that stays of an answer, so that the answers of a run are never all in
    memory together."""
    async def run(planned: PlannedCheck) -> tuple[str, T]:
        main, measured = await _fetch_check(planned, sources[planned.check.source])
        if progress is not None:
            progress(planned.check.id, main)
        return planned.check.id, handle(planned, main, measured)

    try:
        pairs = await asyncio.gather(*(run(p) for p in plan.checks))
    finally:
        await asyncio.gather(*(s.aclose() for s in sources.values()), return_exceptions=True)
    return dict(pairs)


def _as_is(planned: PlannedCheck, main: Outcome,
           measured: Outcome | None) -> tuple[Outcome, Outcome | None]:
    return main, measured


def fetch(plan: Plan, sources: Mapping[str, Source],
          progress: ProgressCallback | None = None) -> Fetches:
    """Synchronous entry point for the CLI."""
    return asyncio.run(fetch_all(plan, sources, progress))


def fetch_and_judge(plan: Plan, sources: Mapping[str, Source],
                    judge: Callable[[PlannedCheck, Outcome, Outcome | None], T],
                    progress: ProgressCallback | None = None) -> dict[str, T]:
    """Every check judged by `judge` as soon as its answers arrive (synchronous)."""
    return asyncio.run(fetch_each(plan, sources, judge, progress))

"""`gacert regrade`: the evidence of a past run judged by an edited policy, as a package.

RESULTS is a results.json, a package directory or its tarball. A package
(and a results.json inside one) is verified first and refused if anything in
it changed: a re-grade of altered evidence would certify nothing. The bytes
re-graded are the bytes verified. A results.json on its own cannot be
verified; the re-grade records that (no manifest SHA-256 in its origin).

The output is a package like a run's, whose results carry a `regrade` record
(the origin's SHA-256, verdict and policy, the --set overrides, and every
check that changed) and whose REGRADE_DIFF.md shows the changes. No source
is contacted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

from gacert.document import ResultsDocument
from gacert.engine.regrade import Change, Origin, change_document, regrade, regrade_document
from gacert.engine.results import check_results, results_bytes
from gacert.errors import OutputError, UsageError
from gacert.fsutil import read_regular, write_atomic
from gacert.model import Policy
from gacert.package.build import (
    Package,
    PackageOptions,
    check_options,
    tarball_path,
    write_package,
)
from gacert.package.manifest import MANIFEST_NAME, RESULTS_NAME
from gacert.package.verify import MAX_KEPT_BYTES, verify_and_read
from gacert.policy.load import load_policy
from gacert.policy.params import resolve_params
from gacert.report.render import policy_templates, template_problem


@dataclass(frozen=True)
class RegradeOptions:
    results: str  # a results.json, a package directory or a package tarball
    policy_path: str
    output_dir: str
    overrides: tuple[str, ...] = ()
    package: PackageOptions = field(default_factory=PackageOptions)
    # Another baseline than the one the run compared with (--baseline); None: the
    # values the results recorded.
    baseline: str | None = None


@dataclass(frozen=True)
class RegradeOutput:
    document: ResultsDocument
    results_path: str
    package: Package
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Evidence:
    """A results document read for re-grading, and where it came from."""

    document: ResultsDocument
    origin: Origin
    package_dir: str | None  # the package directory it is in, if any


# What the evidence is read for, in the message that refuses a package that does
# not verify.
REGRADE_USE = "a re-grade of changed evidence would certify nothing"


def read_evidence(path: str, use: str = REGRADE_USE) -> Evidence:
    """The results document at `path`, verified first when it is (in) a package;
    `use` says, in a refusal, why it must verify."""
    package = _package_of(path)
    if package is None:
        try:
            # Only a regular file: a FIFO or a device named as results would never end;
            # and no more than a package may hold: a results file may be a bomb.
            data, size = read_regular(path, MAX_KEPT_BYTES + 1)
        except OSError as exc:
            raise OutputError(f"{path}: cannot read results: {exc.strerror or exc}") from None
        if size > MAX_KEPT_BYTES:
            raise OutputError(f"{path}: results are larger than {MAX_KEPT_BYTES >> 20} MiB; "
                              "not read")
        manifest = None
    else:
        data, manifest = _verified_results(package, path, use)
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise OutputError(f"{path}: cannot read results: {exc}") from None
    origin = Origin(path, hashlib.sha256(data).hexdigest(), manifest)
    return Evidence(check_results(document, path), origin,
                    package if os.path.isdir(package or "") else None)


def _package_of(path: str) -> str | None:
    """The package `path` is or is in: itself (a directory or tarball), or the directory
    of a results.json that has a manifest beside it; None for a lone results file."""
    if os.path.isdir(path):
        return path
    beside = os.path.join(os.path.dirname(path) or ".", MANIFEST_NAME)
    if os.path.basename(path) == RESULTS_NAME:
        return (os.path.dirname(path) or ".") if os.path.isfile(beside) else None
    # Anything else that is not JSON is read as a package tarball.
    return None if path.endswith(".json") else path


def _verified_results(package: str, given: str, use: str) -> tuple[bytes, str]:
    """The results.json of a package that verifies, and the SHA-256 of its manifest
    (which names every file of the package with its SHA-256)."""
    verification, read = verify_and_read(package, keep=(RESULTS_NAME,))
    if not verification.ok:
        problems = "; ".join(f.format() for f in verification.findings[:3])
        more = len(verification.findings) - 3
        raise OutputError(f"{given}: the package does not verify ({problems}"
                          f"{f'; and {more} more' if more > 0 else ''}); {use}: check it "
                          "with gacert verify")
    if RESULTS_NAME not in read:
        raise OutputError(f"{given}: results.json is larger than {MAX_KEPT_BYTES >> 20} MiB; "
                          "not read")
    # A package that verifies has its manifest: verification requires it.
    return read[RESULTS_NAME], hashlib.sha256(read[MANIFEST_NAME]).hexdigest()


def execute_regrade(options: RegradeOptions) -> RegradeOutput:
    """Re-grade the evidence; write results.json and the package into the output dir."""
    evidence = read_evidence(options.results)
    policy = load_policy(options.policy_path, template_problem)
    templates = policy_templates(policy)
    package_options = replace(options.package, policy_path=options.policy_path)
    check_options(options.output_dir, package_options)
    _refuse_overwriting(options.results, options.output_dir, package_options)
    params = resolve_params(policy.params, list(options.overrides))
    baseline = None
    if options.baseline is not None:
        from gacert.package.baseline import read_baseline  # it imports this module

        baseline = read_baseline(options.baseline)
    regraded = regrade(evidence.document, policy, params, baseline=baseline)
    overridden = {name: params[name] for name in _override_names(options.overrides)}
    document = regrade_document(regraded, evidence.origin, evidence.document, overridden)
    if templates.overrides:
        document["policy"]["report_templates"] = dict(templates.overrides)
    results_path = os.path.join(options.output_dir, RESULTS_NAME)
    os.makedirs(options.output_dir, exist_ok=True)
    written = results_bytes(document)
    write_atomic(results_path, written)
    package = write_package(document, results_path, options.output_dir, package_options,
                            templates, results=written)
    return RegradeOutput(document, results_path, package, regraded.changes)


def compare_on_evidence(evidence: Evidence, old: Policy, new: Policy) -> dict[str, Any]:
    """What a policy change does to stored evidence: the evidence judged by `old`, then
    that judged by `new` (each with its params' defaults), and every check that changed.

    Judging by `old` first, rather than taking the stored statuses, isolates the
    policy change from however the evidence was judged when it was collected."""
    by_old = regrade(evidence.document, old, resolve_params(old.params, []))
    judged = regrade_document(by_old, evidence.origin, evidence.document, {})
    by_new = regrade(judged, new, resolve_params(new.params, []))
    return {"path": evidence.origin.path, "results_sha256": evidence.origin.results_sha256,
            "window": {k: evidence.document["window"][k] for k in ("start", "end")},
            "recorded_status": evidence.document["status"], "old_status": by_old.run.status,
            "new_status": by_new.run.status,
            "changes": [change_document(c) for c in by_new.changes]}


def _override_names(overrides: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(item.partition("=")[0].strip() for item in overrides))


def _refuse_overwriting(origin: str, output_dir: str, options: PackageOptions) -> None:
    """The evidence re-graded is evidence still: a re-grade never writes over it."""
    origin_dir = origin if os.path.isdir(origin) else os.path.dirname(origin) or "."
    if os.path.isdir(output_dir) and os.path.samefile(origin_dir, output_dir):
        raise UsageError(f"--output {output_dir}: the evidence being re-graded is there; "
                         "write the re-grade to a directory of its own")
    tarball = tarball_path(output_dir, options)
    if tarball is not None and os.path.isfile(origin) and os.path.exists(tarball) \
            and os.path.samefile(origin, tarball):
        raise UsageError(f"the re-grade's tarball would replace {origin}, the evidence being "
                         "re-graded: give another --output or --tarball")

"""The certification package: reports, evidence, metadata, manifest and tarball.

A package is a directory:

    results.json                  the results document, byte for byte
    policy.yaml                   the exact policy file evaluated (its SHA-256 is in the results)
    report.md                     the short report
    GA_DAY_REPORT.md / .html      the GA Day report, and its self-contained HTML page
    GA_DAY_REPORT.pdf             when a PDF engine is installed
    REGRADE_DIFF.md               a re-grade only: the checks it changed, before and after
    EMAIL_SUMMARY.txt             plain text, ready to paste
    templates/...                 the policy's own report templates, if it names any
    artifacts/...                 evidence added with --include-artifacts
    certification_metadata.json   version, policy, window, verdict, files, manifest hash
    MANIFEST.sha256               every other file with its SHA-256 (`sha256sum -c` reads it)

and, unless skipped, a reproducible `<directory>.tar.gz` of it. Everything is
made from the results document, the policy file and its templates; no source
is contacted, so a package can be re-made offline with `gacert render`. The
results document names no file that is read: it may come from anywhere.
What is written, replaced and removed in the output directory follows
`gacert.package.ownership`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gacert import __version__
from gacert.document import ResultsDocument
from gacert.errors import OutputError, UsageError
from gacert.fsutil import (
    atomic_file,
    open_beneath,
    open_regular,
    real_directories_beneath,
    write_atomic,
)
from gacert.package.artifacts import ARTIFACTS_DIR, Artifact, collect_artifacts
from gacert.package.manifest import (
    MANIFEST_NAME,
    METADATA_NAME,
    POLICY_NAME,
    RESULTS_NAME,
    manifest_text,
    sha256_stream,
)
from gacert.package.ownership import (
    check_output_directory,
    check_tarball_target,
    proven_listing,
    remove_old_tarball,
    remove_stale,
)
from gacert.package.tarball import write_tarball
from gacert.policy.yamlsource import YamlLoadError, load_yaml
from gacert.report.budget import DEFAULT_RENDER_TIMEOUT
from gacert.report.html import render_html
from gacert.report.pdf import DEFAULT_PDF_MAX_CHECKS, PdfStatus, find_engine, write_pdf
from gacert.report.render import (
    PACKAGED_TEMPLATES,
    Templates,
    packaged_templates,
    render_email,
    render_ga_day,
    render_markdown,
    render_regrade_diff,
    templates_beside,
)
from gacert.timestamps import parse_timestamp

EMAIL_NAME = "EMAIL_SUMMARY.txt"
REPORT_NAME = "report.md"
GA_DAY_MD, GA_DAY_HTML, GA_DAY_PDF = "GA_DAY_REPORT.md", "GA_DAY_REPORT.html", "GA_DAY_REPORT.pdf"
REGRADE_DIFF_NAME = "REGRADE_DIFF.md"
TEMPLATES_DIR = PACKAGED_TEMPLATES
CERTIFICATION = {"pass": "certified", "warn": "certified_with_warnings",
                 "fail": "not_certified", "error": "not_evaluated"}
# What gacert writes at the top of a package: a directory holding only these is
# the remains of a package (a run stopped half-way) and may be written into.
OWN_NAMES = frozenset({RESULTS_NAME, POLICY_NAME, REPORT_NAME, GA_DAY_MD, GA_DAY_HTML,
                       GA_DAY_PDF, EMAIL_NAME, REGRADE_DIFF_NAME, METADATA_NAME, MANIFEST_NAME,
                       TEMPLATES_DIR, ARTIFACTS_DIR})


@dataclass(frozen=True)
class PackageOptions:
    policy_path: str | None = None  # the policy file; None: found from the results
    artifacts: tuple[str, ...] = ()  # --include-artifacts
    kept: tuple[Artifact, ...] = ()  # artifacts of the package being re-rendered
    tarball: bool = True  # False with --certify-only
    tarball_path: str | None = None  # None: <directory>.tar.gz beside the directory
    pdf: bool = True  # False with --no-pdf
    allow_nonempty: bool = False  # --allow-nonempty-output
    render_timeout: float = DEFAULT_RENDER_TIMEOUT  # --render-timeout, a policy's templates
    pdf_max_checks: int = DEFAULT_PDF_MAX_CHECKS  # --pdf-max-checks


@dataclass(frozen=True)
class PackageFile:
    name: str  # path inside the package
    size: int
    sha256: str


@dataclass(frozen=True)
class Package:
    directory: str
    files: tuple[PackageFile, ...]  # every file but the manifest, in package order
    pdf: PdfStatus
    manifest_sha256: str
    tarball: str | None
    tarball_size: int | None


def tarball_path(output_dir: str, options: PackageOptions) -> str | None:
    """Where the tarball goes; refused inside the package, where it would be an extra
    file, and over any file that is not a gacert tarball (the policy above all)."""
    if not options.tarball:
        return None
    directory = os.path.normpath(os.path.abspath(output_dir))
    if os.path.dirname(directory) == directory:
        raise UsageError(f"--output {output_dir}: a package needs a directory of its own")
    path = options.tarball_path or directory + ".tar.gz"
    if os.path.commonpath([os.path.abspath(path), directory]) == directory:
        raise UsageError(f"--tarball {path}: the tarball cannot be inside the package "
                         f"directory {output_dir}")
    check_tarball_target(path, [options.policy_path] if options.policy_path else [])
    return path if options.tarball_path or os.path.isabs(output_dir) else os.path.relpath(path)


def report_names(*, pdf: bool) -> tuple[str, ...]:
    """The report files a package will hold (the PDF when wanted and an engine is
    installed), for an email sent before the package is written."""
    names = (REPORT_NAME, GA_DAY_MD, GA_DAY_HTML)
    return (*names, GA_DAY_PDF) if pdf and find_engine()[0] is not None else names


def check_options(output_dir: str, options: PackageOptions) -> list[Artifact]:
    """Refuse bad packaging options, and an output that is not ours or cannot be
    written, before a run spends time fetching."""
    tarball_path(output_dir, options)
    artifacts = _artifacts(options)
    check_output_directory(output_dir, OWN_NAMES, allow_nonempty=options.allow_nonempty)
    return artifacts


def _artifacts(options: PackageOptions) -> list[Artifact]:
    """The artifacts given and those kept from an earlier package, each name once."""
    given = collect_artifacts(options.artifacts)
    names = {a.name: a for a in given}
    for artifact in options.kept:
        if artifact.name in names:
            raise UsageError(f"--include-artifacts {names[artifact.name].source}: the "
                             f"package already has {artifact.name}")
        names[artifact.name] = artifact
    return [names[name] for name in sorted(names)]


def find_policy(document: ResultsDocument, results_path: str, given: str | None) -> str:
    """The file holding the exact policy the results were evaluated with.

    Looked for at --policy, else as policy.yaml beside the results (inside a
    package), never at a path the results name: they may come from anywhere.
    Its SHA-256 must be the one the results record, so that an edited policy
    is never packaged.
    """
    wanted = document["policy"]["sha256"]
    candidate = given or os.path.join(os.path.dirname(results_path), POLICY_NAME)
    try:
        with _open_policy(candidate, given is not None) as stream:
            found = sha256_stream(stream)
    except OSError as exc:
        hint = "" if given else ": give it with --policy"
        raise OutputError(f"the policy file evaluated (SHA-256 {wanted}) is not found at "
                          f"{candidate} ({exc.strerror or exc}){hint}") from None
    if found != wanted:
        raise OutputError(f"the policy evaluated had SHA-256 {wanted}; {candidate} has "
                          "another: give the exact file with --policy")
    return candidate


def _open_policy(path: str, given: bool) -> Any:
    # policy.yaml of a package is opened without following a link out of it.
    if given:
        return open_regular(path)
    return open_beneath(os.path.dirname(path) or ".", POLICY_NAME)


def templates_for(policy_file: str, given: bool, results_dir: str) -> Templates:
    """The report templates the policy file names: beside a policy the user gave
    (trusted like code), else the package's own copies under templates/ only."""
    named = template_names(policy_file)
    if given:
        return templates_beside(policy_file, named)
    return packaged_templates(results_dir, named)


def template_names(policy_file: str) -> dict[str, str]:
    """`report.templates` of a policy file (kind -> path as written), read with the
    policy loader's bounds but without validating the rest."""
    try:
        with open_regular(policy_file) as stream:
            raw = stream.read()
        data = load_yaml(raw, policy_file).data
    except (OSError, YamlLoadError) as exc:
        raise OutputError(f"{policy_file}: cannot read the report templates it names: "
                          f"{exc}") from None
    report = data.get("report") if isinstance(data, dict) else None
    named = report.get("templates") if isinstance(report, dict) else None
    if not isinstance(named, dict):
        return {}
    return {str(kind): path for kind, path in named.items() if isinstance(path, str)}


def write_package(document: ResultsDocument, results_path: str, output_dir: str,
                  options: PackageOptions, templates: Templates | None = None, *,
                  results: bytes | None = None) -> Package:
    """Write the package directory (and tarball) for a results document.

    `templates` are those of the run; without them (re-rendering) they come
    from the policy file, see `templates_for`. `results`, when given, are the
    bytes of results_path, just written by the caller. What is written here
    (the reports, the metadata, the manifest, and `results`) is hashed and
    archived from memory, never read back; only files copied in are read.
    """
    tarball = tarball_path(output_dir, options)
    artifacts = _artifacts(options)
    policy_file = find_policy(document, results_path, options.policy_path)
    if templates is None:
        templates = templates_for(policy_file, options.policy_path is not None,
                                  os.path.dirname(results_path))
    templates = replace(templates, timeout_seconds=options.render_timeout)
    check_output_directory(output_dir, OWN_NAMES, allow_nonempty=options.allow_nonempty)
    previous = proven_listing(output_dir) or {}
    if tarball is not None:
        remove_old_tarball(tarball)
    written: dict[str, bytes] = {}  # what is written here, by name: never read back
    if results is not None and _same_file(results_path, os.path.join(output_dir, RESULTS_NAME)):
        written[RESULTS_NAME] = results
        names = [RESULTS_NAME]
    else:
        names = [_copy(results_path, output_dir, RESULTS_NAME)]
    names += [_copy(policy_file, output_dir, POLICY_NAME),
              *_copy_templates(templates, output_dir)]
    reports, pdf = _write_reports(document, output_dir, templates, options, written)
    names += reports
    names += [_copy_artifact(a, output_dir) for a in artifacts]
    digests = {name: _digest(output_dir, name, written) for name in names}
    manifest_hash = hashlib.sha256(manifest_text(digests).encode("utf-8")).hexdigest()
    files = [PackageFile(n, _size(output_dir, n, written), digests[n]) for n in names]
    metadata = certification_metadata(document, files, pdf, manifest_hash)
    _write_text(output_dir, METADATA_NAME, json.dumps(metadata, indent=2, ensure_ascii=False)
                + "\n", written)
    digests[METADATA_NAME] = _digest(output_dir, METADATA_NAME, written)
    files.append(PackageFile(METADATA_NAME, len(written[METADATA_NAME]),
                             digests[METADATA_NAME]))
    _write_text(output_dir, MANIFEST_NAME, manifest_text(digests), written)
    remove_stale(output_dir, previous, {*digests, MANIFEST_NAME})
    size = None
    if tarball is not None:
        size = write_tarball(tarball, output_dir,
                             {name: written.get(name) for name in [*digests, MANIFEST_NAME]},
                             tarball_prefix(document), _window_end(document))
    return Package(output_dir, tuple(files), pdf, manifest_hash, tarball, size)


def _same_file(source: str, target: str) -> bool:
    return os.path.exists(target) and os.path.samefile(source, target)


def _digest(output_dir: str, name: str, written: dict[str, bytes]) -> str:
    if name in written:
        return hashlib.sha256(written[name]).hexdigest()
    with open_beneath(output_dir, name) as stream:
        return sha256_stream(stream)


def _size(output_dir: str, name: str, written: dict[str, bytes]) -> int:
    if name in written:
        return len(written[name])
    return os.path.getsize(os.path.join(output_dir, name))


def _write_reports(document: ResultsDocument, output_dir: str, templates: Templates,
                   options: PackageOptions, written: dict[str, bytes]
                   ) -> tuple[list[str], PdfStatus]:
    """report.md, the GA Day report as Markdown, HTML and PDF, and the email summary;
    the GA Day report is rendered once, for its Markdown, HTML and PDF alike."""
    _write_text(output_dir, REPORT_NAME, render_markdown(document, templates), written)
    ga_day = render_ga_day(document, templates)
    _write_text(output_dir, GA_DAY_MD, ga_day, written)
    html = render_html(document, ga_day, templates)
    _write_text(output_dir, GA_DAY_HTML, html, written)
    names = [REPORT_NAME, GA_DAY_MD, GA_DAY_HTML]
    pdf_path = os.path.join(output_dir, GA_DAY_PDF)
    pdf = write_pdf(html, pdf_path, wanted=options.pdf, checks=len(document["checks"]),
                    max_checks=options.pdf_max_checks)
    if pdf.written:
        names.append(GA_DAY_PDF)  # an old one, when none is written, goes as a stale file
    if document.get("regrade"):
        _write_text(output_dir, REGRADE_DIFF_NAME, render_regrade_diff(document), written)
        names.append(REGRADE_DIFF_NAME)
    _write_text(output_dir, EMAIL_NAME, render_email(document, templates, files=tuple(names)),
                written)
    return [*names, EMAIL_NAME], pdf


def _waivers_and_score(document: ResultsDocument) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if "waivers" in document:
        extra["waived"] = document["waivers"]["waived"]
        extra["waivers"] = [{"check": c["id"], **c["waiver"]}
                            for c in document["checks"] if "waiver" in c]
    if "score" in document:
        score = document["score"]
        extra["score"] = {"value": score["value"], "status": score["status"],
                          "pass_at": score["pass_at"], "warn_at": score["warn_at"]}
    return extra


def certification_metadata(document: ResultsDocument, files: Sequence[PackageFile],
                           pdf: PdfStatus, manifest_sha256: str) -> dict[str, Any]:
    """certification_metadata.json: what the package certifies and what it holds.

    `generated_at` is when the results were produced (not when they were
    rendered), so that the same results always give the same package.
    `manifest_sha256` is the SHA-256 of the manifest lines of every file
    listed here: MANIFEST.sha256 without the line of this file. `overrides`
    counts the values the run used instead of the committed policy's (listed
    under `overridden`), so that a package made with them is never taken for
    one made from policy.yaml alone. `waivers` lists every waiver of the policy
    (in force or expired, with its reason, approver and expiry) and `waived`
    the gate checks they took out of the verdict; `score` is the optional
    score; `baseline` names the previous run the checks were compared with
    (its results' SHA-256, and its manifest's when it was a verified package).
    Each is written only when the results have it.
    """
    policy, window = document["policy"], document["window"]
    overrides = document.get("overrides") or []
    return {
        "gacert_version": __version__,
        "results_gacert_version": document.get("gacert_version"),
        "policy": {"name": policy["name"], "title": policy.get("title"),
                   "sha256": policy["sha256"], "file": POLICY_NAME,
                   "evaluated_path": policy.get("path")},
        "window": {"start": window["start"], "end": window["end"],
                   "duration_seconds": window["duration_seconds"]},
        "generated_at": document["timings"]["finished_at"],
        "verdict": document["status"],
        "certification": CERTIFICATION[document["status"]],
        "overrides": len(overrides),
        "overridden": [{"name": o["name"], "kind": o["kind"], "committed": o["default"],
                        "used": o["value"], "origin": o["origin"]} for o in overrides],
        "summary": document.get("summary"),
        "pdf": {"written": pdf.written, "engine": pdf.engine, "reason": pdf.reason or None},
        "files": [{"path": f.name, "size": f.size, "sha256": f.sha256} for f in files],
        "total_files": len(files),
        "total_size_bytes": sum(f.size for f in files),
        "manifest_sha256": manifest_sha256,
        **_waivers_and_score(document),
        # A re-grade names the evidence it judged again (see REGRADE_DIFF.md).
        **({"regrade_of": document["regrade"]["origin"]} if document.get("regrade") else {}),
        # The last release's results the checks were compared with (--baseline).
        **({"baseline": document["baseline"]} if document.get("baseline") else {}),
    }


def tarball_prefix(document: ResultsDocument) -> str:
    """The directory inside the tarball: from the results, so it never varies."""
    end = parse_timestamp(document["window"]["end"], "window.end")
    return f"{document['policy']['name']}-{end:%Y%m%dT%H%M%SZ}"


def _window_end(document: ResultsDocument) -> int:
    return int(parse_timestamp(document["window"]["end"], "window.end").timestamp())


def _write_text(output_dir: str, name: str, text: str, written: dict[str, bytes]) -> None:
    data = text.encode("utf-8")
    write_atomic(os.path.join(output_dir, name), data)
    written[name] = data


def _copy(source: str, output_dir: str, name: str) -> str:
    """Copy a file into the package byte for byte, atomically; returns its name."""
    with open_regular(source) as original:
        return _copy_stream(original, output_dir, name)


def _copy_artifact(artifact: Artifact, output_dir: str) -> str:
    """An artifact given on the command line, or kept from the package re-rendered
    (read inside that package without following a link)."""
    if artifact.beneath is None:
        return _copy(artifact.source, output_dir, artifact.name)
    return _copy_stream_beneath(artifact.beneath, artifact.name, output_dir)


def _copy_stream(original: Any, output_dir: str, name: str) -> str:
    target = os.path.join(output_dir, name)
    if os.path.exists(target) and not os.path.islink(target) \
            and os.path.samestat(os.fstat(original.fileno()), os.stat(target)):
        return name  # re-rendered in place: the file is already there
    real_directories_beneath(output_dir, name)
    with atomic_file(target) as stream:
        shutil.copyfileobj(original, stream)
    return name


def _copy_templates(templates: Templates, output_dir: str) -> list[str]:
    """The policy's own templates, under templates/, so that the package re-renders."""
    names: dict[str, str] = {}
    for path in templates.overrides.values():
        name = f"{TEMPLATES_DIR}/{os.path.basename(path)}"
        if names.get(name, path) != path:
            raise OutputError(f"report templates {names[name]} and {path} have the same "
                              "file name; a package stores them side by side")
        names[name] = path
    if templates.confined:  # a package's own copies, read without following a link
        return [_copy_stream_beneath(os.path.dirname(os.path.dirname(path)), name, output_dir)
                for name, path in sorted(names.items())]
    return [_copy(path, output_dir, name) for name, path in sorted(names.items())]


def _copy_stream_beneath(root: str, name: str, output_dir: str) -> str:
    with open_beneath(root, name) as original:
        return _copy_stream(original, output_dir, name)

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
made from the results document (and the files it names); no source is
contacted, so a package can be re-made offline with `gacert render`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gacert import __version__
from gacert.document import ResultsDocument
from gacert.errors import OutputError
from gacert.fsutil import atomic_file, write_atomic
from gacert.package.manifest import (
    MANIFEST_NAME,
    METADATA_NAME,
    POLICY_NAME,
    RESULTS_NAME,
    manifest_text,
    parse_manifest,
    sha256_file,
)
from gacert.package.options import PackageOptions, package_artifacts, tarball_path
from gacert.package.tarball import write_tarball
from gacert.report.html import render_html
from gacert.report.pdf import PdfStatus, write_pdf
from gacert.report.render import (
    render_email,
    render_ga_day,
    render_markdown,
    render_regrade_diff,
)
from gacert.report.templates import Templates, resolve_templates
from gacert.timestamps import parse_timestamp

EMAIL_NAME = "EMAIL_SUMMARY.txt"
REPORT_NAME = "report.md"
GA_DAY_MD, GA_DAY_HTML, GA_DAY_PDF = "GA_DAY_REPORT.md", "GA_DAY_REPORT.html", "GA_DAY_REPORT.pdf"
REGRADE_DIFF_NAME = "REGRADE_DIFF.md"
TEMPLATES_DIR = "templates"
CERTIFICATION = {"pass": "certified", "warn": "certified_with_warnings",
                 "fail": "not_certified", "error": "not_evaluated"}


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


def find_policy(document: ResultsDocument, results_path: str, given: str | None) -> str:
    """The file holding the exact policy the results were evaluated with.

    Looked for at --policy, else at the path the results record, else as
    policy.yaml beside the results (inside a package); its SHA-256 must be the
    one the results record, so that an edited policy is never packaged.
    """
    wanted = document["policy"]["sha256"]
    recorded = document["policy"].get("path")
    beside = os.path.join(os.path.dirname(results_path), POLICY_NAME)
    found = [given] if given else [p for p in (recorded, beside) if p]
    candidates = list(dict.fromkeys(os.path.normpath(p) for p in found))
    differing = []
    for candidate in candidates:
        if os.path.isfile(candidate):
            if sha256_file(candidate) == wanted:
                return candidate
            differing.append(candidate)
    if differing:
        verb = "has" if len(differing) == 1 else "have"
        raise OutputError(f"the policy evaluated had SHA-256 {wanted}; "
                          f"{' and '.join(differing)} {verb} another: give the exact file "
                          "with --policy")
    raise OutputError(f"the policy file evaluated (SHA-256 {wanted}) is not found at "
                      f"{' or '.join(candidates)}: give it with --policy")


def write_package(document: ResultsDocument, results_path: str, output_dir: str,
                  options: PackageOptions, templates: Templates | None = None, *,
                  results: bytes | None = None) -> Package:
    """Write the package directory (and tarball) for a results document.

    `results`, when given, are the bytes of results_path, just written by the
    caller: they are hashed and archived from memory, never read back. Every
    report is rendered once, written once and hashed from memory; only files
    copied in (the policy, templates, artifacts) are read, once each while
    copying, and again when archived, streamed.
    """
    tarball = tarball_path(output_dir, options)
    artifacts = package_artifacts(options)
    templates = templates or resolve_templates(document, os.path.dirname(results_path))
    policy_file = find_policy(document, results_path, options.policy_path)
    os.makedirs(output_dir, exist_ok=True)
    previous = _previous_files(output_dir)
    files = _Files(output_dir)
    if results is None:
        files.copy(results_path, RESULTS_NAME)
    else:
        files.put(RESULTS_NAME, results, already_at=results_path)
    files.copy(policy_file, POLICY_NAME)
    _copy_templates(templates, files)
    pdf = _write_reports(document, files, templates, wanted_pdf=options.pdf)
    for artifact in artifacts:
        files.copy(artifact.source, artifact.name)
    listed = list(files.written.values())
    digests = {f.name: f.sha256 for f in listed}
    manifest_hash = hashlib.sha256(manifest_text(digests).encode("utf-8")).hexdigest()
    metadata = certification_metadata(document, listed, pdf, manifest_hash)
    files.text(METADATA_NAME, json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    digests[METADATA_NAME] = files.written[METADATA_NAME].sha256
    files.text(MANIFEST_NAME, manifest_text(digests))
    _remove_stale(output_dir, previous - set(files.written))
    size = None
    if tarball is not None:
        size = write_tarball(tarball, output_dir, files.data, tarball_prefix(document),
                             _window_end(document))
    return Package(output_dir, tuple(f for f in files.written.values() if f.name != MANIFEST_NAME),
                   pdf, manifest_hash, tarball, size)


class _Files:
    """The files of a package as they are written, in package order, each with its
    SHA-256 and size; `data` holds the bytes of those made here (None for those
    copied in), so that the tarball never reads back what is in memory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.written: dict[str, PackageFile] = {}
        self.data: dict[str, bytes | None] = {}

    def text(self, name: str, text: str) -> None:
        self.put(name, text.encode("utf-8"))

    def put(self, name: str, data: bytes, already_at: str | None = None) -> None:
        """Write `data` as `name`, unless `already_at` is that file, written just now."""
        target = os.path.join(self.directory, name)
        if already_at is None or not _same_file(already_at, target):
            write_atomic(target, data)
        self._record(name, hashlib.sha256(data).hexdigest(), len(data), data)

    def copy(self, source: str, name: str) -> None:
        """Copy a file into the package byte for byte, atomically, hashing it on the way."""
        target = os.path.join(self.directory, name)
        if _same_file(source, target):
            self._record(name, sha256_file(target), os.path.getsize(target), None)
            return
        digest, size = hashlib.sha256(), 0
        with atomic_file(target) as stream, open(source, "rb") as original:
            while chunk := original.read(_CHUNK):
                digest.update(chunk)
                stream.write(chunk)
                size += len(chunk)
        self._record(name, digest.hexdigest(), size, None)

    def _record(self, name: str, sha256: str, size: int, data: bytes | None) -> None:
        self.written[name] = PackageFile(name, size, sha256)
        self.data[name] = data


_CHUNK = 1 << 20


def _same_file(source: str, target: str) -> bool:
    return os.path.exists(target) and os.path.samefile(source, target)


def _write_reports(document: ResultsDocument, files: _Files, templates: Templates, *,
                   wanted_pdf: bool) -> PdfStatus:
    """report.md, the GA Day report as Markdown, HTML and PDF, and the email summary;
    the GA Day report is rendered once, for its Markdown, HTML and PDF alike."""
    files.text(REPORT_NAME, render_markdown(document, templates))
    ga_day = render_ga_day(document, templates)
    files.text(GA_DAY_MD, ga_day)
    html = render_html(document, ga_day, templates)
    files.text(GA_DAY_HTML, html)
    pdf_path = os.path.join(files.directory, GA_DAY_PDF)
    pdf = write_pdf(html, pdf_path, wanted=wanted_pdf)
    if pdf.written:
        files.copy(pdf_path, GA_DAY_PDF)
    elif os.path.lexists(pdf_path):
        os.unlink(pdf_path)  # an old PDF would not match the reports beside it
    if document.get("regrade"):
        files.text(REGRADE_DIFF_NAME, render_regrade_diff(document))
    shown = tuple(name for name in files.written if name not in (RESULTS_NAME, POLICY_NAME)
                  and not name.startswith(TEMPLATES_DIR + "/"))
    files.text(EMAIL_NAME, render_email(document, templates, files=shown))
    return pdf


def certification_metadata(document: ResultsDocument, files: Sequence[PackageFile],
                           pdf: PdfStatus, manifest_sha256: str) -> dict[str, Any]:
    """certification_metadata.json: what the package certifies and what it holds.

    `generated_at` is when the results were produced (not when they were
    rendered), so that the same results always give the same package.
    `manifest_sha256` is the SHA-256 of the manifest lines of every file
    listed here: MANIFEST.sha256 without the line of this file.
    """
    policy, window = document["policy"], document["window"]
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
        "summary": document.get("summary"),
        "pdf": {"written": pdf.written, "engine": pdf.engine, "reason": pdf.reason or None},
        "files": [{"path": f.name, "size": f.size, "sha256": f.sha256} for f in files],
        "total_files": len(files),
        "total_size_bytes": sum(f.size for f in files),
        "manifest_sha256": manifest_sha256,
        # A re-grade names the evidence it judged again (see REGRADE_DIFF.md).
        **({"regrade_of": document["regrade"]["origin"]} if document.get("regrade") else {}),
    }


def tarball_prefix(document: ResultsDocument) -> str:
    """The directory inside the tarball: from the results, so it never varies."""
    end = parse_timestamp(document["window"]["end"], "window.end")
    return f"{document['policy']['name']}-{end:%Y%m%dT%H%M%SZ}"


def _window_end(document: ResultsDocument) -> int:
    return int(parse_timestamp(document["window"]["end"], "window.end").timestamp())


def _copy_templates(templates: Templates, files: _Files) -> None:
    """The policy's own templates, under templates/, so that the package re-renders."""
    names: dict[str, str] = {}
    for path in templates.overrides.values():
        name = f"{TEMPLATES_DIR}/{os.path.basename(path)}"
        if names.get(name, path) != path:
            raise OutputError(f"report templates {names[name]} and {path} have the same "
                              "file name; a package stores them side by side")
        names[name] = path
    for name, path in sorted(names.items()):
        files.copy(path, name)


def _previous_files(output_dir: str) -> set[str]:
    """The files an earlier package in this directory listed, to clear stale ones."""
    try:
        with open(os.path.join(output_dir, MANIFEST_NAME), encoding="utf-8") as handle:
            return set(parse_manifest(handle.read(), MANIFEST_NAME))
    except (OSError, UnicodeDecodeError, OutputError):
        return set()


def _remove_stale(output_dir: str, names: set[str]) -> None:
    """Remove files of an earlier package that this one does not have (an old
    artifact, a PDF), so that the directory holds exactly the new package."""
    for name in sorted(names):
        path = os.path.join(output_dir, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
        parent = os.path.dirname(name)
        while parent:
            try:
                os.rmdir(os.path.join(output_dir, parent))
            except OSError:
                break
            parent = os.path.dirname(parent)

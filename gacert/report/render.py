"""Render reports from the results document (never from the sources).

All layout lives in the Jinja2 templates of `report_templates/`; this module
hands them the results document, the filters that format and escape values,
and the helpers of `gacert.report.reportdata`. A policy may replace any built-in
template by kind (`report.templates` in the policy). The results document
records which files those were, but names nothing that is read: results come
from elsewhere, so re-rendering takes templates from the policy given on the
command line, or from the package's own `templates/` copies only.

Templates run in Jinja2's sandbox: a policy's template is as trusted as its
rule expressions, which run sandboxed too; it renders within a time and size
budget (`gacert.report.budget`).
"""

from __future__ import annotations

import functools
import os
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, cast

import jinja2
from markupsafe import Markup, escape

from gacert.document import CheckDocument, PolicyDocument, ResultsDocument
from gacert.errors import OutputError
from gacert.formatting import format_change, format_span, format_value, labels_text
from gacert.fsutil import open_beneath, open_regular
from gacert.model import Policy
from gacert.redact import printable, redact_text
from gacert.report import reportdata
from gacert.report.budget import DEFAULT_RENDER_TIMEOUT, BoundedSandbox, render_bounded

# Report kind -> built-in template. `html` is the page around the GA Day
# report once it is rendered to HTML (see gacert.report.html).
BUILTIN_TEMPLATES = {"report": "report.md.j2", "ga_day": "ga_day.md.j2",
                     "html": "ga_day.html.j2", "email": "email.txt.j2"}
# Built-in only: what a re-grade changed, and `gacert diff --format markdown`.
REGRADE_TEMPLATE, DIFF_TEMPLATE = "regrade_diff.md.j2", "policy_diff.md.j2"
BUILTIN_PREFIX = "builtin/"
MAX_TEMPLATE_BYTES = 1024 * 1024
# The statuses of a check that fail the verdict or leave it unjudged.
FAILING = ("fail", "no_data", "no_baseline", "insufficient", "error")
PACKAGED_TEMPLATES = "templates"  # where a package keeps its policy's own templates
STATUS_BADGES = {"pass": "✅ PASS", "warn": "⚠️ WARN", "fail": "❌ FAIL",
                 "no_data": "❔ NO DATA", "no_baseline": "📏 NO BASELINE",
                 "insufficient": "🕳️ INSUFFICIENT EVIDENCE",
                 "error": "💥 ERROR"}

# Markdown syntax that data (label values, reasons, error messages) must not
# carry into a report: emphasis, code, links and images, autolinks and HTML,
# table pipes, entities, and `{{` so that no placeholder-like text survives.
_MARKDOWN_SPECIAL = re.compile(
    r"[\\`*\[\]|~]"                         # always significant
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"  # `_` that may open or close emphasis
    r"|<(?=[A-Za-z/!?])"                    # a tag or an autolink
    r"|&(?=[#A-Za-z])"                      # an entity reference
    r"|(?<=\{)\{|(?<=\})\}")                # the second brace of `{{` and `}}`


def markdown_cell(text: Any) -> str:
    """Data as literal Markdown text, safe inside a table cell or a list item.

    Markdown syntax is backslash-escaped, so that a label value such as
    `[x](http://evil)` or `<script>` stays text in every Markdown renderer,
    and line breaks become spaces. Empty values read N/A.
    """
    value = "N/A" if text is None or text == "" else str(text)
    value = " ".join(value.split("\n")).replace("\r", " ")
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def code_fence(text: Any, info: str = "") -> str:
    """`text` as a fenced code block whose fence no backtick run inside can close."""
    body = str(text).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def percent(share: Any) -> str:
    """A share (0..1) a rule asks for, as written: 0.95 -> `95 %`."""
    return f"{float(share) * 100:g} %"


def hours(seconds: Any) -> str:
    """A duration in hours, without a useless fraction: 24 h, 1.5 h."""
    value = round(float(seconds) / 3600, 2)
    return f"{value:g} h"


@dataclass(frozen=True)
class Templates:
    """Which file renders each report kind: a policy's own, else the built-in."""

    overrides: Mapping[str, str] = field(default_factory=dict)  # kind -> file path
    # True for a package's templates: every file is read without following a link.
    confined: bool = False
    # A policy's templates render within this many seconds (gacert.report.budget).
    timeout_seconds: float = DEFAULT_RENDER_TIMEOUT

    def name(self, kind: str) -> str:
        return f"policy/{kind}" if kind in self.overrides else BUILTIN_TEMPLATES[kind]


def templates_beside(policy_path: str, named: Mapping[str, str]) -> Templates:
    """The templates a policy file names (`report.templates`), written relative to it:
    a policy the user runs or gives with `--policy` is trusted like code."""
    base = os.path.dirname(policy_path)
    return Templates({kind: os.path.normpath(os.path.join(base, path))
                      for kind, path in named.items()})


def packaged_templates(package_dir: str, named: Mapping[str, str]) -> Templates:
    """The copies a package holds in `templates/` of the templates its policy names.

    A package may come from anywhere: only files inside its `templates/`
    directory are used, each a regular file reached without a symbolic link,
    whatever path the policy wrote.
    """
    found: dict[str, str] = {}
    for kind, path in named.items():
        if kind not in BUILTIN_TEMPLATES:
            raise OutputError(f"the policy names a template for unknown report kind {kind!r} "
                              f"(known: {', '.join(BUILTIN_TEMPLATES)})")
        name = f"{PACKAGED_TEMPLATES}/{os.path.basename(path)}"
        try:
            open_beneath(package_dir, name).close()
        except OSError as exc:
            raise OutputError(f"report template {path} ({kind}) named by the policy: the "
                              f"package holds no usable {name} ({exc.strerror or exc})"
                              ) from None
        found[kind] = os.path.join(package_dir, name)
    return Templates(found, confined=True)


def policy_templates(policy: Policy) -> Templates:
    """The policy's own templates, their paths made relative to the working directory
    (they are written relative to the policy file)."""
    return templates_beside(policy.path, policy.report_templates)


class _Loader(jinja2.BaseLoader):
    """Built-in templates by name (also as builtin/NAME), a policy's as policy/KIND,
    and files beside a policy's templates, which they may include."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates
        self.loaded: set[str] = set()  # file names, to find template frames in errors
        self.directories = sorted({os.path.dirname(os.path.abspath(p))
                                   for p in templates.overrides.values()})

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        # No absolute names, no `..`: an include never reads outside the
        # template directories (a report must not carry /etc/passwd).
        if template.startswith("/") or ".." in template.split("/"):
            raise jinja2.TemplateNotFound(template)
        if template.startswith("policy/"):
            kind = template.removeprefix("policy/")
            if kind in self.templates.overrides:
                path = self.templates.overrides[kind]
                found = self._read(os.path.dirname(os.path.abspath(path)),
                                   os.path.basename(path))
                if found is None:
                    raise OutputError(f"report template {path}: cannot read: no such file")
                return found
        if not template.startswith(BUILTIN_PREFIX):
            for directory in self.directories:
                found = self._read(directory, template)
                if found is not None:
                    return found
        builtin = resources.files("gacert.report_templates").joinpath(
            template.removeprefix(BUILTIN_PREFIX))
        if "/" in template.removeprefix(BUILTIN_PREFIX) or not builtin.is_file():
            raise jinja2.TemplateNotFound(template)
        self.loaded.add(str(builtin))
        return builtin.read_text("utf-8"), str(builtin), lambda: True

    def _read(self, directory: str, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        """The template `name` in `directory`, None when there is none. A package's
        templates are read without following a link; any template must be a regular
        file (not a FIFO) of bounded size."""
        path = os.path.join(directory, name)
        try:
            opened = open_beneath(directory, name) if self.templates.confined \
                else open_regular(path)
            with opened as stream:
                data = stream.read(MAX_TEMPLATE_BYTES + 1)
            if len(data) > MAX_TEMPLATE_BYTES:
                raise OutputError(f"report template {path}: larger than "
                                  f"{MAX_TEMPLATE_BYTES:,} bytes")
            source = data.decode("utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise OutputError(f"report template {path}: cannot read: {exc}") from None
        self.loaded.add(path)
        return source, path, lambda: True


def plain_text(value: Any) -> Any:
    """What a Markdown or plain-text template prints: strings redacted and with their
    control characters made visible (`gacert.redact.printable`)."""
    return printable(value) if isinstance(value, str) else value


def html_text(value: Any) -> Markup:
    """A value escaped for HTML, braces included, so that data such as `{{ x }}`
    reads the same but never looks like a placeholder left in the page; text that
    is not markup yet is redacted first."""
    if isinstance(value, str) and not isinstance(value, Markup):
        value = redact_text(value)
    return Markup(str(escape(value)).replace("{", "&#123;").replace("}", "&#125;"))


def _environment(templates: Templates, *, html: bool) -> jinja2.Environment:
    # One environment per set of templates: Jinja2 caches compiled templates in
    # it, and compiling the GA Day report again for each render cost ~200 ms.
    return _cached_environment(tuple(sorted(templates.overrides.items())), templates.confined,
                               html)


@functools.lru_cache(maxsize=8)
def _cached_environment(overrides: tuple[tuple[str, str], ...], confined: bool,
                        html: bool) -> jinja2.Environment:
    templates = Templates(dict(overrides), confined)
    # The bytecode cache (a private directory under the system's temp dir)
    # spares a new process compiling the GA Day report again (~150 ms).
    # Its own file names: bytecode compiled before `*` and `**` were bounded
    # (BoundedSandbox) must never be loaded.
    env = BoundedSandbox(loader=_Loader(templates), undefined=jinja2.StrictUndefined,
                         bytecode_cache=jinja2.FileSystemBytecodeCache(
                             pattern="__gacert_jinja2_%s.cache"),
                         autoescape=html, keep_trailing_newline=True,
                         finalize=html_text if html else plain_text,
                         extensions=["jinja2.ext.do"],
                         trim_blocks=True, lstrip_blocks=True)
    env.filters.update(value=format_value, cell=markdown_cell, fence=code_fence,
                       labels=labels_text, hours=hours, tagged=reportdata.tagged,
                       span=format_span, percent=percent, change=format_change,
                       badge=lambda status: STATUS_BADGES.get(status, str(status).upper()))
    env.globals.update(reportdata.TEMPLATE_HELPERS)
    return env


def render_template(kind: str, templates: Templates, *, html: bool = False,
                    **context: Any) -> str:
    """Render the template of `kind`; any error names the template file and line."""
    return _render(templates.name(kind), templates, html=html, context=context)


def _render(name: str, templates: Templates, *, html: bool,
            context: Mapping[str, Any]) -> str:
    env = _environment(templates, html=html)
    loader = env.loader
    assert isinstance(loader, _Loader)
    try:
        template = env.get_template(name)
        own = templates.overrides.get(name.removeprefix("policy/"))
        if own is not None and name.startswith("policy/"):  # bounded in time and size
            return render_bounded(template, context, timeout=templates.timeout_seconds,
                                  label=f"report template {own}")
        return template.render(**context)
    except OutputError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise OutputError(f"report template {exc.filename or name}:{exc.lineno}: "
                          f"{exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise OutputError(f"report template {name}: template {exc.name!r} not found "
                          "(built-in templates are named builtin/NAME)") from None
    except Exception as exc:
        where = _template_frame(exc, loader.loaded)
        if where is None:
            raise
        raise OutputError(f"report template {where}: {type(exc).__name__}: {exc}") from None


def check_templates(templates: Templates) -> None:
    """Compile every template of a run before anything is fetched, so that a typo
    in a template fails in a second rather than after the run."""
    for kind in BUILTIN_TEMPLATES:
        env = _environment(templates, html=kind == "html")
        name = templates.name(kind)
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise OutputError(f"report template {exc.filename or name}:{exc.lineno}: "
                              f"{exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise OutputError(f"report template {name}: template {exc.name!r} not found"
                              ) from None


def template_problem(kind: str, path: str) -> str:
    """Why the template at `path` cannot render reports of `kind`, or "" (for
    `gacert validate`, which hands this to the policy stage)."""
    try:
        check_templates(Templates({kind: path}))
    except OutputError as exc:
        return f"template does not compile: {exc}"
    return ""


def _template_frame(exc: BaseException, template_files: set[str]) -> str | None:
    """`file:line` of the innermost template frame of a rendering error.

    Jinja2 rewrites tracebacks so that template code shows with the template's
    file name and line; the innermost such frame is where the error is.
    """
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in template_files:
            return f"{frame.filename}:{frame.lineno}"
    return None


# Keys the results schema does not require, with the value that means "not
# given", so that templates need not test for each.
_CHECK_DEFAULTS: dict[str, Any] = {
    "description": "", "section": None, "source": "", "gate": True, "tags": [], "precision": 2,
    "decided_by": None, "expression": None, "no_data": "no_data", "mode": "instant",
    "over_time": None, "series_reduction": "each", "warnings": [], "duration_seconds": 0.0,
    "measurements": {}, "evidence": {}, "slo": None, "coverage": None,
}


def complete(document: ResultsDocument) -> ResultsDocument:
    """The results document with every optional key present (a copy)."""
    policy: PolicyDocument = {"title": None, "path": None, "description": "", "labels": {},
                              "report_templates": {}, **document["policy"]}
    policy["report_title"] = (policy.get("report_title") or policy["title"]
                              or policy["name"])
    return {
        "params": {}, "sources": [], "sections": [], "overrides": [], **document,
        "policy": policy, "summary": {"insufficient": 0, "no_baseline": 0, **document["summary"]},
        "exit_code": document.get("exit_code", {"pass": 0, "warn": 0, "fail": 1}.get(
            document["status"], 3)),
        "timings": {"fetch_seconds": None, **document["timings"]},
        "checks": [_complete_check(check) for check in document["checks"]],
    }


def _complete_check(check: CheckDocument) -> CheckDocument:
    # A cast: mypy cannot check a TypedDict built over a plain dict of defaults.
    return cast(CheckDocument, {**_CHECK_DEFAULTS, **check,
                                "rules": {"pass": None, "warn": None, "fail": None,
                                          **(check.get("rules") or {})}})


def _sections(document: ResultsDocument) -> list[dict[str, Any]]:
    checks = {c["id"]: c for c in document["checks"]}
    return [{**s, "items": [checks[i] for i in s["checks"] if i in checks]}
            for s in document.get("sections", [])]


def markdown_context(document: ResultsDocument) -> dict[str, Any]:
    """What the Markdown templates receive: the document, its sections with
    their check results as `items`, and the checks that are not pass or warn."""
    document = complete(document)
    return {"doc": document, "sections": _sections(document),
            "failures": [c for c in document["checks"]
                         if c["status"] in FAILING]}


def render_markdown(document: ResultsDocument, templates: Templates | None = None) -> str:
    """The short Markdown report (report.md) for a results document."""
    return render_template("report", templates or Templates(), **markdown_context(document))


def render_ga_day(document: ResultsDocument, templates: Templates | None = None) -> str:
    """The GA Day report (GA_DAY_REPORT.md) for a results document."""
    return render_template("ga_day", templates or Templates(), **markdown_context(document))


def render_ci_summary(document: ResultsDocument, **context: Any) -> str:
    """The Markdown job summary a CI system shows for a run (GitHub's step summary).

    Built in only: it is part of the CI integration, not a report a policy lays out.
    """
    return _render(BUILTIN_PREFIX + "ci_summary.md.j2", Templates(), html=False,
                   context={**markdown_context(document), **context})


def render_email(document: ResultsDocument, templates: Templates | None = None,
                 files: tuple[str, ...] = ()) -> str:
    """The plain-text email summary; `files` are the reports written beside it."""
    return render_template("email", templates or Templates(), files=files,
                           **markdown_context(document))


def render_regrade_diff(document: ResultsDocument) -> str:
    """REGRADE_DIFF.md: the checks a re-grade changed, from its `regrade` record."""
    return _render_builtin(REGRADE_TEMPLATE, doc=complete(document))


def render_policy_diff(diff: Mapping[str, Any], evidence: Mapping[str, Any] | None) -> str:
    """`gacert diff --format markdown`: a policy diff (and, with evidence, what flips)
    as Markdown for a pull request comment."""
    return _render_builtin(DIFF_TEMPLATE, diff=diff, evidence=evidence)


def _render_builtin(name: str, **context: Any) -> str:
    try:
        return _environment(Templates(), html=False).get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise OutputError(f"report template {name}: {exc}") from None

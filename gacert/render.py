"""Render reports from the results document (never from the sources).

All layout lives in the Jinja2 templates of `report_templates/`; this module
only hands them the results document and a few formatting filters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2

from gacert.errors import OutputError
from gacert.fsutil import write_atomic

MARKDOWN_TEMPLATE = "report.md.j2"
STATUS_BADGES = {"pass": "✅ PASS", "warn": "⚠️ WARN", "fail": "❌ FAIL",
                 "no_data": "❔ NO DATA", "error": "💥 ERROR"}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):  # "NaN", "+Inf", "-Inf" in the document
        return float(value.replace("Inf", "inf"))
    return float(value)


def format_value(value: Any, unit: str = "", precision: int = 2) -> str:
    """A value for people: thousands separators, the check's precision, its unit."""
    number = _number(value)
    if number is None:
        return "N/A"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = f"{number:,.{precision}f}"
    return f"{text} {unit}" if unit else text


def markdown_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes or line breaks.

    HTML in data is not escaped here: Markdown is rendered to HTML with raw
    HTML disabled, which escapes it there, and the .md file stays readable.
    """
    value = "N/A" if text is None or text == "" else str(text)
    return value.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(_load_template)
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(value=format_value, cell=markdown_cell, labels=labels_text,
                       badge=lambda status: STATUS_BADGES.get(status, str(status).upper()))
    return env


def _load_template(name: str) -> str:
    return resources.files("gacert.report_templates").joinpath(name).read_text("utf-8")


def render_markdown(document: Mapping[str, Any]) -> str:
    """The Markdown report for a results document."""
    checks = {c["id"]: c for c in document["checks"]}
    sections = [{**s, "items": [checks[i] for i in s["checks"] if i in checks]}
                for s in document["sections"]]
    try:
        template = _environment().get_template(MARKDOWN_TEMPLATE)
        return template.render(doc=document, sections=sections,
                               failures=[c for c in document["checks"]
                                         if c["status"] in ("fail", "no_data", "error")])
    except jinja2.TemplateError as exc:
        where = getattr(exc, "lineno", None)
        raise OutputError(f"report template {MARKDOWN_TEMPLATE}"
                          f"{f':{where}' if where else ''}: {exc}") from None


def write_markdown_report(document: Mapping[str, Any], output_dir: str) -> str:
    path = os.path.join(output_dir, "report.md")
    write_atomic(path, render_markdown(document).encode("utf-8"))
    return path

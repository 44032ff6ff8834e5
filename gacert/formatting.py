"""Numbers and labels as people read them, shared by the terminal, reasons and reports."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any


def document_number(value: Any) -> float | None:
    """A number as results.json spells it (see gacert.engine.results.json_number) as a
    float; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):  # "NaN", "+Inf", "-Inf" in the document
        return float(value.replace("Inf", "inf"))
    return float(value)


def format_value(value: Any, unit: str | None = "", precision: int = 2) -> str:
    """A value for people: thousands separators, the check's precision, its unit."""
    number = document_number(value)
    if number is None:
        return "N/A"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = f"{number:,.{precision}f}"
    return f"{text} {unit}" if unit else text


# C0 and C1 control characters (but line feed and tab), DEL, and the invisible
# marks that reorder or hide text (bidi overrides and isolates, zero-width joiners).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e"
                       "\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("[\n\t]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`).

    Label values, reasons and error messages come from sources gacert does not
    trust: raw, an escape sequence could clear a terminal and paint a fake
    verdict, or reorder a report's text. Every text output (the terminal,
    Markdown reports, the email summary) passes through this one function;
    `one_line` also shows line breaks and tabs, for a field that must stay on
    its line.
    """
    text = _CONTROLS.sub(_escape, text)
    return _LINE_BREAKS.sub(_escape, text) if one_line else text


def labels_text(labels: Mapping[str, str]) -> str:
    """A series' labels for people, `service=api, zone=a`: sorted, without the metric name."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")


def format_bound(value: float, unit: str | None = "", precision: int = 2) -> str:
    """A threshold for people: like format_value, without trailing zeros (`1,000 ms`)."""
    text = f"{value:,.{precision}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}" if unit else text


def format_share(share: float) -> str:
    """A share of the window as a percentage, rounded down so that it never reads more
    than it is: 0.7536 -> `75.3 %`."""
    return f"{math.floor(share * 1000) / 10:.1f} %"


def format_span(seconds: float) -> str:
    """A length of time for people: `6h 00m`, `11h 55m`, `45m`, `1m 30s`, `2d 3h`."""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def format_change(relative: float | None) -> str:
    """A relative change for people: 7.236 -> `+723.6 %`, -0.031 -> `-3.1 %`."""
    if relative is None:
        return "n/a"
    return f"{relative * 100:+,.1f} %"


def baseline_text(baseline: Mapping[str, Any] | None, unit: str | None, precision: int) -> str:
    """A check's comparison with the baseline (its `baseline` in results.json) on one
    line: `baseline 302.6 ms, +723.6 %`, or `no baseline: why`; "" without one."""
    if baseline is None:
        return ""
    if baseline["value"] is None:
        return f"no baseline: {baseline['missing']}"
    text = f"baseline {format_value(baseline['value'], unit, precision)}"
    if baseline["relative_change"] is not None:
        text += f", {format_change(baseline['relative_change'])}"
    if not baseline["same_query"]:
        text += " (measured with another query)"
    return text

"""Numbers and labels as people read them, shared by the terminal, reasons and reports."""

from __future__ import annotations

import math
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


def labels_text(labels: Mapping[str, str]) -> str:
    """A series' labels for people, `service=api, zone=a`: sorted, without the metric name."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")

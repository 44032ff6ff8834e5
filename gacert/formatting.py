"""Numbers as people read them, shared by the terminal, reasons and reports."""

from __future__ import annotations

import math
from typing import Any


def parse_number(value: Any) -> float | None:
    """A number of the results document as a float: "NaN", "+Inf" and "-Inf" are
    how JSON holds the non-finite ones (see gacert.engine.results.json_number)."""
    if value is None:
        return None
    if isinstance(value, str):  # "NaN", "+Inf", "-Inf" in the document
        return float(value.replace("Inf", "inf"))
    return float(value)


def format_value(value: Any, unit: str | None = "", precision: int = 2) -> str:
    """A value for people: thousands separators, the check's precision, its unit."""
    number = parse_number(value)
    if number is None:
        return "N/A"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = f"{number:,.{precision}f}"
    return f"{text} {unit}" if unit else text

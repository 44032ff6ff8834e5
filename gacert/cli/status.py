"""Statuses as the terminal shows them, shared by every command's output.

Kept apart from `summary` (which imports the run and the package stages) so
that the fast commands, `diff` and `test`, print statuses without importing
Jinja2 or an HTTP client.
"""

from __future__ import annotations

import click

LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "no_data": "NODATA",
          "no_baseline": "NOBASE", "insufficient": "INSUFF", "error": "ERROR"}
COLOURS = {"pass": "green", "warn": "yellow", "fail": "red", "no_data": "magenta",
           "no_baseline": "magenta", "insufficient": "magenta", "error": "red"}


def status_label(status: str, width: int = 6) -> str:
    return click.style(LABELS[status].ljust(width), fg=COLOURS[status], bold=status != "pass")

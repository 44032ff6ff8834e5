"""GitHub Actions workflow commands (`::error file=...,line=...::message`), escaped
as the runner unescapes them, so that no reason or label value can end a
command early or forge another: `%`, CR and LF in the message, and `:` and
`,` too in property values.

Light on imports on purpose: `gacert validate` uses it in pre-commit hooks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from gacert.errors import Problem


def escape_data(text: str) -> str:
    """A workflow command's message, as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (file, title), as the runner unescapes it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """One workflow command line, e.g. `::error file=a.yaml,line=3::message`."""
    shown = ",".join(f"{key}={escape_property(str(value))}"
                     for key, value in properties.items() if value not in ("", 0))
    return f"::{name}{' ' + shown if shown else ''}::{escape_data(message)}"


def repository_path(path: str, workspace: str | None) -> str:
    """`path` relative to the repository checkout, as annotations need it."""
    if not path or not workspace:
        return path
    absolute = os.path.abspath(path)
    root = os.path.abspath(workspace)
    return os.path.relpath(absolute, root) if os.path.commonpath([absolute, root]) == root \
        else path


def problem_annotations(problems: Iterable[Problem], workspace: str | None = None
                        ) -> list[str]:
    """A workflow command for each problem `gacert validate` found, at its place."""
    levels = {"error": "error", "warning": "warning"}
    return [command(levels.get(p.severity, "notice"),
                    p.message + (f" ({p.hint})" if p.hint else ""),
                    file=repository_path(p.file, workspace), line=p.line, col=p.column,
                    title=f"gacert validate: {p.path or '$'}")
            for p in problems]

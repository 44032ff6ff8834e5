"""The exceptions gacert raises, one base and one subclass per stage.

    GacertError                 base; the CLI turns each into a message and an exit code
    ├── UsageError              bad command-line input (exit 2)
    ├── PolicyError             an invalid policy; carries every Problem found (exit 2)
    ├── SourceError             a source could not answer a query (recorded as a check
    │                           `error`, never raised past the fetch stage)
    └── OutputError             results or reports could not be written / read (exit 3)

Only the CLI converts these into exit codes; every other module raises or
records them. A rule that fails at run time (a str param compared with a
number) raises no GacertError: evaluation records the check as `error`
with the sentence of whatever the expression raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class GacertError(Exception):
    """Base of every error gacert reports to a user."""


class UsageError(GacertError):
    """The command line asks for something impossible (bad window, bad --set)."""


@dataclass(frozen=True)
class Problem:
    """One fault in a policy file, located as precisely as the YAML allows."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    path: str  # JSON-path-like location in the document, e.g. "checks[2].pass"
    message: str
    hint: str = ""
    severity: str = "error"  # "error" or "warning"

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.path or '$'}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.severity != "error":
            text = f"{where}: {self.severity}: {self.path or '$'}: {self.message}" + (
                f" ({self.hint})" if self.hint else ""
            )
        return text


class PolicyError(GacertError):
    """A policy is invalid; `problems` lists every fault found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


class SourceError(GacertError):
    """A source failed to produce data for a query (unreachable, bad answer, 4xx)."""


class OutputError(GacertError):
    """Results or reports could not be written or read."""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and what caused that (through exception groups).

    Adapters use it to find the root cause (connection refused, a timeout, a
    certificate) under the wrappers an HTTP or WebSocket library adds.
    """
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)

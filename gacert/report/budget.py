"""Bounds on rendering a policy's own template: time, output size, arithmetic.

Jinja2's sandbox keeps a template away from Python internals but not from
work: two nested loops over `range(100000)`, `"x" * 10**10` or `9 ** 9 ** 9`
would hang a run or fill its memory. A policy's template (and the package
copies `gacert render` uses) is therefore rendered with

- a deadline (`--render-timeout`, default 30 s), checked as the template's
  code runs, through a trace function on this thread only, so that a loop
  that prints nothing is stopped too;
- a cap on the text it produces (MAX_OUTPUT_CHARS), counted as it streams;
- refusal of `*` and `**` whose result would be huge.

The built-in templates are gacert's own code and render without the trace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from gacert.errors import OutputError

DEFAULT_RENDER_TIMEOUT = 30.0
MAX_OUTPUT_CHARS = 64 * 1024 * 1024
MAX_SEQUENCE_PRODUCT = 1024 * 1024  # items or characters made by one `*`
MAX_EXPONENT = 1000
_CHECK_EVERY = 1000  # trace events between looks at the clock

Tracer = Callable[[FrameType, str, Any], Any]


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with `*` and `**` refused when their result would be huge."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "**" and _is_number(right) and abs(right) > MAX_EXPONENT \
                and _is_number(left) and abs(left) > 1:
            raise SecurityError(f"a power with exponent {right} is refused in a template "
                                f"(at most {MAX_EXPONENT})")
        return super().call_binop(context, operator, left, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_product(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int) \
                and len(sequence) * count > MAX_SEQUENCE_PRODUCT:
            raise SecurityError(f"repeating {len(sequence):,} items {count:,} times is "
                                f"refused in a template (at most {MAX_SEQUENCE_PRODUCT:,})")


class _Deadline:
    """A trace function that raises OutputError once `seconds` have passed."""

    def __init__(self, seconds: float, label: str) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.label = label
        self.events = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Tracer:
        self.events += 1
        if self.events % _CHECK_EVERY == 0 and time.monotonic() > self.end:
            raise OutputError(f"{self.label}: rendering took longer than the render timeout "
                              f"({self.seconds:g} s; --render-timeout); a loop that does "
                              "not end, or one over far too much?")
        return self


def render_bounded(template: jinja2.Template, context: Mapping[str, Any], *,
                   timeout: float, label: str) -> str:
    """`template` rendered with `context` within `timeout` seconds and MAX_OUTPUT_CHARS."""
    previous = sys.gettrace()
    sys.settrace(_Deadline(timeout, label))
    try:
        return "".join(_capped(template.generate(**context), label))
    finally:
        sys.settrace(previous)


def _capped(chunks: Iterator[str], label: str) -> Iterator[str]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT_CHARS:
            raise OutputError(f"{label}: the report would be longer than "
                              f"{MAX_OUTPUT_CHARS:,} characters")
        yield chunk

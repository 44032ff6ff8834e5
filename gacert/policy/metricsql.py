"""What validation can check of a MetricsQL query without a MetricsQL parser.

VictoriaMetrics' MetricsQL extends PromQL (WITH templates, `rollup_*`,
`range_*` and many more functions, `#` comments, `keep_metric_names`...), and
no Python parser follows it; the PromQL parser would refuse much of it. So a
source with `dialect: metricsql` has its queries checked for what any
MetricsQL query must have, balanced brackets and closed strings, on top of the
params and variables that every query is checked for. The rest is said
plainly in a note, and left to the server.
"""

from __future__ import annotations

_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = {v: k for k, v in _OPENING.items()}
_QUOTES = "\"'`"


def balance_error(query: str) -> str | None:
    """Why `query` is not balanced (naming the column), or None when it is.

    Strings are "...", '...' (with backslash escapes) and `...` (raw); `#`
    starts a comment up to the end of the line, outside strings.
    """
    stack: list[tuple[str, int]] = []
    index = 0
    while index < len(query):
        char = query[index]
        if char in _QUOTES:
            end = _string_end(query, index)
            if end is None:
                return f"string opened with {char} at column {index + 1} is not closed"
            index = end
        elif char == "#":
            newline = query.find("\n", index)
            index = len(query) if newline < 0 else newline
        elif char in _OPENING:
            stack.append((char, index))
        elif char in _CLOSING:
            fault = _close(stack, char, index)
            if fault:
                return fault
        index += 1
    if stack:
        char, where = stack[-1]
        return f"{char!r} at column {where + 1} is not closed (expected {_OPENING[char]!r})"
    return None


def _string_end(query: str, start: int) -> int | None:
    """Index of the quote that closes the string opened at `start`, or None."""
    quote = query[start]
    index = start + 1
    while index < len(query):
        char = query[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            return index
        index += 1
    return None


def _close(stack: list[tuple[str, int]], char: str, index: int) -> str | None:
    if not stack:
        return f"{char!r} at column {index + 1} closes nothing"
    opening, where = stack.pop()
    if _OPENING[opening] != char:
        return (f"{char!r} at column {index + 1} does not close {opening!r} "
                f"opened at column {where + 1}")
    return None

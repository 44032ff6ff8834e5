"""promtool's series notation, for the input series of policy tests.

A series is written as in `promtool test rules`: a selector naming its labels,
`'{service="api"}'` or `'up{job="tars"}'`, and its values, one per interval:

    '1 2 3'       three samples
    '1+2x3'       1 3 5 7: starts at 1, then 3 more samples, each 2 higher
    '10-1x2'      10 9 8
    '5x3'         5 5 5 5 (short for 5+0x3)
    '_'           no sample at this step (a missed scrape); '_x3' is three of them
    'stale'       a staleness marker (the series went away at this step)

Numbers are as Prometheus writes them (`0.5`, `1e3`, `NaN`, `Inf`, `-Inf`).
The series of a policy test are what a check's query returns, so a missing
and a stale step read the same: the result has no point there (None). The
sample times are the caller's business.
"""

from __future__ import annotations

import re

__all__ = ["NotationError", "parse_labels", "parse_values"]

MAX_SAMPLES = 100_000  # a day of 1 s samples is 86,401; more is a typo
_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf)"
_EXPANDING = re.compile(rf"^(?P<start>{_NUMBER})(?:(?P<sign>[-+])(?P<step>{_NUMBER}))?"
                       r"x(?P<count>\d+)$")
_MISSING = re.compile(r"^_(?:x(?P<count>\d+))?$")
_METRIC = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL = re.compile(r'\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*')
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


class NotationError(ValueError):
    """The text is not in series notation; the message says which part and why."""


def parse_values(text: str) -> tuple[float | None, ...]:
    """The samples of `text`, one per interval; None where a step has no sample."""
    values: list[float | None] = []
    for word in text.split():
        values.extend(_expand(word))
        if len(values) > MAX_SAMPLES:
            raise NotationError(f"more than {MAX_SAMPLES:,} samples; a test needs far fewer")
    if not values:
        raise NotationError("no values; write samples such as '1 2 3' or '1+0x60'")
    return tuple(values)


def _expand(word: str) -> list[float | None]:
    if word == "stale":
        return [None]
    missing = _MISSING.match(word)
    if missing:
        # `_x3` is three missing samples (a gap cannot increment), as promtool reads it.
        return [None] * int(missing.group("count") or 1)
    expanding = _EXPANDING.match(word)
    if expanding:
        start = float(expanding.group("start"))
        step = float(expanding.group("step") or 0)
        if expanding.group("sign") == "-":
            step = -step
        count = int(expanding.group("count"))
        if count > MAX_SAMPLES:
            raise NotationError(f"{word!r}: more than {MAX_SAMPLES:,} samples")
        return [start + i * step for i in range(count + 1)]
    if re.fullmatch(_NUMBER, word):
        return [float(word)]
    raise NotationError(f"{word!r} is not a sample: write a number, 'a+bxN', 'a-bxN', "
                        "'axN', '_', '_xN' or 'stale'")


def parse_labels(text: str) -> dict[str, str]:
    """The labels of a selector: `{service="api"}`, `up{job="x"}` or `{}`.

    A metric name becomes the `__name__` label, as Prometheus stores it.
    """
    rest = text.strip()
    labels: dict[str, str] = {}
    metric = _METRIC.match(rest)
    if metric:
        labels["__name__"] = metric.group(0)
        rest = rest[metric.end():].strip()
        if not rest:
            return labels
    if not (rest.startswith("{") and rest.endswith("}")):
        raise NotationError(f"{text!r} is not a series selector: write "
                            "'{label=\"value\", ...}' (or metric{...}; '{}' for no labels)")
    body = rest[1:-1]
    position = 0
    while body[position:].strip():
        match = _LABEL.match(body, position)
        if not match:
            raise NotationError(f"{text!r}: expected label=\"value\" at "
                                f"{body[position:].strip()[:20]!r}")
        name = match.group("name")
        if name in labels:
            raise NotationError(f"{text!r}: label {name!r} is given twice")
        labels[name] = _unescape(match.group("value"))
        position = match.end()
        if position < len(body):
            if body[position] != ",":
                raise NotationError(f"{text!r}: expected ',' between labels")
            position += 1
    return labels


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)

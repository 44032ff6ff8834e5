"""Dotted paths into nested data: `latency.p99`, `json.status.replicas`, `tests.0.outcome`.

Probe, command and file sources name the value a check reads with such a
path (the check's `query`). A path is keys separated by dots; a key holding
dots or spaces is written in double quotes (`metrics."http_req_duration{tag:x}".avg`);
a whole number indexes a list. Only the standard library is used here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Path = tuple[str, ...]
# How many alternatives an error message lists before it says "...".
MAX_LISTED = 40


class PathError(ValueError):
    """The path is malformed or leads nowhere; the message says which keys exist."""


def parse_path(text: str) -> Path:
    """Split `text` into keys; raise PathError for an empty key or an open quote."""
    keys: list[str] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    for char in text.strip():
        if char == '"':
            quoted = not quoted
            was_quoted = True
        elif char == "." and not quoted:
            keys.append(_finish_key(current, was_quoted, text))
            current, was_quoted = [], False
        else:
            current.append(char)
    if quoted:
        raise PathError(f"path {text!r} has an unclosed double quote")
    keys.append(_finish_key(current, was_quoted, text))
    return tuple(keys)


def _finish_key(chars: list[str], was_quoted: bool, text: str) -> str:
    key = "".join(chars)
    if not was_quoted:
        key = key.strip()
    if not key and not was_quoted:
        raise PathError(f"path {text!r} has an empty key; write keys separated by single dots")
    return key


def format_path(path: Sequence[str | int]) -> str:
    """Keys joined by dots, quoted where parse_path needs it: `metrics."a.b".avg`.

    Integers are positions in a list of a policy document, written `[2]`:
    `checks[2].pass` names the pass rule of the third check in a problem.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = f'"{part}"' if _needs_quotes(part) else part
            text += f".{key}" if text else key
    return text


def _needs_quotes(key: str) -> bool:
    return not key or any(c in key for c in '. "') or key != key.strip()


def resolve(data: Any, path: Path, *, reveal: bool = True) -> Any:
    """The value at `path` in `data`; PathError names the first key that is missing,
    and, when `reveal`, the keys that are there (see `as_number`)."""
    current = data
    for depth, key in enumerate(path):
        current = _step(current, key, path[: depth + 1], reveal)
    return current


def _step(current: Any, key: str, so_far: Path, reveal: bool) -> Any:
    if isinstance(current, Mapping):
        if key in current:
            return current[key]
        where = format_path(so_far[:-1]) or "the document"
        if not reveal:
            raise PathError(f"no {format_path(so_far)!s}: {where} has no key {key!r}")
        raise PathError(f"no {format_path(so_far)!s}; {_choices(current, so_far[:-1])}")
    if isinstance(current, list):
        if key.lstrip("-").isdigit() and -len(current) <= int(key) < len(current):
            return current[int(key)]
        raise PathError(f"{format_path(so_far[:-1]) or 'the document'} is a list of "
                        f"{len(current)}; index it with 0 to {len(current) - 1}")
    where = format_path(so_far[:-1]) or "the document"
    raise PathError(f"{where} is {_kind(current)}, so it has no key {key!r}")


def _choices(mapping: Mapping[str, Any], prefix: Path) -> str:
    keys = [format_path((*prefix, str(k))) for k in mapping]
    if not keys:
        return f"{format_path(prefix) or 'the document'} is empty"
    shown = ", ".join(keys[:MAX_LISTED]) + (", ..." if len(keys) > MAX_LISTED else "")
    return f"there is: {shown}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def leaf_paths(data: Mapping[str, Any], prefix: Path = ()) -> Iterator[str]:
    """Every path in `data` that ends at a number (for "valid paths are ..." messages)."""
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            yield from leaf_paths(value, path)
        elif isinstance(value, bool | int | float):
            yield format_path(path)


def as_number(value: Any, path_text: str, *, reveal: bool = True) -> float | None:
    """A value a check can judge: numbers as they are, booleans as 1 or 0, numeric text
    parsed (many tools write numbers as strings), null as None (no data).

    Errors say what is at the path; with `reveal` false they say only its kind,
    never the keys or the text found there (evidence read from a file may hold
    secrets that must not travel into reports)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    if isinstance(value, Mapping):
        if not reveal:
            raise PathError(f"{path_text} is a mapping, not a number; name a key under it")
        raise PathError(f"{path_text} is a mapping, not a number; "
                        f"{_choices(value, parse_path(path_text))}")
    if isinstance(value, list):
        raise PathError(f"{path_text} is a list of {len(value)}, not a number; "
                        f"index it, e.g. {path_text}.0")
    if not reveal:
        raise PathError(f"{path_text} is {_kind(value)}, not a number")
    raise PathError(f"{path_text} is {_kind(value)} ({_clip(value)}), not a number")


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""Reading a source's settings: typed values, and a plain sentence naming the key when wrong.

Settings reach a source after the policy schema checked them and after
`${VAR}` references were replaced. A replaced value is text (`iterations:
${WS_ITERATIONS:-20}` arrives as "20"), so numbers, durations and flags are
read from text too. Only the standard library is used here, so that every
source module can build its configuration without importing a client library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gacert.durations import parse_duration


class Settings:
    """A read-only view of one mapping of settings; `where` prefixes error messages."""

    def __init__(self, data: Mapping[str, Any], where: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where or 'settings'} must be a mapping")
        self._data = data
        self._where = where

    def _name(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def has(self, key: str) -> bool:
        return self._data.get(key) not in (None, "")

    def raw(self, key: str) -> Any:
        return self._data.get(key)

    def section(self, key: str) -> Settings:
        value = self._data.get(key)
        return Settings({} if value is None else value, self._name(key))

    def text(self, key: str, default: str | None = None) -> str | None:
        """A string; an empty one (`${TOKEN:-}`) counts as not given."""
        value = self._data.get(key)
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            raise ValueError(f"{self._name(key)} must be a string, not {value!r}")
        return value

    def required_text(self, key: str, example: str) -> str:
        value = self.text(key)
        if value is None:
            raise ValueError(f"{self._name(key)} is required, e.g. {example}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.optional_seconds(key)
        return default if value is None else value

    def optional_seconds(self, key: str) -> float | None:
        value = self._data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(f"{self._name(key)} must be a duration such as 500ms or 30s, "
                             f"not {value!r}")
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{self._name(key)}: {exc}") from None

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        value = self.optional_integer(key, minimum, maximum)
        return default if value is None else value

    def optional_integer(self, key: str, minimum: int, maximum: int) -> int | None:
        value = self._data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self._name(key)} must be a whole number, not {value!r}")
        if not minimum <= value <= maximum:
            raise ValueError(f"{self._name(key)} must be from {minimum} to {maximum}, not {value}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self._data.get(key)
        if value is None or value == "":
            return default
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{self._name(key)} must be a number, not {value!r}")
        return number

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean, as the policy schema has it: true or false. The text "true" or
        "false" is what a `${VAR}` reference yields for one; "yes", "on" or 1 is refused,
        by every source alike, rather than guessed."""
        value = self._data.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise ValueError(f"{self._name(key)} must be true or false, not {value!r}")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.text(key, default)
        assert value is not None  # a default is given
        if value not in choices:
            raise ValueError(f"{self._name(key)} must be one of {', '.join(choices)}, "
                             f"not {value!r}")
        return value

    def string_map(self, key: str) -> dict[str, str]:
        section = self._data.get(key)
        if section is None:
            return {}
        if not isinstance(section, Mapping):
            raise ValueError(f"{self._name(key)} must be a mapping of names to strings")
        if not all(isinstance(v, str) for v in section.values()):
            raise ValueError(f"every value of {self._name(key)} must be a string")
        return {str(k): v for k, v in section.items()}

    def string_list(self, key: str) -> list[str]:
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{self._name(key)} must be a list of strings")
        return list(value)


def count_or_duration(settings: Settings, count_key: str, default_count: int,
                      maximum: int) -> tuple[int | None, float | None]:
    """A probe runs N times or for a duration: at most one of the two may be given."""
    count = settings.optional_integer(count_key, 1, maximum)
    duration = settings.optional_seconds("duration")
    if count is not None and duration is not None:
        raise ValueError(f"give {count_key} or duration, not both")
    if count is None and duration is None:
        count = default_count
    return count, duration

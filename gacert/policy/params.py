"""Params (`--set name=value`) and `${VAR:-default}` environment interpolation, and
the record of every value a run takes from either instead of the committed policy."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from gacert.errors import UsageError
from gacert.model import Override, Param, ParamValue, SourceSpec
from gacert.redact import REDACTED, is_secret_parameter, redact_url

# `$$` is a literal dollar; `${NAME}` or `${NAME:-default}` reads the environment.
ENV_REFERENCE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_BROKEN_ENV_REFERENCE = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})")


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """A "did you mean" hint, or "" when nothing is close."""
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else ""


def resolve_params(params: Mapping[str, Param], overrides: list[str]) -> dict[str, ParamValue]:
    """Defaults overridden by `name=value` strings, each converted to its default's type."""
    values: dict[str, ParamValue] = {name: p.default for name, p in params.items()}
    for item in overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set {item!r}: expected name=value")
        if name not in params:
            hint = closest(name, list(params))
            known = ", ".join(sorted(params)) or "none"
            raise UsageError(f"--set {name}: the policy has no param {name!r}"
                             + (f"; {hint}" if hint else f" (params: {known})"))
        values[name] = _convert(name, text, params[name].default)
    return values


def param_overrides(params: Mapping[str, Param], overrides: list[str]) -> tuple[Override, ...]:
    """The params `--set` changed (the last value of each), with their committed defaults."""
    values = resolve_params(params, overrides)
    named = dict.fromkeys(item.partition("=")[0].strip() for item in overrides)
    return tuple(Override(name, "param", params[name].default, values[name], "command line")
                 for name in named)


def source_overrides(sources: Mapping[str, SourceSpec],
                     environ: Mapping[str, str]) -> tuple[Override, ...]:
    """Every source setting that took a value from the environment, with the value the
    policy commits (its `${VAR:-default}` default; None for `${VAR}`). Settings whose
    name says they hold a secret are recorded as REDACTED, urls without credentials."""
    found: list[Override] = []
    for spec in sources.values():
        for path, text in _setting_strings(spec.settings, f"sources.{spec.id}"):
            used = [m.group("name") for m in ENV_REFERENCE.finditer(text)
                    if m.group(0) != "$$" and _from_environment(m, environ)]
            if not used:
                continue
            committed = _committed(text)
            found.append(Override(
                path, "setting", _shown(path, committed) if committed is not None else None,
                _shown(path, interpolate_env(text, environ, path)),
                "environment " + ", ".join(dict.fromkeys(used))))
    return tuple(found)


def _from_environment(match: re.Match[str], environ: Mapping[str, str]) -> bool:
    """Whether interpolation takes this reference's value from the environment."""
    name, default = match.group("name"), match.group("default")
    return name in environ and (bool(environ[name]) or default is None)


def _committed(text: str) -> str | None:
    """The setting as the policy commits it: every reference at its default; None
    when a reference has none (the policy commits no value)."""
    if any(m.group(0) != "$$" and m.group("default") is None
           for m in ENV_REFERENCE.finditer(text)):
        return None
    return ENV_REFERENCE.sub(lambda m: "$" if m.group(0) == "$$" else m.group("default"),
                             text)


def _shown(path: str, value: str) -> str:
    if any(is_secret_parameter(part) for part in path.split(".")[2:]):
        return REDACTED if value else value
    return redact_url(value) if "://" in value else value


def _setting_strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items()
                for found in _setting_strings(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value)
                for found in _setting_strings(item, f"{path}[{i}]")]
    return []


def _convert(name: str, text: str, default: ParamValue) -> ParamValue:
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise UsageError(f"--set {name}={text}: expected true or false")
    if isinstance(default, int | float):
        try:
            number = float(text)
        except ValueError:
            raise UsageError(f"--set {name}={text}: expected a number") from None
        if not math.isfinite(number):
            # `fail: value >= nan` never matches: the check would pass silently.
            raise UsageError(f"--set {name}={text}: expected a finite number")
        return int(number) if isinstance(default, int) and number.is_integer() else number
    return text


def env_syntax_errors(text: str) -> list[str]:
    """Malformed `${...}` references in `text` (for validation, which runs without env)."""
    stripped = ENV_REFERENCE.sub("", text)
    return [f"malformed environment reference near {stripped[m.start():m.start() + 20]!r}; "
            "use ${NAME} or ${NAME:-default}" for m in _BROKEN_ENV_REFERENCE.finditer(stripped)]


def interpolate_env(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """`value` with every `${VAR}` / `${VAR:-default}` in its strings replaced.

    Raises UsageError naming the variable and the setting when a variable is
    unset and has no default: a silent empty URL or token helps nobody.
    """
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group("name"), match.group("default")
            if name in environ and (environ[name] or default is None):
                return environ[name]
            if default is not None:
                return default
            raise UsageError(f"{where}: environment variable {name} is not set "
                             "(set it, or write ${" + name + ":-default} in the policy)")
        return ENV_REFERENCE.sub(replace, value)
    if isinstance(value, Mapping):
        return {k: interpolate_env(v, environ, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_env(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return value

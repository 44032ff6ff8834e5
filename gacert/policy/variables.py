"""The variables of a query template: params (`$job`, `${job}`) and window
variables (`$__range`), and how a template is rendered with their values.

Validation reads the names a query uses; the engine's plan renders it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gacert.errors import UsageError
from gacert.model import ParamValue

__all__ = ["QUERY_VARIABLE", "format_param", "query_variable_names", "render_query"]

# `$$` is a literal dollar; `${name}` and `$name` are params or window variables.
# A `$` before anything else (a regex anchor such as `:9090$"`) stays as it is.
QUERY_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}"
                            r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def query_variable_names(text: str) -> list[str]:
    """Every variable a query template reads, in order (for validation)."""
    return [m.group("braced") or m.group("bare") for m in QUERY_VARIABLE.finditer(text)
            if m.group(0) != "$$"]


def format_param(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_query(text: str, variables: Mapping[str, str]) -> str:
    """`text` with its variables replaced; an unknown name is a UsageError."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        if name not in variables:
            raise UsageError(f"query variable ${name} is neither a param nor a window variable")
        return variables[name]
    return QUERY_VARIABLE.sub(replace, text)

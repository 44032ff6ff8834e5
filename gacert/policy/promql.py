"""PromQL syntax checks at validation time, through the `promql-parser` package.

A query is checked as Prometheus would receive it: params replaced by their
defaults and window variables by the values of a sample window, so that
`rate(x[$__range])` is parsed as `rate(x[1d])`. The parser (Rust, through
PyO3) takes a few microseconds a query and names the fault ("unclosed left
parenthesis", "unknown function with name 'rat'"); it gives no position, so
problems are located at the `query` node.

The parser follows Prometheus 2.45 plus the functions of 3.x. `holt_winters`,
which 3.0 renamed but 2.x servers still serve, is registered as well, so
that a policy for either version validates.

The parser panics on a few inputs (a range such as `[1e19]` that overflows
its duration type). A Rust panic becomes a Python `PanicException`, which
derives from BaseException, and the panic hook first writes a message (and,
with RUST_BACKTRACE set, a backtrace) to file descriptor 2. So parsing runs
with that descriptor pointed at /dev/null, and a panic becomes a problem
like any other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from types import ModuleType
from typing import Any

from gacert.policy.params import closest

# For "did you mean" hints only; the parser decides what is valid.
_FUNCTIONS_AND_AGGREGATIONS = (
    "abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes "
    "clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year "
    "days_in_month deg delta deriv double_exponential_smoothing exp floor histogram_avg "
    "histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar "
    "histogram_sum holt_winters hour idelta increase info irate label_join label_replace "
    "last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi "
    "predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin "
    "sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time "
    "stdvar_over_time sum_over_time tan tanh time timestamp vector year "
    "sum avg min max count stddev stdvar group topk bottomk quantile count_values limitk "
    "limit_ratio"
)
FUNCTION_NAMES = tuple(_FUNCTIONS_AND_AGGREGATIONS.split())
_OUT_OF_RANGE = "a duration or number in the query is out of range"
_UNKNOWN_FUNCTION = re.compile(r"unknown function with name '([^']*)'")


@cache
def parser() -> ModuleType | None:
    """The promql_parser module, ready; None when the package is not installed."""
    try:
        import promql_parser
    except ImportError:
        return None
    if hasattr(promql_parser, "register_extra_functions"):  # from promql-parser 0.12
        kinds = promql_parser.ValueType
        # ValueError: a parser version that has it built in.
        with suppress(ValueError):
            promql_parser.register_extra_functions([promql_parser.Function(
                "holt_winters", [kinds.Matrix, kinds.Scalar, kinds.Scalar], kinds.Vector)])
    return promql_parser


def syntax_errors(queries: Sequence[str]) -> list[tuple[str, str] | None]:
    """For each query, (message, hint) when it is not PromQL, None when it parses.

    Call only when `parser()` is not None.
    """
    module = parser()
    assert module is not None
    with _stderr_silenced():
        return [_syntax_error(module, query) for query in queries]


def parse(query: str) -> Any:
    """The syntax tree of `query` (promql_parser's Expr); ValueError with the reason
    when it is not PromQL, or when the parser is not installed."""
    module = parser()
    if module is None:
        raise ValueError("the promql-parser package is not installed")
    with _stderr_silenced():
        tree, fault = _parsed(module, query)
    if fault is not None:
        raise ValueError(fault)
    return tree


def _syntax_error(module: ModuleType, query: str) -> tuple[str, str] | None:
    _, fault = _parsed(module, query)
    return None if fault is None else (fault, _hint(fault))


def _parsed(module: ModuleType, query: str) -> tuple[Any, str | None]:
    """(tree, None), or (None, why the query is not PromQL)."""
    try:
        return module.parse(query), None
    except ValueError as exc:
        return None, str(exc).strip() or "invalid query"
    except OverflowError:  # a number too large for the parser's duration type
        return None, _OUT_OF_RANGE
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit, ...
        text = str(exc)
        if "duration" in text.lower():
            return None, _OUT_OF_RANGE
        return None, f"the PromQL parser failed on this query ({text.strip()[:100]})"


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _hint(message: str) -> str:
    if message == _OUT_OF_RANGE:
        return ""
    unknown = _UNKNOWN_FUNCTION.search(message)
    if unknown:
        return closest(unknown.group(1), FUNCTION_NAMES)
    if message.startswith("no expression found"):
        return "the query is empty once its variables are replaced"
    return ""

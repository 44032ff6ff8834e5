"""Percentiles of samples, one definition for the whole tool.

The nearest-rank definition: the q-th percentile of n sorted samples is the
sample at rank ceil(q * n) (1-based), the smallest sample such that at least
a share q of all samples is at or below it. It is always a value that was
measured, never an interpolation between two, which is how an SLO such as
"p99 under 1 s" is read against a list of request latencies. Evaluation's
p50..p99 reductions and the probes' latency summaries both use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = ["percentile"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 1) of `ordered`, sorted ascending, not empty."""
    # q as written: in binary floating point 0.07 * 100 is 7.000000000000001,
    # whose ceiling would skip a rank.
    rank = math.ceil(Fraction(repr(q)) * len(ordered))
    return ordered[max(0, rank - 1)]

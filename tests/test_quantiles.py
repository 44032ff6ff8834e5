"""gacert.quantiles: the one percentile definition, nearest rank."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gacert.quantiles import percentile

ONE_TO_TEN = [float(n) for n in range(1, 11)]


@pytest.mark.parametrize(
    ("ordered", "q", "expected"),
    [
        pytest.param(ONE_TO_TEN, 0.5, 5.0, id="a whole rank is that sample"),
        pytest.param(ONE_TO_TEN, 0.91, 10.0, id="rank 9.1 is the tenth sample, not the ninth"),
        pytest.param([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.9, 6.0, id="rank 5.4 is the sixth"),
        pytest.param(ONE_TO_TEN, 0.25, 3.0, id="rank 2.5 is the third"),
        pytest.param(ONE_TO_TEN, 0.01, 1.0, id="a rank below one is the first sample"),
        pytest.param([float(n) for n in range(1, 101)], 0.07, 7.0,
                     id="q as written: 0.07 of 100 is rank 7, not 7.000000000000001"),
        pytest.param([7.0], 0.99, 7.0, id="one sample is every percentile"),
        pytest.param(ONE_TO_TEN, 1.0, 10.0, id="q of one is the largest sample"),
    ],
)
def test_nearest_rank(ordered: list[float], q: float, expected: float) -> None:
    assert percentile(ordered, q) == expected


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.25, 0.07, 0.333]))
def test_the_smallest_sample_with_a_share_q_at_or_below_it(samples: list[float],
                                                           q: float) -> None:
    ordered = sorted(samples)
    found = percentile(ordered, q)
    share = Fraction(repr(q)) * len(ordered)  # exact: how many samples make a share q
    assert found in ordered
    assert sum(1 for s in ordered if s <= found) >= share
    assert sum(1 for s in ordered if s < found) < share

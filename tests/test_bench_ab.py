"""The benchmarks' A/B helper: the order of runs and the ratio statistic on constructed timings."""

import pytest

from bench.ab import alternate, median_ratio, report


def test_alternate_flips_the_order_every_pair():
    order = []
    a, b = alternate(lambda: order.append("a") or 1.0, lambda: order.append("b") or 2.0, pairs=4)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert a == [1.0] * 4 and b == [2.0] * 4


def test_median_ratio_known_answers():
    assert median_ratio([1.0, 2.0, 4.0], [2.0, 4.0, 8.0]) == 2.0
    # One disturbed pair (a load spike on b's run) moves the mean of ratios, not the median.
    assert median_ratio([1.0, 1.0, 1.0], [1.5, 1.5, 9.0]) == 1.5
    # A machine slowing down over the run scales both runs of a pair alike: the ratio stays.
    assert median_ratio([1.0, 2.0, 4.0], [1.5, 3.0, 6.0]) == 1.5
    with pytest.raises(ValueError, match="as many"):
        median_ratio([1.0], [])


def test_report_line():
    line = report("ours", [1.0, 1.0, 1.0], "theirs", [2.0, 2.0, 3.0])
    assert "ours 1.0000 s" in line and "theirs 2.0000 s" in line
    assert "theirs/ours 2.000x" in line and "3 alternating" in line

"""A/B timing a busy machine cannot fool: both sides run alternately in one process (A B, B A, A B, ... — the
order flips every pair, so neither side always runs second, after the other warmed the caches), and the result
is the median of the per-pair ratios, so a load spike hits one pair, not a whole side.

    from bench.ab import alternate, report
    a, b = alternate(run_a, run_b, pairs=5)  # each run_* returns the seconds it measured
    print(report("native", a, "fastvideo", b))
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def alternate(run_a: Callable[[], float], run_b: Callable[[], float], pairs: int) -> tuple[list[float], list[float]]:
    """Seconds of ``pairs`` runs of each side, alternating, the order flipped every pair."""
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    a, b = [], []
    for i in range(pairs):
        if i % 2 == 0:
            a.append(run_a())
            b.append(run_b())
        else:
            b.append(run_b())
            a.append(run_a())
    return a, b


def median_ratio(a: list[float], b: list[float]) -> float:
    """Median over pairs of b_i / a_i."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need as many b as a times, at least one: got {len(a)} and {len(b)}")
    return statistics.median(y / x for x, y in zip(a, b, strict=True))


def timed(fn: Callable[[], object], sync: Callable[[], None] | None = None) -> Callable[[], float]:
    """A run that returns the wall seconds of one call of ``fn`` (``sync`` before and after, e.g. CUDA's)."""

    def run() -> float:
        if sync is not None:
            sync()
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        return time.perf_counter() - start

    return run


def report(name_a: str, a: list[float], name_b: str, b: list[float], unit: str = "s") -> str:
    """One line: both medians and the median of per-pair ratios b/a, with the pair count."""
    return (
        f"{name_a} {statistics.median(a):.4f} {unit}  {name_b} {statistics.median(b):.4f} {unit}  "
        f"{name_b}/{name_a} {median_ratio(a, b):.3f}x (median of {len(a)} alternating pairs)"
    )

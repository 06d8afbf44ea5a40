"""Paired comparisons of settings, with a verdict a person can act on.

Every setting ran the same (image, seed) pairs, so each pair gives a difference candidate − baseline per
metric; the question "is B better than A?" is about the mean of those differences, not about the spread of
the scores between images (which is mostly the images' own). For each metric:

- the mean paired difference and its 95 % bootstrap CI (percentile, 10 000 resamples, seeded numpy);
- the Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``), which does not assume normal differences;
- a verdict that names the better setting only when the CI excludes 0, Wilcoxon agrees (p < 0.05) and there
  are at least ``MIN_PAIRS`` pairs (below that even a perfectly consistent effect cannot reach p < 0.05 with
  Wilcoxon; percentile bootstrap CIs are too narrow at small n, which is why both must agree), otherwise
  "no detectable difference at n = …" (or "inconclusive" when the two disagree);
- how many pairs an effect of the observed size would need for 80 % power at α = 0.05 (two-sided), by the
  normal approximation to the paired t-test: n = ((z₀.₉₇₅ + z₀.₈) / d)², d = mean / sd of the differences.

Metrics a still would win (``catalog.MetricInfo.rewards_stillness``) are compared only on pairs where both
videos move (dynamic degree 1), so a setting that freezes the video cannot win them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .catalog import info

BOOTSTRAP_SAMPLES = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
MIN_PAIRS = 6
PAIR_KEYS = ("item", "seed")
MOVING = "dynamic_degree"


@dataclass
class Comparison:
    metric: str
    baseline: str
    candidate: str
    n: int  # pairs compared
    left_out_still: int  # pairs left out because a video of the pair does not move
    baseline_mean: float
    candidate_mean: float
    mean_diff: float  # candidate − baseline
    ci_low: float
    ci_high: float
    p_value: float
    better: str | None  # the better setting's label, when the verdict names one
    verdict: str
    pairs_needed: int | None  # for 80 % power at an effect of the observed size; None when no effect was seen


def bootstrap_ci(diffs: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``diffs`` at ``CONFIDENCE``."""
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(samples, len(diffs)))].mean(axis=1)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1.0 when every difference is 0 (scipy refuses that case)."""
    if not np.any(diffs):
        return 1.0
    return float(scipy_stats.wilcoxon(diffs).pvalue)


def pairs_needed(diffs: np.ndarray) -> int | None:
    """Pairs for 80 % power at α = 0.05 for an effect of the observed standardized size (module docstring);
    ``MIN_PAIRS`` when every difference is the same non-zero value; None when the mean difference is 0."""
    mean = float(np.mean(diffs))
    if mean == 0:
        return None
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    if sd == 0:
        return MIN_PAIRS
    z = scipy_stats.norm.ppf(1 - ALPHA / 2) + scipy_stats.norm.ppf(POWER)
    return max(MIN_PAIRS, math.ceil((z * sd / abs(mean)) ** 2))


def paired_values(items: pd.DataFrame, setting: str, metric: str, baseline: str, candidate: str) -> pd.DataFrame:
    """Columns ``base``, ``cand`` (and their dynamic degrees when present) per (item, seed) pair that both
    settings scored with a finite value; repeated jobs of one setting are averaged."""
    cols = [metric] + ([MOVING] if MOVING in items and metric != MOVING else [])
    per = items.groupby([setting, *PAIR_KEYS], sort=False)[cols].mean()
    base, cand = per.xs(baseline, level=setting), per.xs(candidate, level=setting)
    joined = base.join(cand, how="inner", lsuffix="_base", rsuffix="_cand")
    joined = joined.rename(columns={f"{metric}_base": "base", f"{metric}_cand": "cand"})
    return joined[np.isfinite(joined["base"]) & np.isfinite(joined["cand"])]


def _verdict(
    metric: str, baseline: str, candidate: str, n: int, low: float, high: float, p: float
) -> tuple[str | None, str]:
    if n < MIN_PAIRS:
        return None, f"too few pairs (n = {n}; a verdict needs ≥ {MIN_PAIRS})"
    if low <= 0 <= high:
        return None, f"no detectable difference at n = {n}"
    if not p < ALPHA:
        return None, f"inconclusive at n = {n}: the CI excludes 0 but Wilcoxon p = {p:.2g}"
    higher = candidate if low > 0 else baseline
    lower = baseline if higher == candidate else candidate
    better = info(metric).higher_is_better
    if better is None:
        return None, f"{higher} higher"
    winner = higher if better else lower
    return winner, f"{winner} better"


def compare(items: pd.DataFrame, setting: str, metric: str, baseline: str, candidate: str, seed: int = 0) -> Comparison:
    """The paired comparison of one metric between two settings (labels in column ``setting`` of ``items``)."""
    pairs = paired_values(items, setting, metric, baseline, candidate)
    left_out = 0
    if info(metric).rewards_stillness and f"{MOVING}_base" in pairs:
        moving = (pairs[f"{MOVING}_base"] == 1) & (pairs[f"{MOVING}_cand"] == 1)
        left_out = int((~moving).sum())
        pairs = pairs[moving]
    diffs = (pairs["cand"] - pairs["base"]).to_numpy(dtype=np.float64)
    n = len(diffs)
    if n == 0:
        why = f"no pairs where both videos move ({left_out} left out)" if left_out else "no pairs to compare"
        nan = float("nan")
        return Comparison(metric, baseline, candidate, 0, left_out, nan, nan, nan, nan, nan, nan, None, why, None)
    low, high = bootstrap_ci(diffs, seed)
    p = wilcoxon_p(diffs)
    better, verdict = _verdict(metric, baseline, candidate, n, low, high, p)
    if left_out:
        verdict += f" ({left_out} pair(s) with a still video left out)"
    return Comparison(
        metric,
        baseline,
        candidate,
        n,
        left_out,
        float(pairs["base"].mean()),
        float(pairs["cand"].mean()),
        float(diffs.mean()),
        low,
        high,
        p,
        better,
        verdict,
        pairs_needed(diffs),
    )


def compare_settings(
    items: pd.DataFrame, setting: str, metrics: list[str], baseline: str | None = None, seed: int = 0
) -> pd.DataFrame:
    """One row per (candidate setting, metric with a verdict): every setting against ``baseline`` (default: the
    first setting in ``items``). ``items`` has one row per (setting, item, seed) with the metric columns."""
    settings = list(dict.fromkeys(items[setting]))
    baseline = settings[0] if baseline is None else baseline
    if baseline not in settings:
        raise ValueError(f"baseline {baseline!r} is not one of the settings {settings}")
    rows = [
        asdict(compare(items, setting, m, baseline, candidate, seed))
        for candidate in settings
        if candidate != baseline
        for m in metrics
        if info(m).verdict and m in items
    ]
    return pd.DataFrame(rows, columns=list(Comparison.__dataclass_fields__))

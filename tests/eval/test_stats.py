"""Paired comparisons on constructed paired data whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eval.catalog import CATALOG
from eval.stats import MIN_PAIRS, bootstrap_ci, compare, compare_settings, pairs_needed, wilcoxon_p


def paired(base: np.ndarray, cand: np.ndarray, metric: str, **extra) -> pd.DataFrame:
    n = len(base)
    rows = [{"setting": "A", "item": f"i{k}", "seed": 0, metric: base[k], **extra} for k in range(n)]
    rows += [{"setting": "B", "item": f"i{k}", "seed": 0, metric: cand[k], **extra} for k in range(n)]
    return pd.DataFrame(rows)


def test_bootstrap_ci_known_cases():
    assert bootstrap_ci(np.full(8, 0.25)) == (0.25, 0.25)
    low, high = bootstrap_ci(np.array([-1.0, 1.0] * 6))
    assert low < 0 < high
    assert bootstrap_ci(np.arange(10.0), seed=3) == bootstrap_ci(np.arange(10.0), seed=3)  # seeded


def test_wilcoxon_and_power_known_answers():
    assert wilcoxon_p(np.arange(1.0, 13.0)) == pytest.approx(2 / 2**12)  # all 12 the same sign: exact p
    assert wilcoxon_p(np.zeros(7)) == 1.0
    diffs = np.array([1.5, -0.5] * 8)  # mean 0.5, sd ≈ 1.03: d ≈ 0.48
    d = 0.5 / np.std(diffs, ddof=1)
    assert pairs_needed(diffs) == math.ceil(((1.959964 + 0.841621) / d) ** 2)
    assert pairs_needed(np.zeros(5)) is None
    assert pairs_needed(np.full(5, 2.0)) == MIN_PAIRS


def test_a_consistent_effect_names_the_better_setting_by_direction():
    rng = np.random.default_rng(0)
    base = rng.random(12)
    cand = base + 0.1 + rng.normal(0, 0.01, 12)
    higher = compare(paired(base, cand, "motion_smoothness"), "setting", "motion_smoothness", "A", "B")
    assert higher.ci_low > 0 and higher.better == "B" and higher.verdict == "B better"
    assert higher.mean_diff == pytest.approx(np.mean(cand - base)) and higher.n == 12
    assert higher.p_value == pytest.approx(2 / 2**12)
    lower = compare(paired(base, cand, "warping_error"), "setting", "warping_error", "A", "B")
    assert lower.better == "A" and lower.verdict == "A better"
    neutral = compare(paired(base, cand, "motion_magnitude"), "setting", "motion_magnitude", "A", "B")
    assert neutral.better is None and neutral.verdict == "B higher"


def test_noise_is_no_detectable_difference_and_few_pairs_no_verdict():
    rng = np.random.default_rng(1)
    base = rng.random(12)
    noise = np.array([0.05, -0.05] * 6)
    result = compare(paired(base, base + noise, "flicker"), "setting", "flicker", "A", "B")
    assert result.ci_low < 0 < result.ci_high and result.better is None
    assert result.verdict == "no detectable difference at n = 12"
    few = compare(paired(base[:5], base[:5] + 1, "flicker"), "setting", "flicker", "A", "B")
    assert few.better is None and few.verdict.startswith("too few pairs (n = 5")


def test_pairs_follow_image_and_seed_and_repeated_jobs_are_averaged():
    rows = [
        {"setting": "A", "item": "x", "seed": 0, "flicker": 1.0},
        {"setting": "A", "item": "x", "seed": 1, "flicker": 2.0},
        {"setting": "B", "item": "x", "seed": 1, "flicker": 5.0},
        {"setting": "B", "item": "x", "seed": 1, "flicker": 7.0},  # the same setting reached twice
        {"setting": "B", "item": "y", "seed": 0, "flicker": 9.0},  # no partner in A
    ]
    result = compare(pd.DataFrame(rows), "setting", "flicker", "A", "B")
    assert result.n == 1 and result.mean_diff == 4.0  # (5 + 7) / 2 − 2


def test_baseline_defaults_to_the_first_setting_and_is_configurable():
    base = np.arange(8.0)
    items = paired(base, base + 1, "flicker")
    items = pd.concat([items, items[items["setting"] == "B"].assign(setting="C", flicker=lambda d: d.flicker + 1)])
    table = compare_settings(items, "setting", ["flicker", "step_s"])
    assert table[["baseline", "candidate"]].values.tolist() == [["A", "B"], ["A", "C"]]  # timing: no verdict
    assert table["verdict"].tolist() == ["A better", "A better"]
    against_c = compare_settings(items, "setting", ["flicker"], baseline="C")
    assert against_c[["candidate", "verdict"]].values.tolist() == [["A", "A better"], ["B", "B better"]]
    with pytest.raises(ValueError, match="baseline 'Z' is not one of the settings"):
        compare_settings(items, "setting", ["flicker"], baseline="Z")


def test_a_still_never_wins_a_temporal_quality_verdict_against_a_moving_clip():
    from eval.scoring import Scorer

    from .conftest import panning_clip, texture

    scorer = Scorer(None, flow_preset="fast")
    rows = []
    for k in range(MIN_PAIRS):
        pan = panning_clip(frames=5, shift=2 + k % 2)
        pan = pan * 0.5 + 0.5 * texture(64, 64, seed=20 + k)  # a different scene per image
        still = np.stack([pan[0]] * 5)
        rows.append({"setting": "moving", "item": f"i{k}", "seed": 0, **scorer.score(pan, pan[0]).values})
        rows.append({"setting": "still", "item": f"i{k}", "seed": 0, **scorer.score(still, pan[0]).values})
    items = pd.DataFrame(rows)
    assert (items[items.setting == "still"]["dynamic_degree"] == 0).all()
    assert (items[items.setting == "moving"]["dynamic_degree"] == 1).all()
    metrics = [m for m in CATALOG if m in items]
    for baseline in ("moving", "still"):
        table = compare_settings(items, "setting", metrics, baseline=baseline).set_index("metric")
        assert "still" not in table["better"].dropna().tolist()
        for m in [m for m in metrics if CATALOG[m].rewards_stillness]:
            assert table.loc[m, "n"] == 0 and table.loc[m, "left_out_still"] == MIN_PAIRS
            assert table.loc[m, "verdict"] == f"no pairs where both videos move ({MIN_PAIRS} left out)"
        assert table.loc["dynamic_degree", "verdict"] == "moving higher"

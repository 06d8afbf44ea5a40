"""The aggregate table from hand-written results whose means and stds are known."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eval.aggregate import AggregateError, aggregate, main


def write_result(root, name, overrides, seed, items, backend="stlpips-alex", parity=None):
    job = root / name
    job.mkdir(parents=True)
    summary = {}
    if parity:
        summary = {
            "parity_latents_max_abs": max(p["final_latents"]["max_abs"] for p in parity),
            "parity_video_max_abs": None,
            "parity_within_tolerance": 1.0,
        }
    result = {
        "run_name": name,
        "overrides": [*overrides, f"seed={seed}", "logger=none"],
        "seed": seed,
        "perceptual_backend": backend,
        "items": items,
        "summary": summary,
        "parity": parity or [],
    }
    (job / "result.json").write_text(json.dumps(result))


def item(name, psnr, flicker):
    return {"item": name, "height": 64, "width": 64, "num_frames": 5, "first_frame_psnr": psnr, "flicker": flicker}


@pytest.fixture
def sweep(tmp_path):
    n = 0
    for rope in ("full", "skip"):
        for steps in ("8", "16"):
            for seed in (0, 1):
                base = 10.0 + (rope == "skip") + float(steps) / 8 + seed
                items = [item("a", base, 0.1 * seed), item("b", base + 2, 0.1 * seed)]
                write_result(
                    tmp_path,
                    str(n),
                    ["sampler=tiny", f"sampler.cond_rope={rope}", f"sampler.steps={steps}"],
                    seed,
                    items,
                )
                n += 1
    return tmp_path


def test_mean_and_std_per_setting(sweep):
    agg = aggregate(sweep)
    table = pd.read_csv(agg.csv)
    assert agg.settings == ["sampler.cond_rope", "sampler.steps"]
    assert agg.fixed == {"sampler": "tiny"}
    assert len(table) == 4 and list(table["n"]) == [4, 4, 4, 4]
    row = table[(table["sampler.cond_rope"] == "skip") & (table["sampler.steps"] == 16)].iloc[0]
    values = [13, 15, 14, 16]  # items a, b for seeds 0 and 1: 10 + 1 (skip) + 2 (16 steps) + seed (+2 for b)
    assert row["first_frame_psnr_mean"] == pytest.approx(14.5)
    assert row["first_frame_psnr_std"] == pytest.approx(pd.Series(values).std())
    assert row["flicker_mean"] == pytest.approx(0.05)
    assert set(table["perceptual_backend"]) == {"stlpips-alex"}
    md = agg.markdown.read_text()
    assert "| skip" in md and "14.5 ± 1.3" in md and "Perceptual metric: `stlpips-alex`" in md
    assert {p.name for p in agg.plots} == {"first_frame_psnr.png", "flicker.png"}
    assert all(p.stat().st_size > 1000 for p in agg.plots)


def test_results_of_different_perceptual_backends_are_not_mixed(tmp_path):
    write_result(tmp_path, "0", ["seed=0"], 0, [item("a", 10, 0)], backend="lpips-alex")
    write_result(tmp_path, "1", ["seed=1"], 1, [item("a", 11, 0)], backend="stlpips-alex")
    with pytest.raises(AggregateError, match="different perceptual backends"):
        aggregate(tmp_path)


def test_parity_columns_report_the_worst_case(tmp_path):
    parity = [
        {
            "case": "c",
            "mode": "reference",
            "steps": [{"step": 0, "max_abs": 1e-6, "mean_abs": 1e-7}],
            "final_latents": {"max_abs": 2e-6, "mean_abs": 1e-7},
            "within_tolerance": True,
        }
    ]
    write_result(tmp_path, "0", ["parity=reference"], 0, [], backend=None, parity=parity)
    agg = aggregate(tmp_path)
    assert agg.table["parity_latents_max_abs"].tolist() == [2e-6]
    parity_csv = pd.read_csv(agg.csv.parent / "parity.csv")
    assert parity_csv["quantity"].tolist() == ["latents_step0", "final_latents"]


def test_cli_reports_an_empty_folder(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no result.json under"):
        main([str(tmp_path)])

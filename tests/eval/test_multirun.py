"""A real 2×2 Hydra multirun on the tiny checkpoint, through ``python -m eval.run -m``."""

from __future__ import annotations

import json
import math

import pandas as pd

from .conftest import SMOKE, run_eval


def test_two_by_two_sweep_writes_one_result_per_job_and_a_table(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_eval(["-m", *SMOKE, "sampler.cond_rope=full,skip", "sampler.steps=1,2", f"hydra.sweep.dir={sweep}"])

    results = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/result.json"))]
    assert len(results) == 4
    settings = {(r["settings"]["cond_rope"], r["settings"]["num_inference_steps"]) for r in results}
    assert settings == {("full", 1), ("full", 2), ("skip", 1), ("skip", 2)}
    backends = {r["perceptual_backend"] for r in results}
    assert len(backends) == 1 and backends <= {"lpips-alex", "stlpips-alex"}
    assert all(r["items"][0]["num_frames"] == 5 and r["items"][0]["height"] == 64 for r in results)
    assert (sweep / "0" / "media" / "hills_sunset.mp4").stat().st_size > 0  # logger=local media

    table = pd.read_csv(sweep / "aggregate" / "results.csv")
    assert len(table) == 4
    assert set(zip(table["sampler.cond_rope"], table["sampler.steps"], strict=True)) == {
        ("full", 1),
        ("full", 2),
        ("skip", 1),
        ("skip", 2),
    }
    means = table[[c for c in table.columns if c.endswith("_mean")]]
    assert {
        "first_frame_psnr_mean",
        "first_frame_perceptual_mean",
        "warping_error_mean",
        "flicker_mean",
        "consecutive_ssim_mean",
        "consecutive_perceptual_mean",
    } <= set(means.columns)
    assert all(math.isfinite(v) for v in means.to_numpy().ravel())
    # Skipping RoPE on the conditioning frame changes what the noisy frames see: the videos differ.
    by_rope = table.groupby("sampler.cond_rope")["warping_error_mean"].apply(tuple)
    assert by_rope["full"] != by_rope["skip"]

    markdown = (sweep / "aggregate" / "results.md").read_text()
    assert markdown.count("\n| full") + markdown.count("\n| skip") == 4
    assert (sweep / "aggregate" / "plots" / "warping_error.png").stat().st_size > 1000
    assert len((sweep / "progress.jsonl").read_text().splitlines()) == 4
    assert "4/4 jobs" in proc.stderr


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path):
    sweep = tmp_path / "sweep"
    run_eval(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *SMOKE,
            "metrics=fast",
            "logger=none",
            "seed=0,1",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    results = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/result.json"))]
    assert sorted(r["seed"] for r in results) == [0, 1]
    assert results[0]["items"][0]["first_frame_psnr"] != results[1]["items"][0]["first_frame_psnr"]
    table = pd.read_csv(sweep / "aggregate" / "results.csv")
    assert len(table) == 1 and table["n"].tolist() == [2]  # seeds are averaged, not separate settings

"""Real Hydra multiruns on the tiny checkpoint, through ``python -m eval.run -m``: a 2×2 sweep, joblib workers,
and a sweep with a failing job that is then resumed and finally refused."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd

from eval.config import BUILTIN_MANIFEST

from .conftest import SMOKE, run_eval


def test_a_sweep_reports_a_verdict_between_settings_that_differ_and_groups_identical_ones(tmp_path):
    """guidance 1 vs 8 on 6 images (tiny checkpoint): guidance 8 flickers more on every image, which the paired
    comparison must call; guidance=4 and guidance=null (the default, 4.0) are one setting."""
    sweep = tmp_path / "sweep"
    args = ["-m", *SMOKE, "dataset.limit=6", "metrics=fast", "sampler.guidance=1,8,4,null", f"hydra.sweep.dir={sweep}"]
    proc = run_eval(args)

    results = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/result.json"))]
    assert len(results) == 4 and all(len(r["items"]) == 6 for r in results)
    assert {r["settings"]["guidance_scale"] for r in results} == {1.0, 4.0, 8.0}
    assert (sweep / "0" / "media" / "hills_sunset.mp4").stat().st_size > 0  # logger=local media

    table = pd.read_csv(sweep / "aggregate" / "results.csv").set_index("setting")
    assert list(table.index) == ["guidance_scale=1.0", "guidance_scale=8.0", "guidance_scale=4.0"]
    assert table["jobs"].tolist() == [1, 1, 2] and table["n"].tolist() == [6, 6, 6]
    assert table.loc["guidance_scale=4.0", "reached_by"].split(" | ") == [
        "sampler=tiny dataset.limit=6 metrics=fast sampler.guidance=4",
        "sampler=tiny dataset.limit=6 metrics=fast sampler.guidance=null",
    ]
    assert all(math.isfinite(v) for v in table[[c for c in table if c.endswith("_mean")]].to_numpy().ravel())

    verdicts = pd.read_csv(sweep / "aggregate" / "verdicts.csv")
    eight = verdicts[verdicts["candidate"] == "guidance_scale=8.0"].set_index("metric")
    assert eight.loc["flicker", "ci_low"] > 0 and eight.loc["flicker", "n"] == 6
    assert eight.loc["flicker", "verdict"] == "guidance_scale=1.0 better"
    # frame 0 is the VAE decode of the conditioning latent: the same whatever the guidance
    assert eight.loc["vae_roundtrip_psnr", "verdict"] == "no detectable difference at n = 6"

    markdown = (sweep / "aggregate" / "results.md").read_text()
    assert "**complete: 4 of 4 jobs have results**" in markdown and "guidance_scale=1.0 better" in markdown
    page = (sweep / "aggregate" / "report.html").read_text()
    assert page.count('<video src="data:video/mp4;base64,') == 6 * 3  # 6 images × 3 settings
    assert (sweep / "aggregate" / "plots" / "flicker.png").stat().st_size > 1000
    assert len((sweep / "progress.jsonl").read_text().splitlines()) == 4
    assert "4/4 jobs" in proc.stderr
    assert (proc.stdout + proc.stderr).count("loading the pipeline") == 1  # one process, one model, four jobs
    assert {r["contended"] for r in results} == {False}  # the basic launcher runs one job at a time
    assert len({r["checkpoint_id"] for r in results}) == 1 and all(r["code_version"] for r in results)


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
    assert [r["contended"] for r in results] == [True, True]  # two workers shared the CPU
    assert results[0]["items"][0]["vae_roundtrip_psnr"] != results[1]["items"][0]["vae_roundtrip_psnr"]
    table = pd.read_csv(sweep / "aggregate" / "results.csv")
    assert len(table) == 1 and table["n"].tolist() == [2]  # seeds are averaged, not separate settings


def test_a_failed_job_is_recorded_the_sweep_aggregates_and_a_rerun_resumes_or_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(BUILTIN_MANIFEST.parent / "hills_sunset.png", data)
    manifest = data / "m.yaml"
    manifest.write_text("items:\n  - {id: ../../escape, image: hills_sunset.png, prompt: hills}\n")
    sweep = tmp_path / "runs" / "sweep"
    args = ["-m", "sampler=tiny", "dataset=folder", f"dataset.manifest={manifest}", "metrics=fast",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip

    first = run_eval([*args, "sampler.num_frames=5,6"], check=False)
    assert first.returncode == 1, first.stderr[-2000:]
    assert "[sweep] 1 job(s) failed: " in first.stderr and "sampler.num_frames=6" in first.stderr
    assert "2/2 jobs (1 failed)" in first.stderr
    result = json.loads((sweep / "0" / "result.json").read_text())
    assert result["items"][0]["item"] == "escape"
    assert (sweep / "0" / "media" / "escape.mp4").is_file()  # the id "../../escape" stayed in its job folder
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("escape*")) == [
        "runs/sweep/0/media/escape.mp4",
        "runs/sweep/0/media/escape_first_frame.png",
    ]
    failure = json.loads((sweep / "1" / "failure.json").read_text())
    assert failure["error"].startswith("ConfigError: sampler.num_frames=6 is invalid")
    assert "sampler.num_frames=6" in failure["overrides"] and "Traceback" in failure["traceback"]
    assert not (sweep / "1" / "result.json").exists()
    assert (sweep / "aggregate" / "results.csv").is_file()  # the aggregate ran despite the failure
    plan = json.loads((sweep / "jobs.json").read_text())["jobs"]
    assert [j["num"] for j in plan] == [0, 1] and plan[1]["overrides"] == failure["overrides"]

    before = (sweep / "0" / "result.json").read_text()
    again = run_eval([*args, "sampler.num_frames=5,6"], check=False)
    assert again.returncode == 1
    assert "resuming" in again.stdout and "2/2 jobs (1 skipped, 1 failed)" in again.stderr
    assert "loading the pipeline" not in again.stdout + again.stderr  # the finished job was not redone
    assert (sweep / "0" / "result.json").read_text() == before and (sweep / "1" / "failure.json").is_file()

    other = run_eval([*args, "sampler.num_frames=5,9"], check=False)
    assert other.returncode != 0 and "holds a different sweep" in other.stderr
    assert "sampler.num_frames=5,9" in other.stderr and not (sweep / "1" / "result.json").exists()


def test_long_video_and_refinement_jobs_score_segments_seams_and_stage1_fidelity(tmp_path):
    """task=long (2 segments of 5 frames, 1 conditioning frame) and task=refine (64x64, 10 frames at 30 fps) on
    the tiny checkpoint: the long video's per-segment rows, drift and seam columns, the refined video's stage-1
    fidelity, all finite and in range, in the aggregate and the report."""
    sweep = tmp_path / "sweep"
    long = ["long.segments=2", "long.num_cond_frames=1", "long.enhance_hf=false"]
    refine = ["refine.refine_height=64", "refine.refine_width=64", "refine.refine_attention=dense"]
    args = ["-m", *SMOKE, "metrics=fast", "task=long,refine", *long, *refine, "refine.refine_steps=4"]
    run_eval([*args, f"hydra.sweep.dir={sweep}"])

    results = {r["settings"]["task"]: r for r in (json.loads(p.read_text()) for p in sweep.glob("*/result.json"))}
    long_item, refined = results["long"]["items"][0], results["refine"]["items"][0]
    assert long_item["num_frames"] == 9 and results["long"]["settings"]["long.num_segments"] == 2
    assert [(s["segment"], s["start"], s["end"]) for s in long_item["segments"]] == [(0, 0, 5), (1, 5, 9)]
    assert long_item["segments"][0]["color_drift"] == 0.0 and long_item["segments"][1]["color_drift"] > 0
    assert long_item["seam_cuts"] in (0.0, 1.0) and long_item["sharpness_drift"] >= 0
    assert all(math.isfinite(long_item[k]) and long_item[k] > 0 for k in ("seam_flicker_ratio", "seam_warping_ratio"))
    assert results["long"]["metric_versions"]["long_video"] == "1"
    assert refined["num_frames"] == 10 and results["refine"]["metric_versions"]["motion_fps"] == "30"
    assert math.isfinite(refined["refine_psnr"]) and 0 < refined["refine_psnr"] < 100
    assert -1 <= refined["refine_ssim"] <= 1 and "segments" not in refined

    segments = pd.read_csv(sweep / "aggregate" / "segments.csv")
    assert segments["segment"].tolist() == [0, 1] and segments["flicker"].notna().all()
    table = pd.read_csv(sweep / "aggregate" / "results.csv")
    assert {"color_drift_mean", "seam_flicker_ratio_mean", "refine_psnr_mean", "refine_ssim_mean"} <= set(table)
    assert "<h2>Long videos per segment</h2>" in (sweep / "aggregate" / "report.html").read_text()

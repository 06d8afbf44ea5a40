"""Real Hydra multiruns on the tiny checkpoint, through ``python -m eval.run -m``: a 2×2 sweep, joblib workers,
and a sweep with a failing job that is then resumed and finally refused."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd

from eval.config import BUILTIN_MANIFEST

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
    assert results[0]["items"][0]["first_frame_psnr"] != results[1]["items"][0]["first_frame_psnr"]
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

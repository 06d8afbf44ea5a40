"""The aggregate from hand-written job folders whose numbers, failures and gaps are known."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from eval.aggregate import aggregate, main

VERSIONS = {"metrics": "2", "flow": "dis-fast/opencv-5", "motion_fps": "15", "perceptual": "stlpips-alex"}
ITEMS = [f"img{k}" for k in range(6)]


def settings(guidance: float) -> dict:
    return {"num_inference_steps": 2, "guidance_scale": guidance, "cond_rope": "full", "dtype": "float32"}


def item(name: str, **metrics) -> dict:
    return {"item": name, "height": 64, "width": 64, "num_frames": 5, **metrics}


def write_job(root, num, overrides, guidance, seed, items, **extra):
    job = root / str(num)
    job.mkdir(parents=True)
    result = {
        "schema": 1,
        "run_name": ",".join(overrides),
        "overrides": overrides,
        "seed": seed,
        "code_version": "abc123",
        "checkpoint_id": "tiny-v1:0000:123",
        "contended": False,
        "settings": settings(guidance),
        "perceptual_backend": "stlpips-alex",
        "metric_versions": VERSIONS,
        "items": items,
        "summary": {},
        "parity": [],
        **extra,
    }
    (job / "result.json").write_text(json.dumps(result))
    return job


def write_failure(root, num, overrides, error="RuntimeError: out of memory"):
    job = root / str(num)
    job.mkdir(parents=True, exist_ok=True)
    failure = {"schema": 1, "run_name": ",".join(overrides), "overrides": overrides, "error": error, "traceback": "…"}
    (job / "failure.json").write_text(json.dumps(failure))


def write_sweep_file(root, task):
    (root / "multirun.yaml").write_text("hydra:\n  overrides:\n    task:\n" + "".join(f"    - '{t}'\n" for t in task))


@pytest.fixture
def sweep(tmp_path):
    """guidance 1 vs 8 × seeds 0, 1 × 6 images: guidance 8 flickers 0.01 more on every image; the VAE round trip
    is the same for both; step time 0.2 s vs 0.4 s."""
    write_sweep_file(tmp_path, ["sampler=tiny", "sampler.guidance=1,8", "seed=0,1"])
    num = 0
    for guidance in (1.0, 8.0):
        for seed in (0, 1):
            items = [
                item(
                    name,
                    flicker=0.1 + 0.01 * k + 0.001 * seed + (0.01 if guidance == 8 else 0),
                    vae_roundtrip_psnr=30.0 + k,
                    step_s=0.2 * (1 + (guidance == 8)),
                    curves={"input_similarity": [1.0, 0.9 - 0.1 * (guidance == 8)]},
                )
                for k, name in enumerate(ITEMS)
            ]
            overrides = ["sampler=tiny", f"sampler.guidance={guidance:g}", f"seed={seed}"]
            write_job(tmp_path, num, overrides, guidance, seed, items)
            num += 1
    return tmp_path


def test_one_row_per_resolved_setting_with_paired_verdicts(sweep):
    agg = aggregate(sweep)
    table = pd.read_csv(agg.csv)
    assert agg.settings == ["guidance_scale"] and agg.baseline == "guidance_scale=1.0"
    assert table["setting"].tolist() == ["guidance_scale=1.0", "guidance_scale=8.0"]
    assert table["n"].tolist() == [12, 12] and table["jobs"].tolist() == [2, 2]
    flicker = [0.1 + 0.01 * k + 0.001 * s for s in (0, 1) for k in range(6)]
    assert table.loc[0, "flicker_mean"] == pytest.approx(np.mean(flicker))
    assert table.loc[0, "flicker_std"] == pytest.approx(np.std(flicker, ddof=1))
    assert table.loc[1, "flicker_mean"] == pytest.approx(np.mean(flicker) + 0.01)
    assert table.loc[0, "step_s_mean"] == pytest.approx(0.2) and not table.loc[0, "step_s_contended"]
    assert table["metric_versions"].str.contains("perceptual=stlpips-alex").all()

    verdicts = pd.read_csv(agg.csv.parent / "verdicts.csv").set_index("metric")
    assert set(verdicts.index) == {"flicker", "vae_roundtrip_psnr"}  # step time gets no verdict
    assert verdicts.loc["flicker", "mean_diff"] == pytest.approx(0.01)
    assert verdicts.loc["flicker", "ci_low"] == pytest.approx(0.01) and verdicts.loc["flicker", "n"] == 12
    assert verdicts.loc["flicker", "verdict"] == "guidance_scale=1.0 better"
    assert verdicts.loc["vae_roundtrip_psnr", "verdict"] == "no detectable difference at n = 12"

    md = agg.markdown.read_text()
    assert "**complete: 4 of 4 jobs have results**" in md
    assert "guidance_scale=1.0 better" in md and "0.2 ± " not in md.split("Per setting")[0]
    assert "Fixed: `num_inference_steps=2`" in md
    names = {p.name for p in agg.plots}
    assert {"flicker.png", "step_s.png", "curve_input_similarity.png"} <= names
    assert all(p.stat().st_size > 1000 for p in agg.plots)


def test_identical_settings_reached_by_different_overrides_are_one_group(tmp_path):
    for num, spelling in enumerate(["sampler.guidance=4", "sampler.guidance=null"]):
        items = [item(name, flicker=0.1 + 0.01 * k) for k, name in enumerate(ITEMS)]
        write_job(tmp_path, num, [spelling, "seed=0"], 4.0, 0, items)
    agg = aggregate(tmp_path)
    (group,) = agg.groups
    assert group.reached_by == ["sampler.guidance=4", "sampler.guidance=null"]
    assert agg.table["jobs"].tolist() == [2] and agg.table["n"].tolist() == [6]  # the same 6 pairs, averaged
    assert agg.verdicts.empty


def test_failed_and_missing_jobs_are_listed_by_setting_and_the_sweep_is_not_complete(sweep):
    (sweep / "3" / "result.json").unlink()  # guidance 8, seed 1: killed before it wrote anything
    (sweep / "2" / "result.json").unlink()
    write_failure(sweep, 2, ["sampler=tiny", "sampler.guidance=8", "seed=0"], "RuntimeError: CUDA out of memory")
    agg = aggregate(sweep)
    assert agg.sweep.complete is False
    assert [f["_dir"] for f in agg.sweep.failures] == ["2"]
    assert agg.sweep.missing == [["sampler=tiny", "sampler.guidance=8", "seed=1"]]
    md = agg.markdown.read_text()
    assert "**INCOMPLETE: 2 of 4 jobs have results; 1 failed, 1 missing**" in md
    assert re.search(
        r"\| sampler=tiny sampler.guidance=8 \| +0 \| failed +\| +2 \| RuntimeError: CUDA out of memory", md
    )
    assert re.search(r"\| sampler=tiny sampler.guidance=8 \| +1 \| missing +\| +\| no result.json", md)
    page = agg.report.read_text()
    assert "INCOMPLETE: 2 of 4 jobs have results; 1 failed, 1 missing" in page
    assert "RuntimeError: CUDA out of memory" in page and "missing" in page
    assert pd.read_csv(agg.csv)["setting"].tolist() == ["all"]  # only guidance 1 finished


def test_a_sweep_where_every_job_failed_still_gets_a_report(tmp_path):
    write_sweep_file(tmp_path, ["seed=0,1"])
    write_failure(tmp_path, 0, ["seed=0"])
    write_failure(tmp_path, 1, ["seed=1"], "ValueError: bad image")
    agg = aggregate(tmp_path)
    assert agg.table.empty and agg.verdicts.empty
    assert "ValueError: bad image" in agg.report.read_text()
    assert "INCOMPLETE: 0 of 2 jobs have results; 2 failed, 0 missing" in agg.markdown.read_text()


def test_metrics_of_different_versions_are_left_out_not_mixed(tmp_path):
    for num, backend in enumerate(["lpips-alex", "stlpips-alex"]):
        items = [item(n, flicker=0.1, consecutive_perceptual=0.2) for n in ITEMS]
        write_job(tmp_path, num, [f"seed={num}"], 4.0, num, items, metric_versions={**VERSIONS, "perceptual": backend})
    agg = aggregate(tmp_path)
    assert list(agg.excluded) == ["consecutive_perceptual"]
    assert "flicker_mean" in agg.table and "consecutive_perceptual_mean" not in agg.table
    assert "`consecutive_perceptual` left out: perceptual differs" in agg.markdown.read_text()


def test_contended_step_times_are_marked_and_not_mixed_with_lone_ones(tmp_path):
    items = [item(n, step_s=0.5) for n in ITEMS]
    write_job(tmp_path, 0, ["sampler.guidance=1", "seed=0"], 1.0, 0, items, contended=True)
    write_job(tmp_path, 1, ["sampler.guidance=8", "seed=0"], 8.0, 0, [item(n, step_s=0.9) for n in ITEMS])
    write_job(
        tmp_path, 2, ["sampler.guidance=8", "seed=1"], 8.0, 1, [item(n, step_s=2.0) for n in ITEMS], contended=True
    )
    table = aggregate(tmp_path).table.set_index("setting")
    assert table.loc["guidance_scale=1.0", "step_s_contended"] and table.loc["guidance_scale=1.0", "step_s_mean"] == 0.5
    assert not table.loc["guidance_scale=8.0", "step_s_contended"]
    assert table.loc["guidance_scale=8.0", "step_s_mean"] == 0.9  # the lone job's, not the contended one's
    md = (tmp_path / "aggregate" / "results.md").read_text()
    assert "| 0.5 ± 0 † contended |" in md and "| 0.9 ± 0             |" in md


def test_parity_columns_only_where_the_setting_itself_was_compared(tmp_path):
    reference = {
        "mode": "reference",
        "engine": "native",
        "case": "i2v_small_cfg",
        "steps": [{"step": 0, "max_abs": 1e-6, "mean_abs": 1e-7}],
        "final_latents": {"max_abs": 2e-6, "mean_abs": 1e-7},
        "video": {"max_abs": 3e-7, "mean_abs": 1e-8},
        "within_tolerance": True,
    }
    live = {**reference, "mode": "live", "case": "img0", "final_latents": {"max_abs": 5e-6, "mean_abs": 1e-7}}
    items = [item(n, flicker=0.1) for n in ITEMS]
    write_job(tmp_path, 0, ["parity=reference", "seed=0"], 1.0, 0, items, parity=[reference])
    write_job(tmp_path, 1, ["parity=live", "sampler.guidance=8", "seed=0"], 8.0, 0, items, parity=[live])
    agg = aggregate(tmp_path)
    table = agg.table.set_index("setting")
    assert pd.isna(table.loc["guidance_scale=1.0", "parity_latents_max_abs"])  # the cases ran their own settings
    assert table.loc["guidance_scale=8.0", "parity_latents_max_abs"] == 5e-6
    ref = agg.reference.iloc[0]
    assert (ref["case"], ref["num_inference_steps"], ref["guidance_scale"], ref["jobs"]) == ("i2v_small_cfg", 4, 4.0, 1)
    assert ref["latents_max_abs"] == 2e-6 and ref["within_tolerance"]
    detail = pd.read_csv(tmp_path / "aggregate" / "parity.csv")
    assert detail["quantity"].tolist() == ["latents_step0", "final_latents", "video"] * 2


def test_the_html_report_is_one_offline_file_with_a_video_grid(sweep):
    from eval.media import save_comparison, save_video

    from .conftest import panning_clip

    clip = panning_clip(frames=5)
    for job in ("0", "2"):  # the lowest seed of each setting
        for name in ITEMS[:2]:
            save_video(clip, sweep / job / "media" / f"{name}.mp4", fps=15)
            save_comparison(clip[0], clip[0], sweep / job / "media" / f"{name}_first_frame.png")
    page = aggregate(sweep).report.read_text()
    assert not re.search(r"""(src|href)=["'](https?:|//)""", page)  # nothing fetched
    assert page.count('<video src="data:video/mp4;base64,') == 4  # 2 images × 2 settings, embedded
    assert page.count('src="data:image/png;base64,') >= 4 + 3  # first-frame PNGs and the plots
    grid = page.split("Videos per image across settings")[1]
    assert grid.count("<tr><th>img") == len(ITEMS) and grid.count("no media") == 2 * (len(ITEMS) - 2)
    assert "guidance_scale=1.0 better" in page


def test_cli(sweep, capsys, tmp_path):
    main([str(sweep), "--baseline", "guidance_scale=8.0"])
    out = capsys.readouterr().out
    assert "baseline `guidance_scale=8.0`" in out and "complete: 4 of 4" in out
    with pytest.raises(SystemExit, match="'nope' is not a setting of this sweep"):
        main([str(sweep), "--baseline", "nope"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no result.json under"):
        main([str(empty)])


def test_long_videos_get_segment_rows_segment_verdicts_and_a_report_section(tmp_path):
    """Two long-video settings over 6 images: B's second segment flickers 0.02 more (and drifts more in colour),
    its first segment is A's; the per-segment verdicts say so segment by segment."""
    write_sweep_file(tmp_path, ["task=long", "sampler.guidance=1,8"])
    for num, guidance in enumerate((1.0, 8.0)):
        worse = 0.02 if guidance == 8 else 0.0
        items = []
        for k, name in enumerate(ITEMS):
            segments = [
                {"segment": 0, "start": 0, "end": 5, "flicker": 0.1 + 0.01 * k, "color_drift": 0.0},
                {"segment": 1, "start": 5, "end": 9, "flicker": 0.1 + 0.01 * k + worse, "color_drift": 1 + k + worse},
            ]
            items.append(item(name, color_drift=1.0 + k + 100 * worse, seam_flicker_ratio=1.1, segments=segments))
        write_job(tmp_path, num, ["task=long", f"sampler.guidance={guidance:g}"], guidance, 0, items)
    agg = aggregate(tmp_path)

    segments = pd.read_csv(tmp_path / "aggregate" / "segments.csv")
    assert len(segments) == 2 * 6 * 2 and set(segments["segment"]) == {0, 1}
    assert {"setting", "item", "seed", "start", "end", "flicker", "color_drift"} <= set(segments.columns)
    by_segment = pd.read_csv(tmp_path / "aggregate" / "segment_verdicts.csv").set_index(["segment", "metric"])
    assert by_segment.loc[(1, "flicker"), "verdict"] == "guidance_scale=1.0 better"
    assert by_segment.loc[(1, "flicker"), "mean_diff"] == pytest.approx(0.02)
    assert by_segment.loc[(0, "flicker"), "verdict"] == "no detectable difference at n = 6"
    verdicts = pd.read_csv(agg.csv.parent / "verdicts.csv").set_index("metric")
    assert verdicts.loc["color_drift", "verdict"] == "guidance_scale=1.0 better"
    assert verdicts.loc["seam_flicker_ratio", "verdict"] == "no detectable difference at n = 6"
    assert "segments" not in pd.read_csv(agg.csv.parent / "items.csv").columns
    markdown, page = agg.markdown.read_text(), agg.report.read_text()
    assert "## Long videos per segment" in markdown and "Per-segment verdicts" in markdown
    assert "<h2>Long videos per segment</h2>" in page and "Per-segment verdicts (" in page

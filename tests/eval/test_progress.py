"""Sweep progress: job count from the sweep overrides, done/total and ETA from the sweep folder."""

from __future__ import annotations

import json

from eval import progress


def test_job_count_is_the_product_of_the_sweeps():
    assert progress.count_jobs(["sampler.cond_rope=full,skip", "sampler.steps=8,16", "seed=0,1", "x=3"]) == 8
    assert progress.count_jobs(["seed=range(0,5)"]) == 5
    assert progress.count_jobs([]) == 1


def test_progress_counts_finished_jobs_and_estimates_the_rest(tmp_path):
    progress.start(tmp_path, total=4)
    state = json.loads((tmp_path / progress.STATE_FILE).read_text())
    (tmp_path / progress.STATE_FILE).write_text(json.dumps({**state, "start": state["start"] - 60}))
    progress.record(tmp_path, "a", ok=True)
    line = progress.report(tmp_path, "b", ok=False)
    done, failed, total, elapsed = progress.status(tmp_path)
    assert (done, failed, total) == (2, 1, 4) and elapsed >= 60
    assert "2/4 jobs (1 failed)" in line and "ETA 01:0" in line  # 2 jobs in ~60 s → ~60 s for the other 2


def test_render():
    assert progress.render(0, 0, 3, 5.0, width=6) == "[sweep] ░░░░░░ 0/3 jobs | elapsed 00:05 | ETA ?"
    assert progress.render(3, 0, 3, 30.0, width=6) == "[sweep] ██████ 3/3 jobs | elapsed 00:30 | ETA 00:00"

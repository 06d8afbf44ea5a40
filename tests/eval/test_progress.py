"""Sweep progress: job count from the sweep overrides, done/total and ETA from the sweep folder, and a re-run
into the same folder that starts its own count."""

from __future__ import annotations

import json

import pytest

from eval import progress


def test_job_count_is_the_product_of_the_sweeps():
    assert progress.count_jobs(["sampler.cond_rope=full,skip", "sampler.steps=8,16", "seed=0,1", "x=3"]) == 8
    assert progress.count_jobs(["seed=range(0,5)"]) == 5
    assert progress.count_jobs([]) == 1
    assert progress.count_jobs(["sampler=glob(*)"]) is None  # needs the config to expand


def test_planned_jobs_follow_hydras_job_numbers():
    assert progress.planned_jobs(["a=1,2", "b=x", "c=p,q"]) == [
        ["a=1", "b=x", "c=p"],
        ["a=1", "b=x", "c=q"],
        ["a=2", "b=x", "c=p"],
        ["a=2", "b=x", "c=q"],
    ]
    assert progress.planned_jobs(["sampler=glob(*)"]) is None


def _age(sweep_dir, seconds: float) -> None:
    state = json.loads((sweep_dir / progress.STATE_FILE).read_text())
    (sweep_dir / progress.STATE_FILE).write_text(json.dumps({**state, "start": state["start"] - seconds}))


def test_progress_counts_finished_jobs_and_estimates_the_rest(tmp_path):
    progress.start(tmp_path, total=4)
    _age(tmp_path, 60)
    progress.record(tmp_path, 0, "a", "done")
    line = progress.report(tmp_path, 1, "b", "failed")
    s = progress.status(tmp_path)
    assert (s["done"], s["failed"], s["total"]) == (2, 1, 4) and s["elapsed"] >= 60
    assert "2/4 jobs (1 failed)" in line and "ETA 01:0" in line  # 2 jobs in ~60 s → ~60 s for the other 2


def test_a_rerun_into_the_same_folder_counts_only_its_own_jobs(tmp_path):
    progress.start(tmp_path, total=3)
    for job in range(3):
        progress.record(tmp_path, job, str(job), "done")
    progress.start(tmp_path, total=3)  # the same sweep launched again into its folder
    _age(tmp_path, 30)
    progress.record(tmp_path, 0, "0", "skipped")
    progress.record(tmp_path, 1, "1", "done")
    progress.record(tmp_path, 1, "1", "done")  # a job reporting twice (e.g. requeued) counts once
    line = progress.render(**progress.status(tmp_path), width=6)
    assert "2/3 jobs (1 skipped)" in line and "ETA 00:3" in line  # one job ran in ~30 s; skipped ones cost nothing


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, 0, 0, 3, 5.0), "[sweep] ░░░░░░ 0/3 jobs | elapsed 00:05 | ETA ?"),
        ((3, 0, 0, 3, 30.0), "[sweep] ██████ 3/3 jobs | elapsed 00:30 | ETA 00:00"),
        ((10, 0, 0, 6, 30.0), "[sweep] ██████ 10/10 jobs | elapsed 00:30 | ETA 00:00"),  # never 10/6, never < 0
        ((2, 2, 0, 2, 1.0), "[sweep] ██████ 2/2 jobs (2 skipped) | elapsed 00:01 | ETA 00:00"),
        ((1, 1, 0, 2, 1.0), "[sweep] ███░░░ 1/2 jobs (1 skipped) | elapsed 00:01 | ETA ?"),
        ((4, 0, 1, None, 65.0), "[sweep] 4 jobs finished (1 failed) | elapsed 01:05"),
    ],
)
def test_render(args, expected):
    assert progress.render(*args, width=6) == expected

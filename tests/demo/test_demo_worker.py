"""The worker on the tiny checkpoint: own file per job, cancel within one step, old videos cleaned up."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from demo.config import DemoConfig
from demo.request import build_request
from demo.worker import GenerationWorker, Job
from longcat_i2v import LongCatI2V
from longcat_i2v.errors import GenerationCancelled


@pytest.fixture
def tiny_request(tiny_form: DemoConfig, picture_path: Path):
    """A checked request for a 5-frame 64x48 video in 2 steps; keyword arguments change form fields."""

    def make(**changes):
        form = {"prompt": "a cat", "negative_prompt": "", "resolution": "custom", "width": 64, "height": 48,
            "num_frames": 5, "steps": 2, "guidance": 4.0, "seed": 11, "distill": False, "skip_cond_rope": False,
            "fps": 8}  # fmt: skip
        return build_request(tiny_form, picture_path, **{**form, **changes})

    return make


@pytest.fixture
def worker(tiny_pipe: LongCatI2V, tmp_path: Path):
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path / "videos")
    yield worker
    worker.close()


def test_job_writes_its_own_playable_video(worker: GenerationWorker, tiny_request, decode) -> None:
    reports = []
    first = worker.submit(tiny_request(), lambda *report: reports.append(report)).future.result(60)
    second = worker.submit(tiny_request()).future.result(60)
    assert first.video != second.video and first.video.parent == second.video.parent == worker.output_dir
    meta, frames = decode(first.video)
    assert meta["codec"].startswith("h264") and meta["fps"] == 8
    assert frames.shape == (5, 48, 64, 3)
    assert first.first_frame.shape == first.cond_image.shape == (48, 64, 3)
    assert first.seed == 11 and first.settings["seed"] == 11 and first.settings["width"] == 64
    assert [done for done, _, _ in reports] == [0, 1, 2] and reports[-1][1] == 2
    # same seed and settings, same video: the seed reproduces the result
    assert np.abs(decode(second.video)[1].astype(int) - frames).max() <= 1


def test_cancel_stops_at_the_end_of_the_running_step(worker: GenerationWorker, tiny_request) -> None:
    jobs = []

    def cancel_at_step_two(done: int, total: int, what: str) -> None:
        if done == 2:
            jobs[0].cancel()

    jobs.append(worker.submit(tiny_request(steps=500), cancel_at_step_two))
    with pytest.raises(GenerationCancelled, match="after step 2 of 500"):
        jobs[0].future.result(60)
    assert jobs[0].status == "cancelled" and jobs[0].steps_done == 2
    assert list(worker.output_dir.glob("*.mp4")) == []
    # the worker is free again
    assert worker.submit(tiny_request()).future.result(60).video.is_file()
    assert [job.status for job in worker.finished] == ["cancelled", "done"]


def test_cancelled_job_keeps_no_tensors(worker: GenerationWorker, tiny_request) -> None:
    """The future stores the cancel exception; its traceback must not pin latents (GPU memory in a real run)."""
    import torch

    jobs = []
    jobs.append(worker.submit(tiny_request(steps=50), lambda done, total, what: done == 1 and jobs[0].cancel()))
    error = jobs[0].future.exception(60)
    assert isinstance(error, GenerationCancelled)
    held = []
    tb = error.__traceback__
    while tb is not None:
        held += [name for name, value in tb.tb_frame.f_locals.items() if isinstance(value, torch.Tensor)]
        tb = tb.tb_next
    assert held == []


def test_job_cancelled_while_waiting_never_runs(worker: GenerationWorker, tiny_request) -> None:
    jobs: dict[str, Job] = {}
    both_submitted = threading.Event()

    def on_progress(done: int, total: int, what: str) -> None:
        if done == 0:  # the first job holds the device until the second one is queued behind it
            both_submitted.wait(30)
        if done == 1:
            jobs["waiting"].cancel()
            jobs["running"].cancel()

    jobs["running"] = worker.submit(tiny_request(steps=300), on_progress)
    jobs["waiting"] = worker.submit(tiny_request())
    both_submitted.set()
    with pytest.raises(GenerationCancelled, match="after step 1 of 300"):
        jobs["running"].future.result(60)
    waiting = jobs["waiting"]
    assert waiting.future.cancelled() and waiting.status == "cancelled" and waiting.steps_done == 0
    assert [job.status for job in worker.finished] == ["cancelled", "cancelled"]


def test_old_videos_are_removed_when_a_job_starts(tiny_pipe: LongCatI2V, tmp_path: Path, tiny_request) -> None:
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path, keep_outputs_s=60)
    old, recent, unrelated = (
        tmp_path / "longcat_seed1_old.mp4",
        tmp_path / "longcat_seed2_new.mp4",
        tmp_path / "mine.mp4",
    )
    for path in (old, recent, unrelated):
        path.write_bytes(b"")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(unrelated, (hour_ago, hour_ago))
    try:
        result = worker.submit(tiny_request()).future.result(60)
    finally:
        worker.close()
    assert not old.exists() and recent.exists() and result.video.exists()
    assert unrelated.exists(), "files the worker did not write are not its to delete"


def test_default_output_folder_is_private_and_removed_on_close(tiny_pipe: LongCatI2V, tiny_request) -> None:
    worker = GenerationWorker(tiny_pipe)
    video = worker.submit(tiny_request()).future.result(60).video
    assert video.parent == worker.output_dir and video.is_file()
    worker.close()
    assert not worker.output_dir.exists()

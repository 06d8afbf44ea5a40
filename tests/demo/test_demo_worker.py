"""The worker on the tiny checkpoint: own files per job, what a page shows while it runs, cancel within one step
or one decoded chunk, old files cleaned up."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

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
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path / "videos", preview_interval_s=0)
    yield worker
    worker.close()


def test_job_writes_its_own_playable_video(worker: GenerationWorker, tiny_request, decode) -> None:
    seen = []
    first = worker.submit(tiny_request(), lambda job: seen.append((job.phase, job.steps_done, job.chunks_decoded)))
    first = first.future.result(60)
    second = worker.submit(tiny_request()).future.result(60)
    assert first.video != second.video and first.video.parent == second.video.parent == worker.output_dir
    meta, frames = decode(first.video)
    assert meta["codec"].startswith("h264") and meta["fps"] == 8
    assert frames.shape == (5, 48, 64, 3)
    assert first.first_frame.shape == first.cond_image.shape == (48, 64, 3)
    assert first.thumbnail.suffix == ".png" and first.thumbnail.is_file()
    assert first.seed == 11 and first.settings["seed"] == 11 and first.settings["width"] == 64
    assert set(first.timing) == {"encoding", "denoising", "decoding", "writing"}
    # the phases in order, every step, and the decode's one chunk (5 frames = 2 latent frames, 4 to a chunk)
    phases = [phase for phase, _, _ in seen]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "waiting", "encoding", "denoising", "decoding", "writing"]  # fmt: skip
    assert sorted({steps for _, steps, _ in seen}) == [0, 1, 2]
    assert sorted({decoded for phase, _, decoded in seen if phase == "decoding"}) == [0, 1]
    kept = np.load(first.frames_file)  # the exact frames, for Extend and Refine
    assert kept.shape == (5, 48, 64, 3) and kept.dtype == np.uint8 and first.segments == ((0, 5),)
    # same seed and settings, same video: the seed reproduces the result
    assert np.abs(decode(second.video)[1].astype(int) - frames).max() <= 1


def test_the_job_carries_a_live_preview_that_changes(worker: GenerationWorker, tiny_request) -> None:
    previews: list[np.ndarray] = []

    def keep(job: Job) -> None:
        if job.preview is not None and (not previews or job.preview is not previews[-1]):
            previews.append(job.preview)

    worker.submit(tiny_request(steps=4, num_frames=9), keep).future.result(60)
    assert len(previews) == 4  # one per step: the interval is 0 here
    # 9 frames = 3 latent frames of 6x8 latent pixels, side by side with 2-pixel gaps
    assert previews[0].shape == (6, 3 * 8 + 2 * 2, 3) and previews[0].dtype == np.uint8
    assert all(np.abs(a.astype(int) - b).mean() > 0 for a, b in zip(previews, previews[1:], strict=False))


def test_remaining_time_is_estimated_from_the_steps(worker: GenerationWorker, tiny_request) -> None:
    estimates = []

    def note(job: Job) -> None:
        if job.phase == "denoising":
            estimates.append(worker.remaining(job))

    worker.submit(tiny_request(steps=3), note).future.result(60)
    assert estimates and all(e is not None and e.leaves_out == ("decoding", "writing") for e in estimates)
    estimates.clear()
    worker.submit(tiny_request(steps=3), note).future.result(60)
    assert estimates and all(e.leaves_out == () and e.seconds > 0 for e in estimates)  # decoding measured now


def test_cancel_stops_at_the_end_of_the_running_step(worker: GenerationWorker, tiny_request) -> None:
    jobs = []

    def cancel_at_step_two(job: Job) -> None:
        if job.steps_done == 2:
            job.cancel()

    jobs.append(worker.submit(tiny_request(steps=500), cancel_at_step_two))
    with pytest.raises(GenerationCancelled, match="after step 2 of 500"):
        jobs[0].future.result(60)
    assert jobs[0].status == "cancelled" and jobs[0].steps_done == 2
    assert list(worker.output_dir.glob("*.mp4")) == []
    # the worker is free again
    assert worker.submit(tiny_request()).future.result(60).video.is_file()
    assert [job.status for job in worker.finished] == ["cancelled", "done"]


def test_cancel_while_decoding_stops_the_decode(worker: GenerationWorker, tiny_request, tiny_pipe) -> None:
    def cancel_after_one_chunk(job: Job) -> None:
        if job.phase == "decoding" and job.chunks_decoded == 1:
            job.cancel()

    # 17 frames = 5 latent frames: two chunks of the core's decode (4 latent frames, then 1)
    job = worker.submit(tiny_request(num_frames=17), cancel_after_one_chunk)
    with pytest.raises(GenerationCancelled, match="while decoding, after 1 of 2 chunks"):
        job.future.result(60)
    assert job.status == "cancelled" and (job.chunks_decoded, job.decode_chunks) == (1, 2)
    assert all(cached is None for cached in tiny_pipe.components.vae._feat_map)  # the decoder's cache was let go
    assert list(worker.output_dir.glob("*.mp4")) == []


def test_cancelled_job_keeps_no_tensors(worker: GenerationWorker, tiny_request) -> None:
    """The future stores the cancel exception; its traceback must not pin latents (GPU memory in a real run)."""
    job = worker.submit(tiny_request(steps=50), lambda job: job.steps_done == 1 and job.cancel())
    error = job.future.exception(60)
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

    def on_change(job: Job) -> None:
        if job.phase == "encoding":  # the first job holds the device until the second one is queued behind it
            both_submitted.wait(30)
        if job.steps_done == 1:
            assert worker.ahead_of(jobs["waiting"]) == 1 and worker.waiting == 1
            jobs["waiting"].cancel()
            jobs["running"].cancel()

    jobs["running"] = worker.submit(tiny_request(steps=300), on_change)
    jobs["waiting"] = worker.submit(tiny_request())
    both_submitted.set()
    with pytest.raises(GenerationCancelled, match="after step 1 of 300"):
        jobs["running"].future.result(60)
    waiting = jobs["waiting"]
    assert waiting.future.cancelled() and waiting.status == "cancelled" and waiting.steps_done == 0
    assert [job.status for job in worker.finished] == ["cancelled", "cancelled"]
    assert worker.running is None and worker.waiting == 0


def _age(*paths: Path, seconds: float = 3600) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def test_old_files_are_removed_when_a_job_starts(tiny_pipe: LongCatI2V, tmp_path: Path, tiny_request) -> None:
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path, keep_outputs_s=60, sweep_every_s=3600)
    old, old_thumbnail, recent, unrelated = (tmp_path / name for name in
        ("longcat_seed1_old.mp4", "longcat_seed1_old.png", "longcat_seed2_new.mp4", "mine.mp4"))  # fmt: skip
    for path in (old, old_thumbnail, recent, unrelated):
        path.write_bytes(b"")
    _age(old, old_thumbnail, unrelated)
    try:
        result = worker.submit(tiny_request()).future.result(60)
    finally:
        worker.close()
    assert not old.exists() and not old_thumbnail.exists() and recent.exists() and result.video.exists()
    assert unrelated.exists(), "files the worker did not write are not its to delete"


def test_old_files_are_swept_while_the_server_is_idle(tiny_pipe: LongCatI2V, tmp_path: Path) -> None:
    old = tmp_path / "longcat_seed1_old.mp4"
    old.write_bytes(b"")
    _age(old)
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path, keep_outputs_s=60, sweep_every_s=0.05)
    try:
        deadline = time.monotonic() + 30
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.close()
    assert not old.exists()


def test_default_output_folder_is_private_and_removed_on_close(tiny_pipe: LongCatI2V, tiny_request) -> None:
    worker = GenerationWorker(tiny_pipe)
    video = worker.submit(tiny_request()).future.result(60).video
    assert video.parent == worker.output_dir and video.is_file()
    worker.close()
    assert not worker.output_dir.exists()

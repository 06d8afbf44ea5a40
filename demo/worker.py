"""One generation at a time on the pipeline's device, in a background thread that a cancel stops between steps.

The web server's queue decides whose turn it is; this worker makes sure the device never runs two jobs at
once even while a cancelled job is still finishing its current step, and gives every job its own mp4 file.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from longcat_i2v import GenerationOutput, LongCatI2V
from longcat_i2v.errors import GenerationCancelled
from longcat_i2v.video import to_uint8, write_mp4

from .request import GenerationRequest

logger = logging.getLogger(__name__)

OUTPUT_PREFIX = "longcat_"  # every video this worker writes is named longcat_seed<seed>_<job id>.mp4

# on_progress(done, total, what): `done` of `total` denoising steps are finished; `what` says what runs now.
ProgressReporter = Callable[[int, int, str], None]


@dataclass(frozen=True)
class GenerationResult:
    """What the page shows for a finished job."""

    video: Path
    cond_image: np.ndarray  # uint8 [H, W, 3]: the input as the model saw it (after the bucket resize)
    first_frame: np.ndarray  # uint8 [H, W, 3]
    seed: int
    seconds: float
    settings: dict[str, Any]


@dataclass(eq=False)  # identity, so jobs can live in a set
class Job:
    """A submitted generation; ``cancel()`` stops it at the end of the step that is running."""

    request: GenerationRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "queued"  # queued → running → done | cancelled | failed
    steps_done: int = 0
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    future: Future[GenerationResult] = field(default_factory=Future)

    @property
    def total_steps(self) -> int:
        return self.request.steps

    def cancel(self) -> None:
        self.cancel_requested.set()
        self.future.cancel()  # only succeeds while the job still waits for the device


class GenerationWorker:
    """Runs generation jobs one after another on ``pipe`` and writes each video to a file of its own.

    Use one worker per pipeline. Without ``output_dir`` the videos go to a private temporary folder that
    ``close()`` deletes; a given ``output_dir`` must lie under the system temp folder or the working
    directory for gradio to serve files from it."""

    def __init__(self, pipe: LongCatI2V, output_dir: str | Path | None = None, keep_outputs_s: float = 3600.0):
        self.pipe = pipe
        self._tmp = tempfile.TemporaryDirectory(prefix="longcat-demo-") if output_dir is None else None
        self.output_dir = Path(self._tmp.name if self._tmp else output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.keep_outputs_s = keep_outputs_s
        self.finished: deque[Job] = deque(maxlen=100)  # recent jobs, newest last, for the log and for checks
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="longcat-generate")
        self._lock = threading.Lock()
        self._pending: set[Job] = set()

    def submit(self, request: GenerationRequest, on_progress: ProgressReporter | None = None) -> Job:
        """Queue a job behind the one running (if any) and return it at once."""
        job = Job(request)
        with self._lock:
            self._pending.add(job)
        job.future = self._executor.submit(self._run, job, on_progress or (lambda done, total, what: None))
        job.future.add_done_callback(lambda _: self._forget(job))
        return job

    def close(self) -> None:
        """Cancel every job, wait for the running one to stop, and delete this worker's own temporary folder."""
        with self._lock:
            jobs = list(self._pending)
        for job in jobs:
            job.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._tmp is not None:
            self._tmp.cleanup()

    def _forget(self, job: Job) -> None:
        if job.future.cancelled():
            self._finish(job, "cancelled")
        with self._lock:
            self._pending.discard(job)

    def _run(self, job: Job, on_progress: ProgressReporter) -> GenerationResult:
        self._remove_old_outputs()
        job.status = "running"
        try:
            result = self._generate(job, on_progress)
        except BaseException as exc:
            # The future keeps this exception; drop the finished frames' locals (latents, activations, on the
            # GPU in a CUDA run) so a cancelled or failed job holds no memory.
            traceback.clear_frames(exc.__traceback__.tb_next)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            cancelled = isinstance(exc, GenerationCancelled)
            self._finish(job, "cancelled" if cancelled else "failed")
            if cancelled:
                logger.info("job %s cancelled after %d of %d steps", job.id, job.steps_done, job.total_steps)
            raise
        self._finish(job, "done")
        logger.info("job %s done in %.1f s: %s", job.id, result.seconds, result.video.name)
        return result

    def _generate(self, job: Job, on_progress: ProgressReporter) -> GenerationResult:
        request = job.request
        start = time.perf_counter()

        def after_step(step: int, total: int, latents: object) -> None:
            job.steps_done = min(step + 1, total)
            on_progress(job.steps_done, total, "Denoising" if job.steps_done < total else "Decoding the video")
            if job.cancel_requested.is_set():
                raise GenerationCancelled(f"cancelled after step {job.steps_done} of {total}")

        if job.cancel_requested.is_set():
            raise GenerationCancelled("cancelled before it started")
        on_progress(0, request.steps, "Encoding the prompt and the image")
        out = self.pipe.generate_video(**request.pipeline_kwargs(), callback=after_step)
        video = write_mp4(out.frames, self.output_dir / f"{OUTPUT_PREFIX}seed{out.seed}_{job.id[:12]}.mp4", request.fps)
        seconds = time.perf_counter() - start
        settings = self._settings(request, out, seconds)
        return GenerationResult(video, to_uint8(out.cond_image), to_uint8(out.frames[0]), out.seed, seconds, settings)

    def _finish(self, job: Job, status: str) -> None:
        job.status = status
        self.finished.append(job)

    def _settings(self, request: GenerationRequest, out: GenerationOutput, seconds: float) -> dict:
        """The settings a user needs to reproduce the video (JSON-friendly): the resolved settings, the size the
        video came out at, and the checkpoint by name (never a server path)."""
        used = out.settings.to_dict() if out.settings is not None else request.settings.to_dict()
        return {
            "checkpoint": self.pipe.checkpoint_dir.name,
            **used,
            "height": out.height,
            "width": out.width,
            "seconds": round(seconds, 2),
        }

    def _remove_old_outputs(self) -> None:
        """Delete this worker's videos older than ``keep_outputs_s`` (the page serves its own copies); other files
        in the folder are left alone."""
        cutoff = time.time() - self.keep_outputs_s
        for path in self.output_dir.glob(f"{OUTPUT_PREFIX}*.mp4"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue

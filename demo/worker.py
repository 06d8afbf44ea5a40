"""One generation at a time on the pipeline's device, in a background thread that a cancel stops between steps
and between decoded chunks (the core reports both, and stops where its ``progress`` raises).

The web server's queue decides whose turn it is; this worker makes sure the device never runs two jobs at
once even while a cancelled job is still finishing its current step, gives every job its own files, keeps what
a page shows while the job runs (phase, step, segment, a live preview, the video so far, the time left) and
deletes its files once they are older than the retention time. A job is any checked request with a ``run``: a
generation, an Extend, a long video or a Refine (request.py, tasks.py).
"""

from __future__ import annotations

import logging
import shutil
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
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from longcat_i2v import LongCatI2V
from longcat_i2v.errors import GenerationCancelled
from longcat_i2v.progress import Progress, ProgressFn
from longcat_i2v.video import write_mp4

from .eta import JobClock, Rates, Remaining
from .preview import LivePreview
from .request import Produced

logger = logging.getLogger(__name__)

OUTPUT_PREFIX = "longcat_"  # every file this worker writes is named longcat_..., and only those are swept
PHASES = ("waiting", "encoding", "denoising", "refining", "decoding", "writing")

OnChange = Callable[["Job"], None]


class Request(Protocol):
    """A checked job: its step count and frame rate before it runs, and ``run``, which makes it (files named
    from ``stem``, e.g. a long video's growing mp4)."""

    @property
    def steps(self) -> int: ...

    @property
    def fps(self) -> int: ...

    def run(self, pipe: LongCatI2V, progress: ProgressFn, stem: Path) -> Produced: ...


@dataclass(frozen=True)
class GenerationResult:
    """What the page shows for a finished job."""

    video: Path
    thumbnail: Path  # the middle frame, as a PNG beside the video
    cond_image: np.ndarray  # uint8 [H, W, 3]: the input as the model saw it (after the bucket resize)
    first_frame: np.ndarray  # uint8 [H, W, 3]
    seed: int
    seconds: float
    settings: dict[str, Any]
    timing: dict[str, float]  # seconds per phase (encoding, denoising, decoding, writing)
    frames_file: Path | None = None  # the frames exactly (uint8 .npy), for Extend and Refine
    image_file: Path | None = None  # the input image (PNG), for Refine
    num_frames: int = 0
    fps: int = 0
    kind: str = "video"
    segments: tuple[tuple[int, int], ...] = ()  # the stage-1 segments' frames; () once refined
    num_cond_frames: int = 0
    note: str = ""


@dataclass(eq=False)  # identity, so jobs can live in a set
class Job:
    """A submitted job; ``cancel()`` stops it at the end of the step (or decoded chunk) that is running.

    The worker thread updates the fields below as the job runs and calls ``on_change`` after each update."""

    request: Request
    on_change: OnChange = lambda job: None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "queued"  # queued → running → done | cancelled | failed
    phase: str = "waiting"  # one of PHASES while queued or running
    steps_done: int = 0
    steps_total: int = 0  # of the running loop (denoising or refining), once it has reported
    chunks_decoded: int = 0
    decode_chunks: int = 0
    latent_frames: int = 0
    segment: int = 0  # 0-based, of ``segments`` (long videos, refined segments)
    segments: int = 1
    partial_video: Path | None = None  # the finished segments so far, as an mp4 (long videos)
    preview: np.ndarray | None = None  # uint8 RGB: the latest live preview
    changes: int = 0  # counts the updates, so that a watcher can tell something is new
    clock: JobClock = field(default_factory=JobClock)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    future: Future[GenerationResult] = field(default_factory=Future)

    @property
    def total_steps(self) -> int:
        return self.steps_total or self.request.steps

    def cancel(self) -> None:
        self.cancel_requested.set()
        self.future.cancel()  # only succeeds while the job still waits for the device

    def changed(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.changes += 1
        self.on_change(self)


class GenerationWorker:
    """Runs generation jobs one after another on ``pipe`` and writes each video to a file of its own.

    Use one worker per pipeline. Without ``output_dir`` the videos go to a private temporary folder that
    ``close()`` deletes; a given ``output_dir`` must lie under the system temp folder or the working
    directory for gradio to serve files from it. Files older than ``keep_outputs_s`` are deleted when a job
    starts and every ``sweep_every_s`` seconds."""

    def __init__(
        self,
        pipe: LongCatI2V,
        output_dir: str | Path | None = None,
        keep_outputs_s: float = 3600.0,
        preview_interval_s: float = 0.5,
        sweep_every_s: float | None = None,
    ):
        self.pipe = pipe
        self._tmp = tempfile.TemporaryDirectory(prefix="longcat-demo-") if output_dir is None else None
        self.output_dir = Path(self._tmp.name if self._tmp else output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.keep_outputs_s = keep_outputs_s
        self.preview_interval_s = preview_interval_s
        self.rates = Rates()
        self.finished: deque[Job] = deque(maxlen=100)  # recent jobs, newest last, for the log and for checks
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="longcat-generate")
        self._lock = threading.Lock()
        self._line: list[Job] = []  # submitted and not finished, in order
        self._closed = threading.Event()
        every = sweep_every_s if sweep_every_s is not None else max(1.0, min(60.0, keep_outputs_s / 10))
        self._sweeper = threading.Thread(target=self._sweep_loop, args=(every,), name="longcat-sweep", daemon=True)
        self._sweeper.start()

    @property
    def running(self) -> Job | None:
        with self._lock:
            return next((job for job in self._line if job.status == "running"), None)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(job.status == "queued" for job in self._line)

    def ahead_of(self, job: Job) -> int:
        """How many jobs run or wait before ``job``."""
        with self._lock:
            return self._line.index(job) if job in self._line else 0

    def submit(self, request: Request, on_change: OnChange | None = None) -> Job:
        """Queue a job behind the ones running or waiting and return it at once."""
        job = Job(request, on_change or (lambda job: None))
        with self._lock:
            self._line.append(job)
        job.future = self._executor.submit(self._run, job)
        job.future.add_done_callback(lambda _: self._forget(job))
        return job

    def close(self) -> None:
        """Cancel every job, wait for the running one to stop, and delete this worker's own temporary folder."""
        with self._lock:
            jobs = list(self._line)
        for job in jobs:
            job.cancel()
        self._closed.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._sweeper.join()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _forget(self, job: Job) -> None:
        if job.future.cancelled():
            self._finish(job, "cancelled")
        with self._lock:
            if job in self._line:
                self._line.remove(job)
        job.changed()

    def _run(self, job: Job) -> GenerationResult:
        self.remove_old_outputs()
        job.changed(status="running")
        try:
            result = self._generate(job)
        except BaseException as exc:
            # The future keeps this exception; drop the finished frames' locals (latents, activations, on the
            # GPU in a CUDA run) so a cancelled or failed job holds no memory.
            traceback.clear_frames(exc.__traceback__.tb_next)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            cancelled = isinstance(exc, GenerationCancelled)
            self._finish(job, "cancelled" if cancelled else "failed")
            if cancelled:
                logger.info("job %s cancelled (%s)", job.id, exc)
            raise
        self._finish(job, "done")
        logger.info("job %s done in %.1f s: %s", job.id, result.seconds, result.video.name)
        return result

    def _generate(self, job: Job) -> GenerationResult:
        request = job.request
        start = time.perf_counter()
        preview = LivePreview(lambda: getattr(self.pipe.components.scheduler, "sigmas", None),
                              interval_s=self.preview_interval_s)  # fmt: skip
        stem = self.output_dir / f"{OUTPUT_PREFIX}{job.id[:12]}"

        def on_progress(report: Progress) -> None:
            self._note(job, report, preview, stem)
            if job.cancel_requested.is_set():
                raise GenerationCancelled(_stopped_at(job))

        if job.cancel_requested.is_set():
            raise GenerationCancelled("cancelled before it started")
        made = request.run(self.pipe, on_progress, stem)
        frames = made.frames
        job.clock.units["writing"] = frames.shape[0] * frames.shape[1] * frames.shape[2]
        job.clock.start("writing")
        job.changed(phase="writing")
        video = made.video or write_mp4(frames, stem.with_suffix(".mp4"), made.fps)
        thumbnail = stem.with_suffix(".png")
        Image.fromarray(frames[len(frames) // 2]).save(thumbnail)
        frames_file = None
        if made.segments:  # a stage-1 video, which Extend and Refine may start from: its frames exactly
            frames_file = stem.with_suffix(".npy")
            np.save(frames_file, frames, allow_pickle=False)
        image_file = None
        if made.image is not None:
            image_file = stem.parent / f"{stem.name}_input.png"
            made.image.save(image_file)
        job.clock.start("finished")
        self._learn(job)
        seconds = time.perf_counter() - start
        settings = self._settings(made, seconds)
        return GenerationResult(video, thumbnail, made.cond_image, frames[0], made.seed, seconds, settings,
                                self._timing(job), frames_file, image_file, len(frames), made.fps, made.kind,
                                made.segments, made.num_cond_frames, made.note)  # fmt: skip

    def _note(self, job: Job, report: Progress, preview: LivePreview, stem: Path) -> None:
        """Record one progress report of the core on the job."""
        if report.segments > 1 and report.segment != job.segment:
            self._show_finished_segments(job, stem, report.segment)
        job.clock.start(report.phase)
        if report.phase in ("denoising", "refining"):
            job.clock.step_done()
            latents = report.latents
            frames = job.latent_frames if latents is None else latents.shape[2]
            if latents is not None:
                job.clock.units["decoding"] = latents.shape[2] * latents.shape[3] * latents.shape[4]
            image = preview.update(report) if report.phase == "denoising" else None
            job.changed(phase=report.phase, steps_done=report.step, steps_total=report.total, latent_frames=frames,
                        segment=report.segment, segments=report.segments,
                        preview=job.preview if image is None else image)  # fmt: skip
        elif report.phase == "decoding":
            if report.step > 0:
                job.clock.frame_done()
            job.changed(phase="decoding", chunks_decoded=report.step, decode_chunks=report.total)
        else:
            job.changed(phase=report.phase, segment=report.segment, segments=report.segments)

    @staticmethod
    def _show_finished_segments(job: Job, stem: Path, segment: int) -> None:
        """A new segment starts: the mp4 of the finished ones (complete after each append) is copied for the page,
        which shows it while the next one is made."""
        growing = stem.with_suffix(".mp4")
        if segment > 0 and growing.is_file():
            shown = stem.parent / f"{stem.name}_{segment}of{job.segments}.mp4"
            shutil.copyfile(growing, shown)
            job.partial_video = shown
        job.segment = segment
        job.clock.next_segment()

    def remaining(self, job: Job) -> Remaining | None:
        """The time ``job`` still needs, once it has been timed."""
        return job.clock.remaining(job.phase, job.total_steps, job.decode_chunks, self.rates)

    def _learn(self, job: Job) -> None:
        for phase, until in (("decoding", "writing"), ("writing", "finished")):
            seconds = job.clock.seconds_in(phase, until)
            if seconds is not None:
                self.rates.learn(phase, seconds, job.clock.units.get(phase, 0))

    @staticmethod
    def _timing(job: Job) -> dict[str, float]:
        phases = ("encoding", "denoising", "decoding", "writing", "finished")
        return {phase: round(s, 2) for phase, until in zip(phases, phases[1:], strict=False)
                if (s := job.clock.seconds_in(phase, until)) is not None}  # fmt: skip

    def _finish(self, job: Job, status: str) -> None:
        job.status = status
        self.finished.append(job)

    def _settings(self, made: Produced, seconds: float) -> dict:
        """The settings a user needs to reproduce the video (JSON-friendly): the resolved settings, the size the
        video came out at, and the checkpoint by name (never a server path)."""
        frames = made.frames
        return {
            "checkpoint": self.pipe.checkpoint_dir.name,
            **made.settings,
            "height": frames.shape[1],
            "width": frames.shape[2],
            "seconds": round(seconds, 2),
        }

    def remove_old_outputs(self) -> None:
        """Delete this worker's files older than ``keep_outputs_s``; other files in the folder are left alone."""
        cutoff = time.time() - self.keep_outputs_s
        for path in self.output_dir.glob(f"{OUTPUT_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue

    def _sweep_loop(self, every_s: float) -> None:
        while not self._closed.wait(every_s):
            self.remove_old_outputs()


def _stopped_at(job: Job) -> str:
    if job.phase == "decoding":
        return f"cancelled while decoding, after {job.chunks_decoded} of {job.decode_chunks} chunks"
    if job.steps_done:
        return f"cancelled after step {job.steps_done} of {job.total_steps}"
    return "cancelled before the first step"

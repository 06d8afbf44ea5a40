"""What the page's buttons and toggles do. Every failure reaches the user as a short message, never a traceback
or a server path.

Generate is an async generator: while the job runs it yields the live preview and the progress (phase, step,
time left), and at least every ``HEARTBEAT_S`` something (a no-op update when nothing changed), so that the
server notices within a fraction of a second when the client has gone away and closes it; closing it, or
cancelling it, cancels the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import math
import re
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr
import torch

from longcat_i2v import defaults
from longcat_i2v.errors import GenerationCancelled, InvalidInputError, LongCatError

from .config import CUSTOM_SIZE, MAX_SEED, DemoConfig
from .eta import describe
from .fields import FormField, form_fields, frames_help
from .request import build_request
from .worker import GenerationResult, GenerationWorker, Job, Request

UNEXPECTED = "Something went wrong while generating the video. Please try again; the server log has the details."
OUT_OF_MEMORY = "The device ran out of memory. Try fewer frames, a smaller size or 480p."
CANCELLED = "The generation was cancelled."
HEARTBEAT_S = 0.25
# The outputs of Generate, in order (the API returns all but the last, a State).
OUTPUTS = ("video", "cond_image", "first_frame", "seed_used", "status", "settings", "preview", "result")
FILE_OUTPUTS = ("video", "cond_image", "first_frame", "preview")
# An absolute POSIX path: shown to users as its last component only.
ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])/(?:[^\s/'\"`]+/)+([^\s/'\"`]+)")

logger = logging.getLogger(__name__)


def hide_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its file name: "/srv/models/x.safetensors" → "x.safetensors"."""
    return ABSOLUTE_PATH.sub(r"\1", text)


def user_error(exc: BaseException) -> gr.Error:
    """The message a user sees for ``exc``: the library's own wording for bad inputs, a generic one otherwise."""
    if isinstance(exc, GenerationCancelled | concurrent.futures.CancelledError):
        return gr.Error(CANCELLED, title="Cancelled", print_exception=False)
    if isinstance(exc, LongCatError):
        return gr.Error(hide_paths(str(exc)), print_exception=False)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return gr.Error(OUT_OF_MEMORY, print_exception=False)
    logger.error("generation failed", exc_info=exc)
    return gr.Error(UNEXPECTED, print_exception=False)


def summary(result: GenerationResult) -> str:
    s = result.settings
    what = {"video": "", "extended": "extended: ", "long video": "long video: ", "refined": "refined: "}[result.kind]
    parts = f" in {plural(len(result.segments), 'segment')}" if len(result.segments) > 1 else ""
    refined = s.get("refine")
    if isinstance(refined, dict):  # the refinement's own steps, not those of the video it refined
        sampler = f"refined with {refined['num_inference_steps']} steps from t_thresh {refined['t_thresh']:g}, "
    else:
        sampler = f"{s['num_inference_steps']} steps, guidance {s['guidance_scale']:g}, "
    text = (
        f"**Done in {result.seconds:.1f} s**: {what}{result.num_frames} frames{parts} at {s['width']}×{s['height']}, "
        f"{sampler}seed {result.seed}, {result.fps} fps."
    )
    return f"{text} {result.note}" if result.note else text


def with_signature(fn: Any, fields: tuple[FormField, ...], leading: tuple[str, ...] = ()) -> Any:
    """``fn`` with one named parameter per form field (after ``leading`` ones), in the table's order: gradio reads
    the parameter names from the signature, and they become the API's names (``image=``, ``prompt=``, ...)."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(name, positional, default=None) for name in leading]
    params += [inspect.Parameter(f.name, positional, default=f.default) for f in fields]
    params.append(inspect.Parameter("progress", positional, default=gr.Progress()))
    params.append(inspect.Parameter("request", positional, default=None, annotation=gr.Request))
    fn.__signature__ = inspect.Signature(params)
    return fn


def outputs(**values: Any) -> tuple[Any, ...]:
    """Generate's outputs with ``values`` set; the others are left as they are, except the outputs that show files,
    which are emptied: gradio keeps a per-visitor copy of any component sent an update (gr.skip() included),
    and the files such a copy caches are never deleted, so file outputs only ever get values."""
    unknown = set(values) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"not an output of Generate: {sorted(unknown)}")
    return tuple(values.get(name, None if name in FILE_OUTPUTS else gr.skip()) for name in OUTPUTS)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class Handlers:
    """Event functions bound to one worker and one form configuration."""

    def __init__(self, worker: GenerationWorker, config: DemoConfig):
        self.worker = worker
        self.config = config
        self.jobs: dict[str, Job] = {}  # each session's latest job, for its Cancel button

    def generate_fn(self, fields: tuple[FormField, ...], refine_fields: tuple[FormField, ...] = ()):
        """``generate`` with one named parameter per form field (the Refine form's after the main one's)."""

        async def generate(*values: Any, progress: gr.Progress = gr.Progress(), request: gr.Request = None,  # noqa: B008
                           **named: Any) -> AsyncIterator[tuple[Any, ...]]:  # fmt: skip
            names = [f.name for f in (*fields, *refine_fields)]
            form = {**dict(zip(names, values, strict=False)), **named}
            refine_form = {f.name: form.pop(f.name) for f in refine_fields if f.name in form}
            updates = self.generate(progress=progress, request=request, fields=fields, refine_form=refine_form, **form)
            async with contextlib.aclosing(updates):
                async for update in updates:
                    yield update

        return with_signature(generate, (*fields, *refine_fields))

    async def generate(
        self,
        *values: Any,
        progress: gr.Progress | None = None,
        request: gr.Request | None = None,
        fields: tuple[FormField, ...] | None = None,
        refine_form: dict[str, Any] | None = None,
        **named: Any,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Check the form (values in the table's order, or by name; the Refine form's in ``refine_form``) off the event
        loop, run the job on the worker, and yield its progress, then the outputs."""
        fields = fields or form_fields(self.config)
        form = {**dict(zip((f.name for f in fields), values, strict=False)), **named}
        image = form.pop("image", None)
        try:
            checked = await asyncio.to_thread(
                build_request, self.config, image, fields, refine_form=refine_form, **form
            )
            if checked.settings.refine:
                self.check_refinable()
        except Exception as exc:
            raise user_error(exc) from exc
        async with contextlib.aclosing(self.run(checked, progress, request)) as updates:
            async for update in updates:
                yield update

    def check_refinable(self) -> None:
        """Refuse a refinement when the checkpoint lacks its LoRA (the page disables Refine then, with this)."""
        reason = self.refine_unavailable()
        if reason:
            raise InvalidInputError(reason)

    def refine_unavailable(self) -> str:
        """Why this checkpoint cannot refine ("" when it can)."""
        path = self.worker.pipe.lora_path(defaults.REFINEMENT_LORA_NAME)
        if path.is_file():
            return ""
        return (f"Refine is not available: this checkpoint has no refinement LoRA ({path.name} under its "
                "lora/ folder).")  # fmt: skip

    async def run(
        self, checked: Request, progress: gr.Progress | None, request: gr.Request | None, shown: str | None = None
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Run a checked job on the worker and yield its progress (with ``shown``, the video to keep showing, or the
        finished segments so far), then the outputs."""
        loop, wake = asyncio.get_running_loop(), asyncio.Event()

        def on_change(job: Job) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

        job = self.worker.submit(checked, on_change)
        self._remember(request, job)
        try:
            async for update in self._watch(job, wake, progress, shown):
                yield update
            result = job.future.result()
        except Exception as exc:  # the job failed or was cancelled: say so where the progress was
            error = user_error(exc)
            yield outputs(status=f"**{error.title or 'Error'}:** {error.message}")
            raise error from exc
        finally:
            if not job.future.done():  # closed (the client left) or cancelled by gradio: stop the job too
                job.cancel()
        yield outputs(
            video=str(result.video),
            cond_image=result.cond_image,
            first_frame=result.first_frame,
            seed_used=result.seed,
            status=summary(result),
            settings=result.settings,
            preview=job.preview,
            result=result,
        )

    async def _watch(
        self, job: Job, wake: asyncio.Event, progress: gr.Progress | None, shown: str | None
    ) -> AsyncIterator[tuple]:
        seen = -1
        while not job.future.done():
            try:
                await asyncio.wait_for(wake.wait(), HEARTBEAT_S)
            except TimeoutError:
                pass
            wake.clear()
            if job.changes != seen and progress is not None and job.status == "running":
                self._track(progress, job)
            seen = job.changes
            # Sent again when nothing changed: a heartbeat (the same preview is the same cached file).
            video = str(job.partial_video) if job.partial_video else shown
            yield outputs(status=self.progress_text(job), preview=job.preview, video=video)

    def _remember(self, request: gr.Request | None, job: Job) -> None:
        session = getattr(request, "session_hash", None)
        for old in [s for s, j in self.jobs.items() if j.future.done()]:
            del self.jobs[old]
        if session:
            self.jobs[session] = job

    @staticmethod
    def _track(progress: gr.Progress, job: Job) -> None:
        """gradio's progress (what API clients see as progress_data): steps while denoising or refining, chunks while
        decoding."""
        if job.phase == "decoding" and job.decode_chunks:
            progress((job.chunks_decoded, job.decode_chunks), desc="Decoding the video", unit="chunks")
        else:
            progress((job.steps_done, job.total_steps), desc=job.phase.capitalize(), unit="steps")

    def progress_text(self, job: Job) -> str:
        """Which phase runs, how far it is, and the time left."""
        if job.status == "queued":
            ahead = self.worker.ahead_of(job)
            return f"**Waiting for the device**: {plural(ahead, 'job')} ahead of yours." if ahead else \
                "**Starting…**"  # fmt: skip
        left = describe(self.worker.remaining(job))
        left = f" · {left}" if left else ""
        if job.segments > 1:  # the estimate covers the running segment
            left = f" · segment {job.segment + 1} of {job.segments}" + (f" ({left[3:]} in it)" if left else "")
        if job.phase == "denoising":
            return f"**Step {job.steps_done} of {job.total_steps}**{left}"
        if job.phase == "refining":
            return f"**Refining**: step {job.steps_done} of {job.total_steps}{left}"
        if job.phase == "decoding":
            return f"**Decoding** chunk {job.chunks_decoded} of {job.decode_chunks}{left}"
        if job.phase == "writing":
            return f"**Writing the video file**{left}"
        return f"**Encoding** the prompt and the input…{left}"

    async def cancel(self, request: gr.Request = None) -> AsyncIterator[str]:  # type: ignore[assignment]
        """Cancel this session's job; say the device is free only once the worker has let go of it."""
        job = self.jobs.get(getattr(request, "session_hash", None) or "")
        if job is None or (job.future.done() and job.status != "cancelled"):
            yield "Nothing of yours is running."
            return
        job.cancel()
        if not job.future.done():
            yield "**Stopping** at the end of the current step…"
            stopped = asyncio.wrap_future(job.future)
            await asyncio.wait([stopped])
            if not stopped.cancelled():
                stopped.exception()  # seen here, so that asyncio does not log it as never retrieved
        done = job.steps_done
        at = f"after step {done} of {job.total_steps}" if done else "before it started"
        yield f"**Cancelled** {at}. The device is free for the next request."

    def kept(self, video: Any, result: Any, request: gr.Request = None) -> tuple[Any, Any, Any, Any]:  # type: ignore[assignment]
        """After a Cancel: what a cancelled long video kept (its finished segments: shown, and the last value for
        the history), or the page as it was (the video and result given back, the history untouched: None)."""
        job = self.jobs.get(getattr(request, "session_hash", None) or "")
        future = job.future if job is not None else None
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            made = future.result()
            if made.note and made is not result:
                return str(made.video), summary(made), made, made
        return video, gr.skip(), result, None

    @staticmethod
    def busy() -> tuple[dict, dict]:
        """Generate off and Cancel on while a job of this page is queued or running."""
        return gr.update(interactive=False), gr.update(interactive=True)

    @staticmethod
    def idle(image: Any) -> tuple[dict, dict]:
        """Generate on (once there is an image) and Cancel off."""
        return gr.update(interactive=image is not None), gr.update(interactive=False)

    @staticmethod
    def can_generate(image: Any) -> dict:
        return gr.update(interactive=image is not None)

    def distill_defaults(self, distill: bool) -> tuple[int, float]:
        """Steps and guidance the distill LoRA expects (16, 1.0), or back to the form's own starting steps
        and the base model's guidance when it is switched off."""
        steps = defaults.DISTILL_STEPS if distill else self.config.steps
        return steps, defaults.guidance_for(distill)

    @staticmethod
    def frames_info(num_frames: Any, fps: Any) -> dict:
        """The frame count's explanation, with the clip's length at the chosen frame rate."""
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
            for v in (num_frames, fps)
        ):
            return gr.update()
        return gr.update(info=frames_help(int(num_frames), int(fps)))

    @staticmethod
    def show_custom_size(resolution: str) -> tuple[dict, dict]:
        visible = resolution == CUSTOM_SIZE
        return gr.update(visible=visible), gr.update(visible=visible)

    @staticmethod
    def reuse_seed(seed_used: Any) -> Any:
        """The seed shown as used, for the Seed field; -1 (random) when there is none or it is not a seed."""
        if isinstance(seed_used, bool) or not isinstance(seed_used, int | float):
            return -1
        return int(seed_used) if 0 <= seed_used <= MAX_SEED and float(seed_used).is_integer() else -1

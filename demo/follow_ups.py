"""Extend, long video and Refine: the buttons that continue or refine the result shown, or make a video segment
by segment. Each checks its form (the fields of its settings type: ``ContinuationSettings``, ``LongVideoSettings``,
``RefineSettings``, beside the main form's), then runs on the worker as Generate does (``Handlers.run``: the same
progress, preview, Cancel and outputs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from longcat_i2v.conditioning import bucket_size
from longcat_i2v.errors import InvalidInputError, LongCatError
from longcat_i2v.settings import ContinuationSettings, LongVideoSettings, RefineSettings

from .config import CUSTOM_SIZE
from .fields import FormField, fields_beside, own_fields
from .handlers import Handlers, user_error, with_signature
from .request import check_form, load_image
from .tasks import ExtendRequest, LongVideoRequest, RefineRequest, refine_cost
from .worker import GenerationResult, Request

SIZE_FIELDS = ("resolution", "width", "height")  # Extend keeps the size of the video it continues
NO_RESULT = "Generate a video first: {what} starts from the video shown."
GONE = "This video's frames are no longer kept on the server (older than the retention time); generate it again."


def extend_fields(config) -> tuple[FormField, ...]:
    """Extend's form: the continuation's fields, the size ones left out."""
    return tuple(f for f in fields_beside(config, ContinuationSettings) if f.setting not in (None, *SIZE_FIELDS))


def long_fields(config) -> tuple[FormField, ...]:
    """The long video's form: the image and every field of LongVideoSettings (its prompts as ``prompts``)."""
    return fields_beside(config, LongVideoSettings)


def refine_fields(config) -> tuple[FormField, ...]:
    return own_fields(config, RefineSettings)


class FollowUps:
    """Extend, long video and Refine for one page, on the page's ``Handlers`` (its worker, config and sessions)."""

    def __init__(self, handlers: Handlers):
        self.handlers = handlers
        self.config = handlers.config
        self.pipe = handlers.worker.pipe

    # Extend ------------------------------------------------------------------------------------------------------

    def extend_fn(self):
        return self._job_fn("extend", extend_fields(self.config), "result", self.check_extend)

    def check_extend(self, result: Any, fields: tuple[FormField, ...], form: dict[str, Any]) -> ExtendRequest:
        base = self._stage1(result, "Extend")
        if len(base.segments) + 1 > self.config.max_segments:
            raise InvalidInputError(
                f"This video has {len(base.segments)} segments; at most {self.config.max_segments} are allowed."
            )
        settings = check_form(self.config, ContinuationSettings, fields, **form)
        n = settings.num_cond_frames
        if len(base.segments) > 1 and n != base.num_cond_frames:
            raise InvalidInputError(
                f"Conditioning frames must stay {base.num_cond_frames} for this video (its segments overlap by "
                f"{base.num_cond_frames} frames, and Refine needs one overlap), got {n}."
            )
        frames = self._frames(base)
        if n > len(frames):
            raise InvalidInputError(f"Conditioning frames must be at most the video's {len(frames)} frames, got {n}.")
        settings = settings.replace(height=frames.shape[1], width=frames.shape[2])
        return ExtendRequest(frames, base.segments, settings, self._image(base))

    # Long video ----------------------------------------------------------------------------------------------------

    def long_video_fn(self):
        return self._job_fn("long_video", long_fields(self.config), "prompt", self.check_long_video)

    def check_long_video(self, prompt: Any, fields: tuple[FormField, ...], form: dict[str, Any]) -> LongVideoRequest:
        form = dict(form)
        image = load_image(form.pop("image", None), self.config.max_image_pixels)
        prompts = form.get("prompts")
        if prompts is None or (isinstance(prompts, str) and not prompts.strip()):
            form["prompts"] = prompt  # one prompt for every segment: the main Prompt
        settings = check_form(self.config, LongVideoSettings, fields, **form)
        if settings.segments > self.config.max_segments:
            raise InvalidInputError(
                f"{settings.segments} segments asked for; at most {self.config.max_segments} are allowed."
            )
        return LongVideoRequest.with_seed(image, settings)

    # Refine ------------------------------------------------------------------------------------------------------

    def refine_fn(self):
        return self._job_fn("refine", refine_fields(self.config), "result", self.check_refine)

    def check_refine(self, result: Any, fields: tuple[FormField, ...], form: dict[str, Any]) -> RefineRequest:
        self.handlers.check_refinable()
        base = self._stage1(result, "Refine")
        settings = check_form(self.config, RefineSettings, fields, **form)
        if len(base.segments) == 1 and isinstance(base.settings.get("prompt"), str):
            settings = settings.replace(prompt=base.settings["prompt"])  # as generate_video(refine=True) does
        frames = self._frames(base)
        refine_cost(self.pipe, settings, frames.shape[1], frames.shape[2], base.segments, base.num_cond_frames)
        return RefineRequest(frames, base.segments, base.num_cond_frames, settings, self._image(base), base.settings)

    @staticmethod
    def busy() -> tuple[dict, ...]:
        """Extend, Long video and Refine off while a job of this page runs."""
        return (gr.update(interactive=False),) * 3

    def idle(self, image: Any, result: Any) -> tuple[dict, ...]:
        """Extend and Refine on once there is a stage-1 result (Refine only with the LoRA), Long video with an image."""
        stage1 = isinstance(result, GenerationResult) and bool(result.segments)
        refinable = stage1 and not self.handlers.refine_unavailable()
        return gr.update(interactive=stage1), gr.update(interactive=image is not None), gr.update(interactive=refinable)

    def cost_text(self, result: Any, num_frames: Any = None, resolution: Any = None, width: Any = None,
                  height: Any = None, *values: Any) -> str:  # fmt: skip
        """What Refine costs: for the result shown when it is a stage-1 video (the Refine button), else for the
        video the form would make (the toggle; for a bucket size, a 16:9 image's), or why it cannot run."""
        reason = self.handlers.refine_unavailable()
        if reason:
            return reason
        fields = refine_fields(self.config)
        form = dict(zip((f.name for f in fields), values, strict=False))
        try:
            settings = check_form(self.config, RefineSettings, fields, **form)
            if isinstance(result, GenerationResult) and result.segments:
                what = "Refining the video shown: "
                size, segments, overlap = result.first_frame.shape[:2], result.segments, result.num_cond_frames
            else:
                what = "With the toggle, after Generate: "
                size = self._stage1_size(resolution, width, height)
                segments, overlap = ((0, int(num_frames)),), 0
            return what + refine_cost(self.pipe, settings, *size, segments, overlap).describe()
        except (LongCatError, TypeError, ValueError) as exc:
            return f"Refine cannot run with these settings: {user_error(exc).message}"

    @staticmethod
    def _stage1_size(resolution: Any, width: Any, height: Any) -> tuple[int, int]:
        if resolution == CUSTOM_SIZE:
            return int(height), int(width)
        return bucket_size(16, 9, resolution)

    # Shared ------------------------------------------------------------------------------------------------------

    def _job_fn(self, name: str, fields: tuple[FormField, ...], leading: str, check: Callable[..., Request]):
        """The event function of one button: ``leading`` (the result shown, or the main Prompt), then one named
        parameter per field; checked off the event loop by ``check``, then run as Generate runs. While it runs the
        page keeps showing the result it starts from."""

        async def job(first: Any, *values: Any, progress: gr.Progress = gr.Progress(),  # noqa: B008
                      request: gr.Request = None, **named: Any) -> AsyncIterator[tuple]:  # fmt: skip
            form = {**dict(zip((f.name for f in fields), values, strict=False)), **named}
            try:
                checked = await asyncio.to_thread(check, first, fields, form)
            except Exception as exc:
                raise user_error(exc) from exc
            shown = str(first.video) if isinstance(first, GenerationResult) else None
            async with contextlib.aclosing(self.handlers.run(checked, progress, request, shown)) as updates:
                async for update in updates:
                    yield update

        job.__name__ = job.__qualname__ = name
        return with_signature(job, fields, leading=(leading,))

    @staticmethod
    def _stage1(result: Any, what: str) -> GenerationResult:
        if not isinstance(result, GenerationResult):
            raise InvalidInputError(NO_RESULT.format(what=what))
        if not result.segments:
            raise InvalidInputError(f"{what} works on a stage-1 video; the one shown is refined already.")
        return result

    @staticmethod
    def _frames(result: GenerationResult) -> np.ndarray:
        if result.frames_file is None or not result.frames_file.is_file():
            raise InvalidInputError(GONE)
        return np.load(result.frames_file, allow_pickle=False)

    @staticmethod
    def _image(result: GenerationResult) -> Image.Image | None:
        if result.image_file is None or not result.image_file.is_file():
            return None
        with Image.open(result.image_file) as image:
            return image.convert("RGB")

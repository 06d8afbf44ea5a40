"""What the page's buttons and toggles do. Every failure reaches the user as a short message, never a traceback."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from typing import Any

import gradio as gr
import torch

from longcat_i2v import defaults
from longcat_i2v.errors import GenerationCancelled, LongCatError

from .config import CUSTOM_SIZE, DemoConfig
from .fields import FormField, form_fields
from .request import build_request
from .worker import GenerationResult, GenerationWorker

logger = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong while generating the video. Please try again; the server log has the details."
OUT_OF_MEMORY = "The device ran out of memory. Try fewer frames, a smaller size or 480p."


def user_error(exc: BaseException) -> gr.Error:
    """The message a user sees for ``exc``: the library's own wording for bad inputs, a generic one otherwise."""
    if isinstance(exc, GenerationCancelled):
        return gr.Error("The generation was cancelled.", title="Cancelled", print_exception=False)
    if isinstance(exc, LongCatError):
        return gr.Error(str(exc), print_exception=False)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return gr.Error(OUT_OF_MEMORY, print_exception=False)
    logger.error("generation failed", exc_info=exc)
    return gr.Error(UNEXPECTED, print_exception=False)


def summary(result: GenerationResult) -> str:
    s = result.settings
    return (
        f"**Done in {result.seconds:.1f} s**: {s['num_frames']} frames at {s['width']}×{s['height']}, "
        f"{s['num_inference_steps']} steps, guidance {s['guidance_scale']:g}, seed {result.seed}, {s['fps']} fps."
    )


class Handlers:
    """Event functions bound to one worker and one form configuration."""

    def __init__(self, worker: GenerationWorker, config: DemoConfig):
        self.worker = worker
        self.config = config

    def generate_fn(self, fields: tuple[FormField, ...]):
        """``generate`` with one named parameter per form field, in the table's order: gradio reads the
        parameter names from the signature, and they become the API's names (``image=``, ``prompt=``, ...)."""

        async def generate(*values: Any, progress: gr.Progress = gr.Progress(), **named: Any) -> tuple[Any, ...]:  # noqa: B008
            return await self.generate(*values, progress=progress, fields=fields, **named)

        params = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default) for f in fields]
        progress = inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=gr.Progress())
        generate.__signature__ = inspect.Signature([*params, progress])  # type: ignore[attr-defined]
        return generate

    async def generate(
        self,
        *values: Any,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - gradio injects the tracker through this default
        fields: tuple[FormField, ...] | None = None,
        **named: Any,
    ) -> tuple[Any, ...]:
        """Check the form (values in the table's order, or by name), run the job on the worker while reporting
        each step, and return the outputs.

        The function is async so that a Cancel (which cancels this coroutine) reaches the worker at once;
        the worker then stops at the end of the step it is running."""
        context = contextvars.copy_context()  # gradio's progress tracker lives in this coroutine's context

        def report(done: int, total: int, what: str) -> None:
            context.run(progress, (done, total), desc=what, unit="steps")

        try:
            fields = fields or form_fields(self.config)
            form = {**dict(zip((f.name for f in fields), values, strict=False)), **named}
            image = form.pop("image", None)
            request = build_request(self.config, image, fields, **form)
            progress(0, desc="Waiting for the device")
            job = self.worker.submit(request, report)
        except Exception as exc:
            raise user_error(exc) from exc
        try:
            result = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise
        except Exception as exc:
            raise user_error(exc) from exc
        return (
            str(result.video),
            result.cond_image,
            result.first_frame,
            result.seed,
            summary(result),
            result.settings,
        )

    def distill_defaults(self, distill: bool) -> tuple[int, float]:
        """Steps and guidance the distill LoRA expects (16, 1.0), or back to the form's own starting steps
        and the base model's guidance when it is switched off."""
        steps = defaults.DISTILL_STEPS if distill else self.config.steps
        return steps, defaults.guidance_for(distill)

    @staticmethod
    def show_custom_size(resolution: str) -> tuple[dict, dict]:
        visible = resolution == CUSTOM_SIZE
        return gr.update(visible=visible), gr.update(visible=visible)

    @staticmethod
    def reuse_seed(seed_used: float | None) -> float:
        return -1 if seed_used is None else seed_used

    @staticmethod
    def cancelled() -> str:
        return "Cancelled. The device is free for the next request."

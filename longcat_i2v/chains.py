"""The refinement chains: a generation, then its 720p refinement, as the original demos run them. Everything the
refinement would refuse is refused before stage 1 runs, and one generator runs through both stages unless the
refinement has its own seed.

- image to video, then the refinement conditioned on the image (run_demo_image_to_video.py);
- a continuation, then the refinement conditioned on the input video's last ``num_cond_frames`` × 2 frames at
  30 fps (× 1 with spatial_refine_only), with the continuation's prompt (run_demo_video_continuation.py);
- a long video, then ``refine_segments`` over its windows with an empty prompt: segment 0 unconditioned, each
  later one conditioned on the previous refined segment (run_demo_long_video.py).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from . import conditioning, refinement
from .denoise import StepCallback
from .errors import InvalidInputError
from .output import GenerationOutput
from .progress import ProgressFn
from .refiner import Refiner
from .seeds import make_generator
from .settings import ContinuationSettings, I2VSettings, LongVideoSettings, RefineSettings, SamplingSettings
from .video import to_uint8
from .video_input import REFINE_FPS, VideoClip


def refine_options(settings: SamplingSettings, refine_settings: RefineSettings | None) -> RefineSettings | None:
    """The refinement's settings when ``settings.refine`` (default ``RefineSettings()``), else None; refinement
    settings without ``refine`` are refused."""
    if refine_settings is not None and not settings.refine:
        raise InvalidInputError("refine_settings= is given without refine=True; pass refine=True to refine")
    return (refine_settings or RefineSettings()) if settings.refine else None


def _with_prompt(refine: RefineSettings, settings: SamplingSettings) -> RefineSettings:
    """With its prompt empty, the refinement takes the generation's prompt and prompt length (as the demos)."""
    if refine.prompt:
        return refine
    return refine.replace(prompt=settings.prompt, max_sequence_length=settings.max_sequence_length)


def _carried(generator: torch.Generator, refine: RefineSettings) -> torch.Generator | None:
    """The stage-1 generator carries on into the refinement unless it has its own seed."""
    return generator if refine.seed is None else None


def continuation_condition(clip: VideoClip, count: int) -> np.ndarray:
    """The frames conditioning a refined continuation: the input's last ``count`` frames at 30 fps."""
    if len(clip.refine_last) < count:
        got = "none (frames given are taken at 15 fps)" if not clip.refine_last else f"{len(clip.refine_last)}"
        raise InvalidInputError(
            f"refining a continuation conditions on the input video's last {count} frames at {REFINE_FPS} fps (as "
            f"the original demo); the input has {got}: pass the video as a file long enough for that"
        )
    return np.stack([np.asarray(f) for f in clip.refine_last[len(clip.refine_last) - count :]])


class RefineChains(Refiner):
    """The chains, for ``LongCatI2V`` (which supplies ``_image_to_video`` and ``_continuation``)."""

    if TYPE_CHECKING:  # the stages the chains run, defined by LongCatI2V

        def _image_to_video(
            self,
            settings: I2VSettings,
            image: Image.Image,
            generator: torch.Generator | None,
            latents: torch.Tensor | None,
            on_step: StepCallback | None,
            progress: ProgressFn | None,
        ) -> GenerationOutput: ...

        def _continuation(
            self,
            settings: ContinuationSettings,
            clip: VideoClip,
            generator: torch.Generator | None,
            on_step: StepCallback | None,
            progress: ProgressFn | None,
        ) -> GenerationOutput: ...

    def _refined(
        self,
        settings: I2VSettings,
        refine: RefineSettings,
        image: Image.Image,
        generator: torch.Generator | None,
        latents: torch.Tensor | None,
        callback: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        """Image to video, then the refinement conditioned on the image (the original I2V demo's two stages)."""
        refine = _with_prompt(refine, settings)
        stage1_size = conditioning.resolve_size(image, settings.resolution, settings.height, settings.width)
        size = refinement.refine_size(*stage1_size, refine.height, refine.width)
        layout = refinement.plan_layout(settings.num_frames, 1, refine.temporal_factor)
        self._check_refinement(layout, *size, refine.attention)
        generator, _ = make_generator(settings.seed, generator, self.parallel, self.device)
        stage1 = self._image_to_video(settings, image, generator, latents, self.step_callback(callback, progress),
                                      progress)  # fmt: skip
        refined = self._refine(refine, to_uint8(stage1.frames), image, None, _carried(generator, refine), callback,
                               progress)  # fmt: skip
        return _chained(refined, stage1, settings, refine)

    def _refined_continuation(
        self,
        settings: ContinuationSettings,
        refine: RefineSettings,
        clip: VideoClip,
        generator: torch.Generator | None,
        callback: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        """A continuation, then its refinement conditioned on the input video at 30 fps (the original VC demo)."""
        carried = settings.num_cond_frames * refine.temporal_factor
        if refine.num_cond_frames not in (None, carried):
            raise InvalidInputError(
                f"refine_settings.num_cond_frames={refine.num_cond_frames} is invalid for a refined continuation: "
                f"the chain conditions on num_cond_frames x {refine.temporal_factor} = {carried} frames (or None)"
            )
        refine = _with_prompt(refine, settings).replace(num_cond_frames=carried)
        cond = continuation_condition(clip, carried)
        stage1_size = conditioning.resolve_size(clip.first, settings.resolution, settings.height, settings.width)
        size = refinement.refine_size(*stage1_size, refine.height, refine.width)
        layout = refinement.plan_layout(settings.num_frames, carried, refine.temporal_factor)
        self._check_refinement(layout, *size, refine.attention)
        generator, _ = make_generator(settings.seed, generator, self.parallel, self.device)
        stage1 = self._continuation(settings, clip, generator, self.step_callback(callback, progress), progress)
        refined = self._refine(refine, to_uint8(stage1.frames), None, cond, _carried(generator, refine), callback,
                               progress)  # fmt: skip
        return _chained(refined, stage1, settings, refine)

    def _check_long_refinement(
        self, settings: LongVideoSettings, refine: RefineSettings, size: tuple[int, int]
    ) -> None:
        """Refuse before stage 1 what refining the long video's windows (of the first segment's ``size``) would."""
        self._check_segments([settings.num_frames] * settings.segments, settings.num_cond_frames, size, refine)

    def _refine_long(
        self,
        settings: LongVideoSettings,
        refine: RefineSettings,
        frames: np.ndarray,
        generator: torch.Generator,
        callback: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        """The long video's windows (segment j: ``num_frames`` frames from j·(num_frames − num_cond_frames)),
        refined by ``refine_segments`` as the long-video demo does (its prompt: the refinement's, "" by default)."""
        step = settings.num_frames - settings.num_cond_frames
        windows = [frames[j * step : j * step + settings.num_frames] for j in range(settings.segments)]
        return self._refine_segments(
            windows, settings.num_cond_frames, refine.prompt, refine, _carried(generator, refine), callback, progress
        )


def _chained(
    refined: GenerationOutput, stage1: GenerationOutput, settings: SamplingSettings, refine: RefineSettings
) -> GenerationOutput:
    """The refined output, with the stage-1 video and settings it came from, at the stage-1 rate × the factor."""
    fps = settings.fps * refine.temporal_factor
    return dataclasses.replace(refined, fps=fps, settings=stage1.settings, stage1=stage1, input_size=stage1.input_size)

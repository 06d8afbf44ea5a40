"""``refine`` and ``refine_segments``: the 720p refinement composed from the shared stages (``PipelineStages``) and
the refinement's own ones (``refinement``), as the original ``generate_refine`` and the demos' refine loops run.
``LongCatI2V`` inherits them; image-to-video with ``refine=True`` ends with ``_refine``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from . import conditioning, defaults, refinement
from .denoise import StepCallback, denoise
from .images import ImageLike
from .options import keyword_defaults, settings_from_call
from .output import GenerationOutput
from .progress import Progress, ProgressFn
from .refinement import FramesLike
from .schedule import set_schedule, truncate_schedule
from .seeds import make_generator
from .settings import RefineSettings
from .stages import PipelineStages
from .video import to_uint8


class Refiner(PipelineStages):
    """The refinement stages of the pipeline."""

    @torch.no_grad()
    def refine(
        self,
        stage1_frames: FramesLike,
        prompt: str | None = None,
        image: ImageLike | None = None,
        video: FramesLike | None = None,
        num_cond_frames: int | None = None,
        num_inference_steps: int = defaults.REFINE_STEPS,
        t_thresh: float = defaults.REFINE_T_THRESH,
        spatial_refine_only: bool = False,
        height: int | None = None,
        width: int | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        rng: str = defaults.REFINE_RNG,
        attention: str = defaults.REFINE_ATTENTION,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
        callback: StepCallback | None = None,
        settings: RefineSettings | None = None,
        progress: ProgressFn | None = None,
    ) -> GenerationOutput:
        """Refine a stage-1 (480p, 15 fps) video to 720p and, unless ``spatial_refine_only``, twice the frames,
        with the refinement LoRA (on for this call only), computing what the original ``generate_refine`` does.

        Args:
            stage1_frames: [F, H, W, 3] uint8 or floats in [0, 1] (truncated as the demos do), or PIL images.
            image / video: the conditioning (at most one): an image (``num_cond_frames`` 1, the default), or
                frames of which the last ``num_cond_frames`` take the first refined positions; neither: none.
            height, width: default the 720p bucket (64-pixel grid) closest to the stage-1 frames' shape.
            num_inference_steps, t_thresh: the schedule of that many steps, from 1000·t_thresh down; the stage-1
                latents are mixed with t_thresh of noise. attention: "bsa" (the original's) or "dense".
            seed / generator: as in ``generate_video``; rng "generator" draws everything from it, "original" the
                up-sampled video's posterior sample and mixing noise from torch's global RNG (as the original).
            settings: the options as one ``RefineSettings`` instead.
        Returns the refined frames, the conditioning frames included, at 30 fps (15 with spatial_refine_only).
        """
        passed = {k: v for k, v in locals().items() if k in _REFINE_KEYWORDS}
        settings = settings_from_call(RefineSettings, settings, passed, _REFINE_DEFAULTS)
        with self.exclusive():
            return self._refine(settings, stage1_frames, image, video, generator, callback, progress)

    def _check_refinement(self, layout: refinement.Layout, height: int, width: int, attention: str) -> None:
        """Fail before any work: the LoRA file, the tiling over ranks, a grid BSA cannot cut into blocks."""
        self.lora(defaults.REFINEMENT_LORA_NAME)
        self.parallel.check_size(height, width)
        grid = (layout.latents, height // conditioning.SIZE_MULTIPLE, width // conditioning.SIZE_MULTIPLE)
        self.dit.check_attention(grid, layout.cond_latents, attention)

    def _check_segments(
        self, lengths: Sequence[int], num_cond_frames: int, stage1_size: tuple[int, int], settings: RefineSettings
    ) -> None:
        """Every segment's refinement checked before the first runs: segment 0 unconditioned, each later one on
        ``num_cond_frames`` × the temporal factor frames; ``stage1_size`` (height, width) picks the 720p size."""
        carried = num_cond_frames * settings.temporal_factor
        size = refinement.refine_size(*stage1_size, settings.height, settings.width)
        for j, length in enumerate(lengths):
            layout = refinement.plan_layout(length, carried if j else 0, settings.temporal_factor)
            self._check_refinement(layout, *size, settings.attention)

    def _refine(
        self,
        settings: RefineSettings,
        stage1_frames: FramesLike,
        image: ImageLike | None,
        video: FramesLike | None,
        generator: torch.Generator | None,
        callback: StepCallback | None,
        progress: ProgressFn | None,
        segment: int = 0,
        segments: int = 1,
    ) -> GenerationOutput:
        self.report(progress, Progress("encoding", 0, 1, segment, segments))
        # 1. Inputs: the stage-1 frames, the conditioning, the size and the frames' layout, all checked.
        plan = refinement.plan(
            stage1_frames, image, video, settings.num_cond_frames, settings.temporal_factor, settings.height,
            settings.width,
        )  # fmt: skip
        layout, vae, scheduler = plan.layout, self.components.vae, self.components.scheduler
        self._check_refinement(layout, plan.height, plan.width, settings.attention)
        generator, seed = make_generator(settings.seed, generator, self.parallel, self.device)
        # 2. Prompt embeddings, no CFG.
        text, text_mask = self.encode_text(settings.prompt, None, False, settings.max_sequence_length)
        # 3. Timesteps: the standard schedule from 1000·t_thresh down.
        timesteps = set_schedule(scheduler, settings.num_inference_steps, False, self.device)
        timesteps = truncate_schedule(scheduler, timesteps, settings.t_thresh)
        # 4. Latents: the up-sampled, padded video's posterior sample mixed with noise at t_thresh ...
        video_up = refinement.upsample(plan, self.device, self.dit.dtype)
        draw = refinement.noise_source(settings.rng, generator)
        latents = refinement.encode_mixed(vae, video_up, settings.t_thresh, draw)
        # 5. ... and the conditioning clip's posterior sample (from the generator) in the leading latents.
        pixels = refinement.condition_pixels(plan)
        cond_image = refinement.first_frame(video_up if pixels is None else pixels, layout)
        del video_up  # at 720p the largest tensor of the refinement
        if pixels is not None:
            latents = conditioning.place_condition(latents, conditioning.encode_condition(vae, pixels, generator))
        latents, text, text_mask = self.parallel.share(latents, text, text_mask)
        # 6. Denoise with the refinement LoRA: conditioning latents at t = 0, no CFG.
        model = self.model(text, text_mask, num_cond_latents=layout.cond_latents, attention=settings.attention)
        on_step = self.step_callback(callback, progress, segment, segments, phase="refining")
        with self.lora_enabled(defaults.REFINEMENT_LORA_NAME):
            latents = denoise(model, latents, scheduler, timesteps, 1.0, layout.cond_latents, on_step)
        # 7. Decode every latent, then crop the pads.
        frames = refinement.crop(self.decode(latents, progress), layout)
        fps = defaults.FPS * settings.temporal_factor
        used = settings.replace(seed=seed)
        return GenerationOutput(frames, latents, seed, cond_image, plan.input_size, fps, refine_settings=used)

    @torch.no_grad()
    def refine_segments(
        self,
        segments: Sequence[FramesLike],
        num_cond_frames: int,
        prompts: str | Sequence[str] = "",
        settings: RefineSettings | None = None,
        generator: torch.Generator | None = None,
        callback: StepCallback | None = None,
        progress: ProgressFn | None = None,
    ) -> GenerationOutput:
        """Refine a long video segment by segment, as the original long-video demo does. ``segments``: the stage-1
        segments, each after the first starting with the ``num_cond_frames`` frames it continues. Segment 0 is
        refined without conditioning, each later one conditioned on the previous refined segment's last
        ``num_cond_frames`` × 2 frames (× 1 with spatial_refine_only); one generator throughout. ``prompts``: one
        for all (the demo's "") or one per segment. Returns the joined refined video."""
        with self.exclusive():
            return self._refine_segments(segments, num_cond_frames, prompts, settings, generator, callback, progress)

    def _refine_segments(
        self,
        segments: Sequence[FramesLike],
        num_cond_frames: int,
        prompts: str | Sequence[str],
        settings: RefineSettings | None,
        generator: torch.Generator | None,
        callback: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        settings = settings or RefineSettings()
        windows = refinement.segment_windows(segments, num_cond_frames)
        prompts = refinement.segment_prompts(prompts, len(windows))
        carried = num_cond_frames * settings.temporal_factor
        stage1_size = (windows[0].shape[1], windows[0].shape[2])
        self._check_segments([len(w) for w in windows], num_cond_frames, stage1_size, settings)
        generator, seed = make_generator(settings.seed, generator, self.parallel, self.device)
        pieces, previous, outputs = [], None, []
        for j, window in enumerate(windows):
            ncf = carried if j else 0
            segment = settings.replace(prompt=prompts[j], num_cond_frames=ncf, seed=None)
            out = self._refine(segment, window, None, previous, generator, callback, progress, j, len(windows))
            outputs.append(out)
            pieces.append(out.frames[ncf:])
            previous = to_uint8(out.frames)
        used = settings.replace(num_cond_frames=num_cond_frames, seed=seed)
        first, last = outputs[0], outputs[-1]
        return dataclasses.replace(
            last, frames=np.concatenate(pieces), seed=seed, cond_image=first.cond_image,
            input_size=first.input_size, refine_settings=used,
        )  # fmt: skip


_REFINE_DEFAULTS = keyword_defaults(Refiner.refine, RefineSettings)
_REFINE_KEYWORDS = frozenset(_REFINE_DEFAULTS)

"""Long videos as the original's long-video and interactive demos make them: segment 0 is image-to-video, each
later segment continues the previous one, conditioned on its last ``num_cond_frames`` frames.

Between segments the frames take the demos' round trip: ``(x * 255).astype(uint8)`` → PIL → BICUBIC resize to the
first segment's size; the long video is the first segment's frames followed by each continuation's new frames
(``new[num_cond_frames:]``), so it has F + (S − 1)(F − num_cond_frames) frames. One generator runs through all
segments. Each finished segment is appended to the output mp4 at once (``Mp4Appender``), so a crash or a Cancel
keeps every finished segment, playable; ``resume_from`` continues such a partial video.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import conditioning, defaults
from .chains import RefineChains, refine_options
from .conditioning import latent_shape, randn
from .denoise import StepCallback
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .options import keyword_defaults, settings_from_call
from .parallel import is_main_process
from .progress import ProgressFn
from .seeds import make_generator
from .settings import ContinuationSettings, I2VSettings, LongVideoSettings, RefineSettings
from .video import Mp4Appender, check_output_path, read_mp4, to_uint8, write_mp4
from .video_input import VideoClip, load_clip


@dataclass
class LongVideoOutput:
    """A long video and what produced it."""

    frames: np.ndarray  # uint8 [F, H, W, 3]: the frames as the demos assemble them
    seed: int
    fps: int
    settings: LongVideoSettings  # the settings used, defaults resolved
    segments_resumed: int = 0  # segments read from ``resume_from`` instead of generated
    path: Path | None = None  # the mp4 written, if any
    refine_settings: RefineSettings | None = None  # the refinement's settings (seed resolved), if refined
    stage1: LongVideoOutput | None = None  # with refine: the 480p long video that was refined (its own mp4)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def segment_settings(settings: LongVideoSettings, index: int) -> I2VSettings | ContinuationSettings:
    """The settings of segment ``index``: image-to-video for the first, continuation after; its own prompt."""
    shared = {k: v for k, v in settings.to_dict().items() if k not in ("prompt", "num_segments")}
    shared["prompt"], shared["refine"] = settings.prompts[index], False  # a long video refines once all is made
    if index > 0:
        return ContinuationSettings(**shared)
    names = {f.name for f in dataclasses.fields(I2VSettings)}
    return I2VSettings(**{k: v for k, v in shared.items() if k in names})


def segment_progress(progress: ProgressFn | None, segment: int, segments: int) -> ProgressFn | None:
    """``progress`` with every report of one segment's generation told which segment it is."""
    if progress is None:
        return None
    return lambda event: progress(dataclasses.replace(event, segment=segment, segments=segments))


def round_trip(frames: np.ndarray, size: tuple[int, int]) -> list[Image.Image]:
    """A segment's frames as the next segment receives them: uint8 (truncated), PIL, BICUBIC to ``size``
    (width, height); PIL returns the same pixels when the size already matches."""
    return [Image.fromarray(f).resize(size, Image.Resampling.BICUBIC) for f in to_uint8(frames)]


class LongVideo:
    """The long video as it grows: its frames at the first segment's size, the frames the next segment
    continues, and the mp4 each finished segment is appended to (when ``output`` is given)."""

    def __init__(self, settings: LongVideoSettings, output: str | Path | None = None) -> None:
        self.num_cond_frames = settings.num_cond_frames
        self.frames: list[np.ndarray] = []
        self.previous: list[Image.Image] = []
        self.size: tuple[int, int] | None = None
        self.writer = None if output is None else Mp4Appender(output, settings.fps)

    def add(self, frames: np.ndarray) -> None:
        """Add one finished segment's frames (float [F, H, W, 3]); written at once."""
        first = self.size is None
        if first:
            self.size = (frames.shape[2], frames.shape[1])
            segment = [Image.fromarray(f) for f in to_uint8(frames)]
        else:
            assert self.size is not None  # set by the first segment
            segment = round_trip(frames, self.size)
        new = segment if first else segment[self.num_cond_frames :]
        self._extend([np.asarray(f) for f in new])
        self.previous = segment

    def resume(self, path: str | Path, settings: LongVideoSettings, height: int, width: int) -> int:
        """Start from the partial long video at ``path`` (written by a run with the same settings and size);
        returns how many segments it holds. Its last frames condition the next segment."""
        if not Path(path).is_file():
            raise InvalidInputError(f"resume_from {path} is not a file")
        try:
            frames = read_mp4(path)
        except (OSError, RuntimeError, StopIteration) as exc:
            raise InvalidInputError(f"resume_from {path} does not decode as a video: {exc}") from exc
        count, f, n = len(frames), settings.num_frames, settings.num_cond_frames
        if count and frames.shape[1:3] != (height, width):
            raise InvalidInputError(
                f"resume_from {path} is {frames.shape[2]}x{frames.shape[1]}; this long video is {width}x{height} "
                f"(the first segment's size for these settings and image)"
            )
        if count < f or (count - f) % (f - n):
            raise InvalidInputError(
                f"resume_from {path} has {count} frames; a long video of num_frames={f} and num_cond_frames={n} "
                f"has {f} + k*{f - n} frames (k finished continuations)"
            )
        done = 1 + (count - f) // (f - n)
        if done > settings.segments:
            raise InvalidInputError(
                f"resume_from {path} holds {done} segments, more than num_segments={settings.segments}"
            )
        self.size = (width, height)
        self.previous = [Image.fromarray(x) for x in frames[-f:]]
        self.frames = list(frames)
        if self.writer is not None:
            self.writer.append_file(path)
        return done

    def next_clip(self) -> VideoClip:
        """The previous segment's frames, as the next continuation's input video."""
        return load_clip(self.previous, self.num_cond_frames)

    def _extend(self, new: list[np.ndarray]) -> None:
        if self.writer is not None:
            self.writer.append(np.stack(new))
        self.frames.extend(new)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> LongVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stage1_path(output: str | Path) -> Path:
    """Where a refined long video's 480p stage is appended per segment: ``<stem>.stage1<suffix>`` beside it."""
    path = Path(output)
    return path.with_name(f"{path.stem}.stage1{path.suffix}")


def skip_draws(
    generator: torch.Generator,
    settings: LongVideoSettings,
    segments: int,
    height: int,
    width: int,
    channels: int,
    dtypes: tuple[torch.dtype, torch.dtype, torch.dtype],
) -> None:
    """Advance ``generator`` past the draws of the first ``segments`` segments (a resumed run then draws what an
    uninterrupted one would): per segment the noise, then the posterior eps of its conditioning latents.
    ``dtypes``: the image-to-video noise's, the continuation noise's (the DiT's) and the eps' (the VAE's)."""
    i2v_noise, vc_noise, eps = dtypes
    shape = latent_shape(settings.num_frames, height, width, channels)
    for index in range(segments):
        randn(shape, generator, "cpu", i2v_noise if index == 0 else vc_noise)
        cond = 1 if index == 0 else settings.num_cond_latents
        randn((1, channels, cond, *shape[3:]), generator, "cpu", eps)


class LongVideoGeneration(RefineChains):
    """``generate_long_video``, for ``LongCatI2V`` (which supplies ``_image_to_video`` and ``_continuation``)."""

    @torch.no_grad()
    def generate_long_video(
        self,
        image: ImageLike | None = None,
        prompts: str | Sequence[str] | None = None,
        num_segments: int | None = None,
        num_frames: int = defaults.NUM_FRAMES,
        num_cond_frames: int = defaults.NUM_COND_FRAMES,
        negative_prompt: str | None = None,
        resolution: str = defaults.RESOLUTION,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        distill: bool = False,
        enhance_hf: bool | None = None,
        use_kv_cache: bool = True,
        offload_kv_cache: bool = False,
        cond_rope: str = defaults.COND_ROPE,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
        fps: int = defaults.FPS,
        output: str | Path | None = None,
        resume_from: str | Path | None = None,
        callback: StepCallback | None = None,
        settings: LongVideoSettings | None = None,
        progress: ProgressFn | None = None,
        refine: bool = False,
        refine_settings: RefineSettings | None = None,
    ) -> LongVideoOutput:
        """A long video from ``image``: image-to-video, then ``num_segments`` − 1 continuations, each of the
        previous segment (its frames through uint8, resized to the first segment's size, conditioned on its last
        ``num_cond_frames``), one generator through all (long_video.py). F + (S − 1)(F − num_cond_frames) frames.

        Args:
            prompts: one prompt for every segment, or a list, one per segment (then ``num_segments`` may be None).
            output: an mp4 that each finished segment is appended to at once (a crash or a Cancel keeps them).
            resume_from: a partial long video of these settings: its segments are kept and the generator is
                advanced past their draws; the next segment continues its last frames (as decoded from the file).
            progress: reports carry ``segment``/``segments``; ``callback(step, total, latents)`` as elsewhere.
            refine, refine_settings: when every segment is made, refine the long video segment by segment as the
                original demo does (``refine_segments``; chains.py): a long 720p video at 30 fps (15 with
                spatial_refine_only) of 2F + (S − 1)(2F − 2·num_cond_frames) frames (F + (S − 1)(F −
                num_cond_frames) spatial only). ``output`` then receives the refined video, written once at the
                end (atomically), and the 480p long video is appended per segment to ``stage1_path(output)``
                (``<stem>.stage1.mp4``; what ``resume_from`` takes); ``stage1`` of the result describes it.
            The other arguments are ``generate_continuation``'s; ``settings``: all of them as one
            ``LongVideoSettings``. (Runs on ``LongCatI2V``, whose image-to-video and continuation stages it
            composes.)
        """
        # 1. Settings (the prompts as a list); the output path and the image checked before any work.
        passed = {k: v for k, v in locals().items() if k in _LONG_KEYWORDS}
        passed["prompt"] = None if prompts is None else (prompts,) if isinstance(prompts, str) else tuple(prompts)
        settings = settings_from_call(LongVideoSettings, settings, passed, _LONG_DEFAULTS)
        refine_with = refine_options(settings, refine_settings)
        output = None if output is None or not is_main_process() else check_output_path(output)
        stage1 = None if output is None or refine_with is None else check_output_path(stage1_path(output))
        if image is None:
            raise InvalidInputError("an input image is required (image= PIL image, file path or http(s) URL)")
        image = load_image(image)
        height, width = conditioning.resolve_size(image, settings.resolution, settings.height, settings.width)
        if refine_with is not None:  # everything the refinement would refuse, before stage 1
            self._check_long_refinement(settings, refine_with, (height, width))
        with self.exclusive(), LongVideo(settings, output if refine_with is None else stage1) as video:
            generator, seed = make_generator(settings.seed, generator, self.parallel, self.device)
            # 2. Where to start: segment 0, or after the segments of the partial video (their draws skipped).
            done = 0 if resume_from is None else video.resume(resume_from, settings, height, width)
            channels, dtypes = self.dit.config.in_channels, (torch.float32, self.dit.dtype, self.components.vae.dtype)
            skip_draws(generator, settings, done, height, width, channels, dtypes)
            # 3. Each segment: image-to-video first, then continuations of the previous one, appended as it ends.
            for index in range(done, settings.segments):
                report = segment_progress(progress, index, settings.segments)
                on_step = self.step_callback(callback, report)
                segment = segment_settings(settings, index)
                if isinstance(segment, ContinuationSettings):
                    out = self._continuation(segment, video.next_clip(), generator, on_step, report)
                else:
                    out = self._image_to_video(segment, image, generator, None, on_step, report)
                video.add(out.frames)
            used = settings.resolved().replace(seed=seed, num_segments=settings.segments)
            long = LongVideoOutput(np.stack(video.frames), seed, settings.fps, used, done, stage1 or output)
            if refine_with is None:
                return long
            # 4. With refine: the long video's windows refined segment by segment, written to ``output``.
            refined = self._refine_long(settings, refine_with, long.frames, generator, callback, progress)
        frames, fps = to_uint8(refined.frames), settings.fps * refine_with.temporal_factor
        if output is not None:
            write_mp4(frames, output, fps=fps)
        return LongVideoOutput(frames, seed, fps, used, done, output, refined.refine_settings, long)


_LONG_DEFAULTS = keyword_defaults(LongVideoGeneration.generate_long_video, LongVideoSettings)
_LONG_KEYWORDS = frozenset(_LONG_DEFAULTS)

"""The jobs that start from a result instead of an image: Extend (one more segment), a long video (segment after
segment from the image) and Refine (to 720p), each a checked request that the worker runs like a generation.

Extend and Refine take the result's own frames (kept beside its mp4 as an .npy, not decoded back from the mp4),
so the model sees exactly what it made. A long video appends each finished segment to its mp4 as it ends (the
core's ``output=``); a Cancel keeps those segments, read back from that mp4.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from longcat_i2v import LongCatI2V, defaults, refinement
from longcat_i2v.errors import GenerationCancelled, InvalidInputError
from longcat_i2v.options import MAX_SEED
from longcat_i2v.progress import ProgressFn
from longcat_i2v.schedule import set_schedule, truncate_schedule
from longcat_i2v.settings import ContinuationSettings, LongVideoSettings, RefineSettings
from longcat_i2v.video import read_mp4, to_uint8

from .request import FromSettings, Produced


def segment_windows(count: int, num_frames: int, num_cond_frames: int) -> tuple[tuple[int, int], ...]:
    """[start, stop) of each of ``count`` segments of ``num_frames`` that overlap by ``num_cond_frames``."""
    step = num_frames - num_cond_frames
    return tuple((j * step, j * step + num_frames) for j in range(count))


@dataclass(frozen=True)
class ExtendRequest(FromSettings):
    """One more segment after ``frames`` (a stage-1 result), continuing its last ``num_cond_frames`` frames."""

    frames: np.ndarray  # uint8 [F, H, W, 3]
    segments: tuple[tuple[int, int], ...]
    settings: ContinuationSettings
    image: Image.Image | None = None

    def run(self, pipe: LongCatI2V, progress: ProgressFn, stem: Path) -> Produced:
        n = self.settings.num_cond_frames
        clip = np.concatenate([self.frames[:1], self.frames[-n:]])  # what the continuation reads: frame 0, the last n
        out = pipe.generate_continuation(video=clip, settings=self.settings, progress=progress)
        new = to_uint8(out.frames)
        start = len(self.frames) - n
        frames = np.concatenate([self.frames, new[n:]])
        used = out.settings.to_dict() if out.settings is not None else self.settings.to_dict()
        return Produced(frames, out.fps, out.seed, to_uint8(out.cond_image), used, kind="extended",
                        segments=(*self.segments, (start, start + len(new))), num_cond_frames=n,
                        image=self.image)  # fmt: skip


@dataclass(frozen=True)
class LongVideoRequest(FromSettings):
    """A long video from ``image``: ``settings.segments`` segments, each appended to the mp4 as it finishes."""

    image: Image.Image
    settings: LongVideoSettings  # with a seed: a Cancel's partial result can name it

    @classmethod
    def with_seed(cls, image: Image.Image, settings: LongVideoSettings) -> LongVideoRequest:
        seed = settings.seed if settings.seed is not None else random.randint(0, MAX_SEED)
        return cls(image, settings.replace(seed=seed))

    def run(self, pipe: LongCatI2V, progress: ProgressFn, stem: Path) -> Produced:
        s, mp4 = self.settings, stem.with_suffix(".mp4")
        cancelled = False
        try:
            out = pipe.generate_long_video(image=self.image, settings=s, output=mp4, progress=progress)
            frames, used = out.frames, out.settings.to_dict()
        except GenerationCancelled:
            if not mp4.is_file():
                raise
            frames, used, cancelled = read_mp4(mp4), s.resolved().to_dict(), True
        count = 1 + (len(frames) - s.num_frames) // (s.num_frames - s.num_cond_frames)
        note = ""
        if cancelled:
            kept = "the finished segment is" if count == 1 else f"the {count} finished segments are"
            note = f"Cancelled during segment {count + 1} of {s.segments}: {kept} kept."
        return Produced(frames, s.fps, s.seed, frames[0], used, kind="long video", note=note, video=mp4,
                        segments=segment_windows(count, s.num_frames, s.num_cond_frames),
                        num_cond_frames=s.num_cond_frames, image=self.image)  # fmt: skip


@dataclass(frozen=True)
class RefineRequest:
    """The 720p refinement of a stage-1 result: conditioned on its image when it is one segment, else segment by
    segment (``refine_segments``, as the original long-video demo)."""

    frames: np.ndarray
    segments: tuple[tuple[int, int], ...]
    num_cond_frames: int
    settings: RefineSettings
    image: Image.Image | None
    base_settings: dict

    @property
    def steps(self) -> int:
        return self.settings.num_inference_steps

    @property
    def fps(self) -> int:
        return defaults.FPS * self.settings.temporal_factor

    def run(self, pipe: LongCatI2V, progress: ProgressFn, stem: Path) -> Produced:
        if len(self.segments) <= 1:
            out = pipe.refine(self.frames, image=self.image, settings=self.settings, progress=progress)
        else:
            windows = [self.frames[a:b] for a, b in self.segments]
            out = pipe.refine_segments(windows, self.num_cond_frames, settings=self.settings, progress=progress)
        assert out.refine_settings is not None  # a refinement always says how it refined
        settings = {**self.base_settings, "refine": out.refine_settings.to_dict()}
        return Produced(to_uint8(out.frames), out.fps, out.seed, to_uint8(out.cond_image), settings, kind="refined")


@dataclass(frozen=True)
class RefineCost:
    """What a refinement costs and makes."""

    dit_calls: int  # per segment
    segments: int
    height: int
    width: int
    frames: int
    fps: int

    def describe(self) -> str:
        calls = self.dit_calls * self.segments
        each = f" ({self.dit_calls} per segment × {self.segments})" if self.segments > 1 else ""
        return (f"Refine costs {calls} DiT calls with the refinement LoRA{each}, at {self.width}×{self.height} "
                f"(no CFG), plus a VAE encode and decode at that size; it makes {self.frames} frames at "
                f"{self.fps} fps.")  # fmt: skip


def refine_calls(pipe: LongCatI2V, settings: RefineSettings) -> int:
    """DiT calls of one refinement: the steps of its schedule below t_thresh, counted on a copy of the scheduler
    (the pipeline's own is in use by a running job)."""
    scheduler = pipe.components.scheduler
    copy = type(scheduler).from_config(scheduler.config)
    timesteps = set_schedule(copy, settings.num_inference_steps, False)
    return len(truncate_schedule(copy, timesteps, settings.t_thresh))


def refine_cost(
    pipe: LongCatI2V, settings: RefineSettings, height: int, width: int, segments: tuple[tuple[int, int], ...],
    num_cond_frames: int = 0,
) -> RefineCost:  # fmt: skip
    """The cost of refining stage-1 frames of ``height``×``width`` made of ``segments``; raises what the
    refinement would refuse (e.g. a frame count it cannot pad)."""
    factor = settings.temporal_factor
    out_h, out_w = refinement.refine_size(height, width, settings.height, settings.width)
    frames = 0
    for j, (a, b) in enumerate(segments):
        cond = num_cond_frames * factor if j else (1 if len(segments) == 1 else 0)
        layout = refinement.plan_layout(b - a, cond, factor)
        frames += layout.frames - (cond if j else 0)
    if not segments:
        raise InvalidInputError("this result is refined already: Refine works on a stage-1 video")
    return RefineCost(refine_calls(pipe, settings), len(segments), out_h, out_w, frames, defaults.FPS * factor)

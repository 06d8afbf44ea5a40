"""``longcat-i2v continue`` (extend a video) and ``longcat-i2v long`` (a long video from an image, one prompt for
all segments or one per segment). Flags come from the settings types; inputs and the output path are checked
before the model loads. Under torchrun with ``--sp N`` every rank generates and rank 0 alone shows progress and
writes the file. ``--refine`` (with the refinement flags, as ``generate --refine``) refines the result to 720p
and 30 fps as the original demos do."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import defaults
from .cli_args import add_settings_arguments, generation_settings
from .errors import InvalidInputError
from .progress import Progress
from .settings import ContinuationSettings, LongVideoSettings, RefineSettings, RuntimeSettings
from .tiny import SMALL_SETTINGS

# On the built-in tiny checkpoint the commands start small, as ``generate`` does (5 of the 9 frames condition).
SMALL_CONTINUATION = {**SMALL_SETTINGS, "num_cond_frames": 5}


def add_long_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Register ``continue`` and ``long``; returns their handlers by command name."""
    p = sub.add_parser("continue", help="continue a video: new frames after its last ones")
    p.add_argument("--video", required=True, help="input video file (brought to 15 fps, as the original demo does)")
    p.add_argument("--output", default="continued.mp4", help="mp4 path (default %(default)s): the clip, its first "
                   "num_cond_frames frames the input's last ones re-decoded (--refine: the refined clip)")  # fmt: skip
    p.add_argument("--settings", type=Path, help="a JSON file of generation settings (flags given override it)")
    add_settings_arguments(p, ContinuationSettings)
    add_settings_arguments(p, RefineSettings)
    add_settings_arguments(p, RuntimeSettings)
    p = sub.add_parser("long", help="a long video from an image: image-to-video, then continuations")
    p.add_argument("--image", required=True, help="input image: file path or http(s) URL")
    p.add_argument("--output", default="long.mp4", help="mp4 path (default %(default)s), appended per segment; "
                   "with --refine the refined video; the 480p one is appended to <stem>.stage1.mp4")  # fmt: skip
    p.add_argument("--resume-from", type=Path, help="a partial long video of the same settings to continue (with "
                   "--refine: its <stem>.stage1.mp4)")  # fmt: skip
    p.add_argument("--settings", type=Path, help="a JSON file of generation settings (flags given override it)")
    add_settings_arguments(p, LongVideoSettings)
    add_settings_arguments(p, RefineSettings)
    add_settings_arguments(p, RuntimeSettings)
    return {"continue": _cmd_continue, "long": _cmd_long}


@contextlib.contextmanager
def _ranks(runtime: RuntimeSettings) -> Iterator[tuple[RuntimeSettings, bool]]:
    """(the runtime settings with this rank's device, whether this is rank 0), inside the torchrun job if any."""
    from . import parallel

    device = runtime.device or defaults.default_device()
    world = runtime.sp_size * (2 if runtime.cfg_parallel else 1)
    if world > 1:
        device = parallel.init_process_group(world, device)
    try:
        yield runtime.replace(device=device), parallel.is_main_process()
    finally:
        parallel.destroy_process_group()


class StepBars:
    """A progress bar per segment and phase, advanced by the generation's denoising and refining reports."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.segment: tuple[str, int] | None = None
        self.bar: Any = None  # a tqdm bar, imported on first use

    def __call__(self, event: Progress) -> None:
        if event.phase not in ("denoising", "refining") or not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None or (event.phase, event.segment) != self.segment:
            self.close()
            name = "segment" if event.phase == "denoising" else "refining segment"
            label = event.phase if event.segments == 1 else f"{name} {event.segment + 1}/{event.segments}"
            self.bar, self.segment = tqdm(desc=label, total=event.total, unit="step"), (event.phase, event.segment)
        self.bar.update(event.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _loaded(runtime: RuntimeSettings, is_main: bool, plan=None):
    from .pipeline import load_pipeline

    pipe = load_pipeline(runtime=runtime, plan=plan)
    if is_main and pipe.is_tiny:
        print(f"note: {pipe.checkpoint_dir} is the built-in tiny random-weight checkpoint; its videos are noise "
              f"(small settings unless given: {SMALL_CONTINUATION})", file=sys.stderr)  # fmt: skip
    return pipe


def _summary(path: Path, frames: int, size: tuple[int, int], fps: int, seed: int, start: float) -> str:
    return (f"wrote {path} ({frames} frames = {frames / fps:.1f} s of video at {fps} fps, {size[0]}x{size[1]}) "
            f"seed={seed} in {time.perf_counter() - start:.1f}s")  # fmt: skip


def _cmd_continue(args: argparse.Namespace) -> int:
    from .loading import auto_request
    from .video import check_output_path, to_uint8, write_mp4
    from .video_input import load_clip

    settings, refine, runtime = generation_settings(ContinuationSettings, args, SMALL_CONTINUATION)
    check_output_path(args.output)
    keep = 0 if refine is None else settings.num_cond_frames * refine.temporal_factor
    clip = load_clip(args.video, settings.num_cond_frames, refine_keep=keep)
    with _ranks(runtime) as (runtime, is_main):
        pipe = _loaded(runtime, is_main, auto_request(settings, refine, runtime, clip.first))
        bars, start = StepBars(is_main), time.perf_counter()
        try:
            out = pipe.generate_continuation(video=clip, settings=settings, refine_settings=refine, progress=bars)
        finally:
            bars.close()
        if is_main:
            path = write_mp4(to_uint8(out.frames), args.output, fps=out.fps)
            print(_summary(path, out.num_frames, (out.width, out.height), out.fps, out.seed, start))
    return 0


def _cmd_long(args: argparse.Namespace) -> int:
    from .images import load_image
    from .loading import auto_request
    from .video import check_output_path

    settings, refine, runtime = generation_settings(LongVideoSettings, args, SMALL_CONTINUATION)
    check_output_path(args.output)
    if args.resume_from is not None and not args.resume_from.is_file():
        raise InvalidInputError(f"--resume-from {args.resume_from} is not a file")
    image = load_image(args.image, allow_private_urls=runtime.allow_private_urls)
    with _ranks(runtime) as (runtime, is_main):
        pipe = _loaded(runtime, is_main, auto_request(settings, refine, runtime, image))
        bars, start = StepBars(is_main), time.perf_counter()
        try:
            out = pipe.generate_long_video(image, settings=settings, output=args.output, resume_from=args.resume_from,
                                           progress=bars, refine_settings=refine)  # fmt: skip
        finally:
            bars.close()
        if is_main:
            size = (out.frames.shape[2], out.frames.shape[1])
            resumed = f", {out.segments_resumed} segment(s) resumed" if out.segments_resumed else ""
            print(_summary(out.path, out.num_frames, size, out.fps, out.seed, start) + resumed)
            if out.stage1 is not None:
                print(f"the 480p long video it refines: {out.stage1.path} ({out.stage1.num_frames} frames)")
    return 0

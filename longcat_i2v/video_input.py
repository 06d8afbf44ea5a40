"""The input of video continuation: a video file or frames, brought to 15 fps, and its last frames as the
conditioning clip, with limits like the image input's.

A file is decoded once, streaming (imageio-ffmpeg, rgb24), keeping only frame 0 (it picks the size bucket, as
the original's ``video[0]`` does) and the last ``keep`` frames of the 15 fps sequence, so a long input costs
decode time but not memory. Frames given as arrays become uint8 PIL images first, as the original's demos hand
frames over (``(x * 255).astype(uint8)``, truncating).
"""

from __future__ import annotations

import collections
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image

from . import defaults
from .conditioning import image_to_pixels
from .errors import VideoInputError

VideoLike = str | Path | Sequence[Image.Image] | np.ndarray
TARGET_FPS = 15  # the original demo brings every input to 15 fps
REFINE_FPS = 30  # and conditions the refinement on the input at 30 fps


@dataclass(frozen=True)
class VideoLimits:
    """What an input video may be: its file size, its frame count (before the 15 fps stride) and frame pixels."""

    max_bytes: int = defaults.MAX_VIDEO_BYTES
    max_frames: int = defaults.MAX_VIDEO_FRAMES
    max_pixels: int = defaults.MAX_VIDEO_FRAME_PIXELS


@dataclass(frozen=True)
class VideoClip:
    """The part of an input video that continuation uses."""

    first: Image.Image  # frame 0 (its shape picks the bucket)
    last: tuple[Image.Image, ...]  # the last frames of the 15 fps sequence, oldest first
    num_frames: int  # frames of the 15 fps sequence
    stride: int  # every stride-th frame of the source was kept
    refine_last: tuple[Image.Image, ...] = ()  # a file's last frames at 30 fps (``refine_keep``), oldest first

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of frame 0."""
        return self.first.size


def fps_stride(fps: float, target: int = TARGET_FPS) -> int:
    """The original demo's ``max(1, round(fps / 15))`` (or / 30 for the refinement): keep every n-th frame
    (Python's round, half to even)."""
    return max(1, round(fps / target))


def load_clip(video: VideoLike, keep: int, limits: VideoLimits = VideoLimits(), refine_keep: int = 0) -> VideoClip:
    """Frame 0 and the last ``keep`` frames of ``video`` at 15 fps: a file path (brought to 15 fps by its stated
    frame rate) or frames already at the intended rate (PIL images, or an array [F, H, W, 3] of uint8 or of
    floats in [0, 1]). From a file also its last ``refine_keep`` frames at 30 fps, which condition a refined
    continuation as in the original demo (frames given have no 30 fps form). Raises VideoInputError for an
    unreadable, empty, oversized or too short input."""
    refine_last: collections.deque[Image.Image] = collections.deque(maxlen=refine_keep)
    if isinstance(video, str | Path):
        name = str(video)
        stride, frames = _open_file(Path(video).expanduser(), limits, refine_last)
    else:
        name, stride, frames = "the input video", 1, _given_frames(video, limits)
    first, count = None, 0
    last: collections.deque[Image.Image] = collections.deque(maxlen=keep)
    for frame in frames:
        first = frame if first is None else first
        last.append(frame)
        count += 1
    if first is None:
        raise VideoInputError(f"{name} has no frames")
    if count < keep:
        raise VideoInputError(
            f"{name} has {count} frames at {TARGET_FPS} fps; continuation needs at least num_cond_frames={keep}"
        )
    return VideoClip(first, tuple(last), count, stride, tuple(refine_last))


def clip_to_pixels(frames: Iterable[Image.Image], height: int, width: int) -> torch.Tensor:
    """Each frame as the original's ``preprocess_video`` makes it (LANCZOS to (width, height), [-1, 1]):
    [1, 3, n, H, W] float32."""
    return torch.cat([image_to_pixels(f, height, width) for f in frames], dim=2)


def _check_frame(size: tuple[int, int], name: str, limits: VideoLimits) -> None:
    w, h = size
    if w == 0 or h == 0:
        raise VideoInputError(f"{name} has frames of zero size ({w}x{h})")
    if w * h > limits.max_pixels:
        raise VideoInputError(f"{name} has {w}x{h} = {w * h} pixels per frame; at most {limits.max_pixels} are allowed")


def _too_many(name: str, limits: VideoLimits) -> VideoInputError:
    return VideoInputError(f"{name} has more than {limits.max_frames} frames; at most {limits.max_frames} are allowed")


def _given_frames(video: Sequence[Image.Image] | np.ndarray, limits: VideoLimits) -> Iterator[Image.Image]:
    name = "the input video"
    if isinstance(video, np.ndarray | torch.Tensor):
        array = np.asarray(video)
        if array.ndim != 4 or array.shape[-1] != 3:
            raise VideoInputError(f"{name} as an array must be [F, H, W, 3], got shape {list(array.shape)}")
        if array.dtype != np.uint8:
            floats = np.issubdtype(array.dtype, np.floating)
            if not floats or not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
                raise VideoInputError(f"{name} as an array must be uint8, or floats in [0, 1]; got {array.dtype}")
            array = (array * 255).astype(np.uint8)
        video = array
    elif not isinstance(video, Sequence) or isinstance(video, str | bytes):
        raise VideoInputError(
            f"video must be a file path, a list of PIL images or an array [F, H, W, 3], got {type(video).__name__}"
        )
    if len(video) > limits.max_frames:
        raise _too_many(name, limits)
    for i, frame in enumerate(video):
        if isinstance(frame, np.ndarray):
            frame = Image.fromarray(frame)
        if not isinstance(frame, Image.Image):
            raise VideoInputError(f"frame {i} of {name} is a {type(frame).__name__}, not a PIL image")
        _check_frame(frame.size, name, limits)
        yield frame.convert("RGB")


def _open_file(
    path: Path, limits: VideoLimits, refine_last: collections.deque[Image.Image]
) -> tuple[int, Iterator[Image.Image]]:
    """(the 15 fps stride from the file's stated frame rate, its frames at 15 fps), the header checked first;
    ``refine_last`` collects its frames at 30 fps (the last ones, as long as the deque is)."""
    if not path.is_file():
        raise VideoInputError(f"video file not found: {path}")
    if path.stat().st_size > limits.max_bytes:
        raise VideoInputError(f"video file {path} is larger than {limits.max_bytes // 1024**2} MiB")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise VideoInputError(f"cannot read video {path}: {str(exc).strip()[-300:]}") from exc
    size, fps = tuple(meta["size"]), meta.get("fps") or 0
    try:
        _check_frame(size, str(path), limits)
        if not fps > 0:
            raise VideoInputError(f"video {path} states no frame rate; pass its frames at {TARGET_FPS} fps instead")
    except VideoInputError:
        reader.close()
        raise
    stride, refine_stride = fps_stride(fps), fps_stride(fps, REFINE_FPS)
    return stride, _file_frames(reader, path, size, (stride, refine_stride), limits, refine_last)


def _file_frames(
    reader: Generator[bytes, None, None],
    path: Path,
    size: tuple[int, int],
    strides: tuple[int, int],
    limits: VideoLimits,
    refine_last: collections.deque[Image.Image],
) -> Iterator[Image.Image]:
    stride, refine_stride = strides
    collect = refine_last.maxlen != 0
    try:
        for i, data in enumerate(reader):
            if i >= limits.max_frames:
                raise _too_many(str(path), limits)
            if i % stride == 0 or (collect and i % refine_stride == 0):
                frame = Image.fromarray(np.frombuffer(data, np.uint8).reshape(size[1], size[0], 3))
                if collect and i % refine_stride == 0:
                    refine_last.append(frame)
                if i % stride == 0:
                    yield frame
    except (OSError, RuntimeError) as exc:
        raise VideoInputError(f"cannot decode video {path}: {str(exc).strip()[-300:]}") from exc
    finally:
        reader.close()

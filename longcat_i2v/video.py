"""Frames → uint8 → H.264 mp4, as the original demo writes them (truncating uint8 conversion,
optional bicubic resize back to the input size, 15 fps, libx264 crf 18)."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from . import defaults
from .errors import InvalidInputError


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """[F, H, W, 3] floats in [0, 1] → uint8 by truncation ``(x * 255).astype(uint8)``, the original demo's
    conversion (not rounding); uint8 input is returned unchanged."""
    if frames.dtype == np.uint8:
        return frames
    return (frames * 255).astype(np.uint8)


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: round each down to even (at least 2)."""
    return max(2, width - width % 2), max(2, height - height % 2)


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of uint8 frames to (width, height), as the original demo resizes to the input size."""
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in to_uint8(frames)])


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = defaults.FPS, crf: int = defaults.CRF) -> Path:
    """Write frames (uint8, or floats in [0, 1]) as a browser-playable H.264/yuv420p mp4."""
    frames = to_uint8(np.asarray(frames))
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InvalidInputError(f"frames must be [F, H, W, 3] with F >= 1, got shape {list(frames.shape)}")
    if not 1 <= fps <= 120:
        raise InvalidInputError(f"fps must be between 1 and 120, got {fps}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise InvalidInputError(f"H.264 needs even frame sides, got {width}x{height}; resize with even_size() first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-crf", str(crf), "-movflags", "+faststart"],
    )
    try:
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()  # ends the ffmpeg process on errors too
    return path


def read_mp4(path: str | Path) -> np.ndarray:
    """Decode an mp4 to uint8 frames [F, H, W, 3] (for checks and the eval harness)."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)

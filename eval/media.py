"""Media written next to the numbers: the generated video and a first-frame comparison image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from longcat_i2v.video import even_size, resize_frames, to_uint8, write_mp4

DIFF_GAIN = 4.0  # the difference panel is amplified so small deviations are visible


def first_frame_comparison(cond_image: np.ndarray, first_frame: np.ndarray) -> np.ndarray:
    """uint8 [H, 3W, 3]: the conditioning image as the model saw it | the first frame | 4×|difference|."""
    diff = np.clip(np.abs(first_frame - cond_image) * DIFF_GAIN, 0, 1)
    return to_uint8(np.concatenate([cond_image, first_frame, diff], axis=1)[None])[0]


def save_comparison(cond_image: np.ndarray, first_frame: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(first_frame_comparison(cond_image, first_frame)).save(path)
    return path


def save_video(frames: np.ndarray, path: Path, fps: int) -> Path:
    """H.264 mp4 for viewing only (metrics never read it back: compression costs several dB)."""
    height, width = frames.shape[1:3]
    even_w, even_h = even_size(width, height)
    if (even_w, even_h) != (width, height):
        frames = resize_frames(frames, even_w, even_h)
    return write_mp4(frames, path, fps=fps)

"""Pixel-level temporal consistency between consecutive frames (no flow): SSIM, perceptual distance, flicker,
and VBench's temporal flickering.

All functions take float frames [F, H, W, 3] in [0, 1] (F >= 2), before any uint8 conversion or video
compression, and average over the F-1 consecutive pairs. These reward a still (it never changes), which is
why ``eval.stats`` compares them only on pairs of videos that both move.
"""

from __future__ import annotations

import numpy as np
from torchmetrics.functional.image import structural_similarity_index_measure

from longcat_i2v.video import to_uint8

from ._tensors import as_nchw, check_video
from .perceptual import Perceptual


def consecutive_ssim(frames: np.ndarray) -> float:
    """Mean SSIM between consecutive frames; 1 for a static video, lower when frames change."""
    t = as_nchw(check_video(frames, min_frames=2))
    return float(structural_similarity_index_measure(t[1:], t[:-1], data_range=1.0))


def consecutive_perceptual(frames: np.ndarray, perceptual: Perceptual) -> float:
    """Mean perceptual distance between consecutive frames; 0 for a static video."""
    frames = check_video(frames, min_frames=2)
    return float(np.mean(perceptual.distance(frames[1:], frames[:-1])))


def pair_differences(frames: np.ndarray) -> np.ndarray:
    """Per consecutive pair, the mean absolute difference between its two frames (all pixels and channels)."""
    frames = check_video(frames, min_frames=2)
    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3), dtype=np.float64)


def flicker(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames (all pixels and channels); 0 for a static video."""
    frames = check_video(frames, min_frames=2)
    return float(np.mean(np.abs(np.diff(frames, axis=0))))


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench's temporal flickering (``vbench/temporal_flickering.py``): (255 − mean absolute difference of
    consecutive uint8 frames) / 255, i.e. 1 − ``flicker`` of the uint8 frames. Higher is steadier; 1 for a still.
    VBench meant it for videos of static scenes; on moving ones it also falls with motion."""
    u8 = to_uint8(check_video(frames, min_frames=2)).astype(np.float64)
    return float((255.0 - np.mean(np.abs(np.diff(u8, axis=0)))) / 255.0)

"""Temporal consistency: how smoothly a video moves from one frame to the next.

All functions take float frames [F, H, W, 3] in [0, 1] (F >= 2), before any uint8 conversion or
video compression, and average over the F-1 consecutive pairs.
"""

from __future__ import annotations

import numpy as np
from torchmetrics.functional.image import structural_similarity_index_measure

from ._tensors import as_nchw, check_video
from .flow import dis_flow, occlusion_mask, warp
from .perceptual import Perceptual


def warping_error(frames: np.ndarray, preset: str = "medium") -> float:
    """Mean squared error between each frame and the previous frame warped onto it by DIS optical flow,
    over pixels the forward-backward check marks visible (Lai et al. 2018). Lower is more consistent;
    ~0 for a static video or a pure translation. NaN if every pixel of every pair is occluded."""
    frames = check_video(frames, min_frames=2)
    errors, weights = 0.0, 0
    for prev, cur in zip(frames[:-1], frames[1:], strict=True):
        flow_bw = dis_flow(cur, prev, preset)  # cur(p) ≈ prev(p + flow_bw(p))
        flow_fw = dis_flow(prev, cur, preset)
        mask = occlusion_mask(flow_bw, flow_fw)
        squared = np.mean((cur - warp(prev, flow_bw)) ** 2, axis=-1)
        errors += float(squared[mask].sum())
        weights += int(mask.sum())
    return errors / weights if weights else float("nan")


def consecutive_ssim(frames: np.ndarray) -> float:
    """Mean SSIM between consecutive frames; 1 for a static video, lower when frames change."""
    t = as_nchw(check_video(frames, min_frames=2))
    return float(structural_similarity_index_measure(t[1:], t[:-1], data_range=1.0))


def consecutive_perceptual(frames: np.ndarray, perceptual: Perceptual) -> float:
    """Mean perceptual distance between consecutive frames; 0 for a static video."""
    frames = check_video(frames, min_frames=2)
    return float(np.mean(perceptual.distance(frames[1:], frames[:-1])))


def flicker(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames (all pixels and channels); 0 for a static video."""
    frames = check_video(frames, min_frames=2)
    return float(np.mean(np.abs(np.diff(frames, axis=0))))

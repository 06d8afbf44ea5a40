"""Fidelity of a refined (720p, 30 fps) video to the 480p stage-1 video it refines: the refinement should add
detail, not change what happens. The refined frames are brought to the stage-1 frames' size and times and
compared with PSNR and SSIM (torchmetrics).

Times follow the core's up-sampling (``longcat_i2v.refinement.upsample``: trilinear, ``align_corners=True``),
which puts stage-1 frame i at refined position i · (N − 1) / (F − 1) for F stage-1 and N refined frames; the
refined video is linearly interpolated there (with 2× frames those positions fall between refined frames,
except the first and the last). Spatially each refined frame is downscaled with OpenCV's area filter.
"""

from __future__ import annotations

import cv2
import numpy as np
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from ._tensors import as_nchw, check_video
from .perceptual import Perceptual


def stage1_positions(num_stage1: int, num_refined: int) -> np.ndarray:
    """Where each stage-1 frame sits in the refined video (fractional refined frame index)."""
    if num_refined < num_stage1:
        raise ValueError(f"a refined video of {num_refined} frames cannot refine {num_stage1} stage-1 frames")
    if num_stage1 == 1:
        return np.zeros(1)
    return np.arange(num_stage1) * (num_refined - 1) / (num_stage1 - 1)


def match_stage1(refined: np.ndarray, stage1: np.ndarray) -> np.ndarray:
    """The refined video at the stage-1 frames' size (area filter) and times (linear between frames)."""
    refined, stage1 = check_video(refined), check_video(stage1)
    height, width = stage1.shape[1:3]
    small = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in refined])
    pos = stage1_positions(len(stage1), len(small))
    low = np.minimum(np.floor(pos).astype(int), len(small) - 1)
    high = np.minimum(low + 1, len(small) - 1)
    weight = (pos - low).astype(np.float32)[:, None, None, None]
    return (1 - weight) * small[low] + weight * small[high]


def stage1_fidelity(refined: np.ndarray, stage1: np.ndarray, perceptual: Perceptual | None = None) -> dict[str, float]:
    """``refine_psnr`` (dB over all matched frames together; inf when identical), ``refine_ssim`` (mean over
    frames) and, with a perceptual backend, ``refine_perceptual`` (mean distance) between the matched refined
    frames and the stage-1 frames."""
    matched, stage1 = match_stage1(refined, stage1), check_video(stage1)
    a, b = as_nchw(matched), as_nchw(stage1)
    scores = {
        "refine_psnr": float(peak_signal_noise_ratio(a, b, data_range=1.0)),
        "refine_ssim": float(structural_similarity_index_measure(a, b, data_range=1.0)),
    }
    if perceptual is not None:
        scores["refine_perceptual"] = float(np.mean(perceptual.distance(matched, stage1)))
    return scores

"""All enabled metrics of one generated video, as a flat dict of floats (the names used in every table)."""

from __future__ import annotations

import numpy as np

from . import metrics
from .metrics import Perceptual


def score_video(
    frames: np.ndarray,
    cond_image: np.ndarray,
    perceptual: Perceptual | None,
    fidelity: bool = True,
    temporal: bool = True,
    flow_preset: str = "medium",
) -> dict[str, float]:
    """First-frame fidelity against the conditioning image as the model saw it, and temporal consistency
    (skipped for a one-frame video). ``frames`` are float [F, H, W, 3] in [0, 1], never compressed."""
    scores: dict[str, float] = {}
    if fidelity:
        scores["first_frame_psnr"] = metrics.psnr(frames[0], cond_image)
        scores["first_frame_ssim"] = metrics.ssim(frames[0], cond_image)
        if perceptual is not None:
            scores["first_frame_perceptual"] = metrics.perceptual_distance(frames[0], cond_image, perceptual)
    if temporal and len(frames) > 1:
        scores["warping_error"] = metrics.warping_error(frames, flow_preset)
        scores["consecutive_ssim"] = metrics.consecutive_ssim(frames)
        if perceptual is not None:
            scores["consecutive_perceptual"] = metrics.consecutive_perceptual(frames, perceptual)
        scores["flicker"] = metrics.flicker(frames)
    return scores

"""Drift of a long video's later segments from its first: colour statistics and sharpness (OpenCV), each
segment against segment 0 on float frames in [0, 1]. A long video that slowly changes colour, fades or blurs
as its continuations pile up shows it here even when each segment on its own looks smooth."""

from __future__ import annotations

import cv2
import numpy as np

from ._tensors import check_video


def lab_stats(frames: np.ndarray) -> np.ndarray:
    """Per-channel mean then std of the frames in CIE Lab (OpenCV, float: L in [0, 100], a and b about ±127)
    over all pixels of all frames: ``[mean L, mean a, mean b, std L, std a, std b]``."""
    frames = check_video(frames)
    f, h, w, _ = frames.shape
    lab = cv2.cvtColor(frames.reshape(f * h, w, 3), cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
    return np.concatenate([lab.mean(axis=0), lab.std(axis=0)])


def color_drift(segment: np.ndarray, reference: np.ndarray) -> float:
    """How far the segment's colour statistics are from the reference's, in Lab units: the distance between
    their mean colours (CIE76 ΔE) plus the distance between their per-channel stds (contrast). 0 when equal."""
    a, b = lab_stats(segment), lab_stats(reference)
    return float(np.linalg.norm(a[:3] - b[:3]) + np.linalg.norm(a[3:] - b[3:]))


def sharpness(frames: np.ndarray) -> float:
    """Mean over frames of the variance of the Laplacian of the grey image (at 0..255 scale): larger is sharper,
    0 for a flat image."""
    frames = check_video(frames)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) * 255.0 for f in frames]
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def sharpness_ratio(segment: np.ndarray, reference: np.ndarray) -> float:
    """``sharpness(segment) / sharpness(reference)``: 1 when alike, below 1 when the segment got blurrier; NaN
    when the reference is flat."""
    ref = sharpness(reference)
    return sharpness(segment) / ref if ref > 0 else float("nan")


def sharpness_drift(ratio: float) -> float:
    """|log2| of a sharpness ratio: 0 when unchanged, 1 when twice or half as sharp (blurring and over-sharpening
    both count as drift)."""
    return abs(float(np.log2(ratio))) if ratio > 0 else float("inf") if ratio == 0 else float("nan")

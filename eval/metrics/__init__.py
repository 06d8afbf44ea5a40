"""Metrics, one small function each, on float frames in [0, 1] before any video compression."""

from .fidelity import perceptual_distance, psnr, ssim
from .parity import abs_diff, per_step_diffs
from .perceptual import Perceptual, PerceptualUnavailable, load_perceptual
from .temporal import consecutive_perceptual, consecutive_ssim, flicker, warping_error

__all__ = [
    "Perceptual",
    "PerceptualUnavailable",
    "abs_diff",
    "consecutive_perceptual",
    "consecutive_ssim",
    "flicker",
    "load_perceptual",
    "per_step_diffs",
    "perceptual_distance",
    "psnr",
    "ssim",
    "warping_error",
]

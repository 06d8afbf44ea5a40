"""Metrics, one small function each, on float frames in [0, 1] before any video compression.

``longcat_i2v.compat`` is imported first on purpose: it declares torchvision's op schemas, without which
torchvision (imported by torchmetrics, lpips and ST-LPIPS) fails to import next to the CPU torch.
"""

from longcat_i2v import compat  # noqa: F401  (before torchmetrics)

from .fidelity import perceptual_distance, psnr, ssim
from .flow import VideoFlows
from .input_fidelity import input_fidelity_proxy, similarity_curves
from .motion import dynamic_degree, motion_magnitude
from .parity import abs_diff, per_step_diffs
from .perceptual import Perceptual, PerceptualUnavailable, load_perceptual
from .temporal import consecutive_perceptual, consecutive_ssim, flicker, temporal_flickering
from .warping import cut_count, detect_cuts, motion_smoothness, occluded_fraction, warping_error

__all__ = [
    "Perceptual",
    "PerceptualUnavailable",
    "VideoFlows",
    "abs_diff",
    "consecutive_perceptual",
    "consecutive_ssim",
    "cut_count",
    "detect_cuts",
    "dynamic_degree",
    "flicker",
    "input_fidelity_proxy",
    "load_perceptual",
    "motion_magnitude",
    "motion_smoothness",
    "occluded_fraction",
    "per_step_diffs",
    "perceptual_distance",
    "psnr",
    "similarity_curves",
    "ssim",
    "temporal_flickering",
    "warping_error",
]

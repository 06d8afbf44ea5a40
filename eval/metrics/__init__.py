"""Metrics, one small function each, on float frames in [0, 1] before any video compression.

``longcat_i2v.compat`` is imported first on purpose: it declares torchvision's op schemas, without which
torchvision (imported by torchmetrics, lpips and ST-LPIPS) fails to import next to the CPU torch.
"""

from longcat_i2v import compat  # noqa: F401  (before torchmetrics)

from .drift import color_drift, lab_stats, sharpness, sharpness_drift, sharpness_ratio
from .fidelity import perceptual_distance, psnr, ssim
from .flow import VideoFlows
from .input_fidelity import input_fidelity_proxy, similarity_curves
from .motion import dynamic_degree, motion_magnitude
from .parity import abs_diff, per_step_diffs
from .perceptual import Perceptual, PerceptualUnavailable, load_perceptual
from .segments import seam_pairs, seam_ratio, segment_bounds
from .stage1_fidelity import match_stage1, stage1_fidelity
from .temporal import consecutive_perceptual, consecutive_ssim, flicker, pair_differences, temporal_flickering
from .warping import cut_count, detect_cuts, motion_smoothness, occluded_fraction, warping_error, warping_errors

__all__ = [
    "Perceptual",
    "PerceptualUnavailable",
    "VideoFlows",
    "abs_diff",
    "color_drift",
    "consecutive_perceptual",
    "consecutive_ssim",
    "cut_count",
    "detect_cuts",
    "dynamic_degree",
    "flicker",
    "input_fidelity_proxy",
    "lab_stats",
    "load_perceptual",
    "match_stage1",
    "motion_magnitude",
    "motion_smoothness",
    "occluded_fraction",
    "pair_differences",
    "per_step_diffs",
    "perceptual_distance",
    "psnr",
    "seam_pairs",
    "seam_ratio",
    "segment_bounds",
    "sharpness",
    "sharpness_drift",
    "sharpness_ratio",
    "similarity_curves",
    "ssim",
    "stage1_fidelity",
    "temporal_flickering",
    "warping_error",
    "warping_errors",
]

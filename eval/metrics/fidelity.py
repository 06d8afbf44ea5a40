"""First-frame fidelity: how closely the video's first frame reproduces the conditioning image.

Compare against the image exactly as the model saw it (``GenerationOutput.cond_image``, after the bucket
resize), on float frames in [0, 1] before any uint8 conversion or video compression.
"""

from __future__ import annotations

import numpy as np
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from ._tensors import as_nchw
from .perceptual import Perceptual


def _check_pair(frame: np.ndarray, reference: np.ndarray) -> None:
    if np.shape(frame) != np.shape(reference):
        raise ValueError(f"frame {list(np.shape(frame))} and reference {list(np.shape(reference))} differ in shape")


def psnr(frame: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB with data range 1.0; ``inf`` when the two are identical."""
    _check_pair(frame, reference)
    return float(peak_signal_noise_ratio(as_nchw(frame), as_nchw(reference), data_range=1.0))


def ssim(frame: np.ndarray, reference: np.ndarray) -> float:
    """SSIM (Gaussian window 11, sigma 1.5) in [-1, 1]; 1 when identical."""
    _check_pair(frame, reference)
    return float(structural_similarity_index_measure(as_nchw(frame), as_nchw(reference), data_range=1.0))


def perceptual_distance(frame: np.ndarray, reference: np.ndarray, perceptual: Perceptual) -> float:
    """LPIPS-style distance (0 when identical, larger is less alike) with the given backend."""
    _check_pair(frame, reference)
    return float(perceptual.distance(frame[None], reference[None])[0])

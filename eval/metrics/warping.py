"""Flow-based temporal quality: warping error with its occluded fraction, cuts and jumps, motion smoothness.

All take float frames [F, H, W, 3] in [0, 1] before any uint8 conversion or video compression (or a
``VideoFlows`` holding them, to share its flows with the other metrics). A pair of frames the flow cannot
connect (mostly occluded: a cut) or that jumps far more than the rest of the video is flagged; the warping
error of such a pair is taken over all its pixels, so a cut is never a perfect 0.
"""

from __future__ import annotations

import numpy as np

from .flow import VideoFlows, as_flows, warp
from .motion import REFERENCE_SIDE, top_flow_magnitude

CUT_OCCLUDED = 0.5  # a pair with more than half its pixels occluded is a cut
JUMP_RATIO = 3.0  # a pair moving 3x more than the video's median pair is a jump...
JUMP_MIN_PX = 1.0  # ...and more than 1 px at a 256-pixel short side


def occluded_fractions(video: np.ndarray | VideoFlows, preset: str = "medium") -> np.ndarray:
    """Per consecutive pair, the fraction of pixels failing the forward-backward check or leaving the frame."""
    flows = as_flows(video, preset)
    return np.array([1.0 - flows.visible(i - 1, i).mean() for i in range(1, len(flows))])


def occluded_fraction(video: np.ndarray | VideoFlows, preset: str = "medium") -> float:
    """Mean occluded fraction over the consecutive pairs: how much of the warping error's pixels it ignores."""
    return float(np.mean(occluded_fractions(video, preset)))


def detect_cuts(video: np.ndarray | VideoFlows, preset: str = "medium") -> np.ndarray:
    """Per consecutive pair, True when it is a cut (mostly occluded) or a jump (its top-5 % flow exceeds
    ``JUMP_RATIO`` times the median pair's, with at least 3 pairs to take a median from)."""
    flows = as_flows(video, preset)
    cuts = occluded_fractions(flows) > CUT_OCCLUDED
    if len(cuts) >= 3:
        scale = REFERENCE_SIDE / min(flows.frames.shape[1:3])
        motion = np.array([top_flow_magnitude(flows.flow(i, i - 1)) for i in range(1, len(flows))]) * scale
        cuts |= (motion > JUMP_RATIO * np.median(motion)) & (motion > JUMP_MIN_PX)
    return cuts


def cut_count(video: np.ndarray | VideoFlows, preset: str = "medium") -> float:
    """How many consecutive pairs are cuts or jumps (``detect_cuts``)."""
    return float(np.sum(detect_cuts(video, preset)))


def warping_errors(video: np.ndarray | VideoFlows, preset: str = "medium") -> np.ndarray:
    """Per consecutive pair, the squared error between its second frame and the first warped onto it by DIS flow
    (Lai et al. 2018): over the visible pixels, or over all pixels for a cut or jump."""
    flows = as_flows(video, preset)
    cuts = detect_cuts(flows)
    errors = []
    for i in range(1, len(flows)):
        prev, cur = flows.frames[i - 1], flows.frames[i]
        squared = np.mean((cur - warp(prev, flows.flow(i, i - 1))) ** 2, axis=-1)
        visible = flows.visible(i - 1, i)
        errors.append(float(squared.mean() if cuts[i - 1] or not visible.any() else squared[visible].mean()))
    return np.array(errors)


def warping_error(video: np.ndarray | VideoFlows, preset: str = "medium") -> float:
    """Mean of ``warping_errors`` over the consecutive pairs. Lower is more consistent; ~0 for a still or a pure
    translation, never 0 for a cut."""
    return float(np.mean(warping_errors(video, preset)))


def motion_smoothness(video: np.ndarray | VideoFlows, preset: str = "medium") -> float:
    """1 − mean absolute error of each odd frame interpolated from its two neighbours along the flow between
    them (linear motion assumed), in [0, 1], higher is smoother; NaN below 3 frames.

    VBench's motion smoothness has this form ((255 − MAE) / 255 of odd frames interpolated from even ones)
    but interpolates with the AMT network, whose weights are not available offline; DIS-flow interpolation
    stands in, so values are comparable within this harness only. A still scores 1.
    """
    flows = as_flows(video, preset)
    errors = []
    for i in range(1, len(flows) - 1, 2):
        span = flows.flow(i - 1, i + 1)  # frames[i-1](p) ≈ frames[i+1](p + span(p)); halfway at frame i
        estimate = 0.5 * (warp(flows.frames[i - 1], -0.5 * span) + warp(flows.frames[i + 1], 0.5 * span))
        errors.append(float(np.mean(np.abs(estimate - flows.frames[i]))))
    return 1.0 - float(np.mean(errors)) if errors else float("nan")

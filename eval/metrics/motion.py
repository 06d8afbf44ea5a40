"""Motion: how much a video moves. A still scores 0 on both measures, which is what lets ``eval.stats`` keep a
still from winning the temporal-quality comparisons (those are made only on pairs where both videos move).

Dynamic degree follows VBench (Huang et al. 2024, ``vbench/dynamic_degree.py`` in github.com/Vchitect/VBench):
frames are sampled at about 8 fps (every ``round(fps / 8)``-th frame); each sampled pair scores the mean of its
largest 5 % flow magnitudes; the video is dynamic when at least ``round(4 · n / 16)`` of the pairs (n sampled
frames) exceed ``max(1, 8 / fps) · 6 · min(H, W) / 256`` pixels. VBench estimates the flow with RAFT, whose
weights are not available offline; here it is DIS (``flow.py``), so values are VBench-style, not VBench's.
One deliberate difference: VBench's count can round to 0 for short clips (fewer than 3 sampled frames), which
makes every such clip "dynamic", even a still; here at least one pair must exceed the threshold.
"""

from __future__ import annotations

import numpy as np

from .flow import VideoFlows, as_flows

TOP_FRACTION = 0.05
SAMPLE_FPS = 8.0  # VBench compares frames about 1/8 s apart
THRESHOLD_PX = 6.0  # at a 256-pixel short side and 8 fps
REFERENCE_SIDE = 256.0


def top_flow_magnitude(flow: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Mean of the largest ``fraction`` of the flow's per-pixel magnitudes (VBench's score of one pair)."""
    magnitude = np.hypot(flow[..., 0], flow[..., 1]).ravel()
    k = max(1, int(magnitude.size * fraction))
    return float(np.mean(np.partition(magnitude, magnitude.size - k)[-k:]))


def sample_stride(fps: float) -> int:
    """Every how many frames VBench takes one, to compare frames about 1/8 s apart."""
    return max(1, round(fps / SAMPLE_FPS))


def dynamic_threshold(height: int, width: int, fps: float) -> float:
    """Pixels of top-5 % flow above which a sampled pair counts as moving, scaled to the frame size."""
    return max(1.0, SAMPLE_FPS / fps) * THRESHOLD_PX * min(height, width) / REFERENCE_SIDE


def sampled_pair_motion(video: np.ndarray | VideoFlows, fps: float, preset: str = "medium") -> np.ndarray:
    """Top-5 % flow magnitude of each pair of consecutive sampled frames."""
    flows = as_flows(video, preset)
    picks = list(range(0, len(flows), sample_stride(fps)))
    return np.array([top_flow_magnitude(flows.flow(a, b)) for a, b in zip(picks[:-1], picks[1:], strict=True)])


def dynamic_degree(video: np.ndarray | VideoFlows, fps: float, preset: str = "medium") -> float:
    """1.0 if the video moves by VBench's rule (module docstring), else 0.0; NaN with a single sampled frame."""
    flows = as_flows(video, preset)
    scores = sampled_pair_motion(flows, fps)
    if not len(scores):
        return float("nan")
    height, width = flows.frames.shape[1:3]
    needed = max(1, round(4 * (len(scores) + 1) / 16))
    return float(np.sum(scores > dynamic_threshold(height, width, fps)) >= needed)


def motion_magnitude(video: np.ndarray | VideoFlows, preset: str = "medium") -> float:
    """Mean flow magnitude between consecutive frames over all pixels, in pixels per frame at a 256-pixel short
    side (so resolutions compare); 0 for a still."""
    flows = as_flows(video, preset)
    scale = REFERENCE_SIDE / min(flows.frames.shape[1:3])
    per_pair = [np.mean(np.hypot(*np.moveaxis(flows.flow(i, i - 1), -1, 0))) for i in range(1, len(flows))]
    return float(np.mean(per_pair) * scale)

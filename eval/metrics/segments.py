"""Where the segments of a long video lie, and seam scores: how much more a temporal metric jumps across the
pairs of frames that straddle a segment boundary than within segments.

A long video (``longcat_i2v.long_video``) is segment 0's F frames followed by each continuation's
F − num_cond_frames new frames; the bounds come from the video's ``LongVideoSettings`` (the same numbers as
its ``num_frames_total``), never from a frame count alone. A seam is the pair (last frame of one segment,
first new frame of the next): the frame the continuation conditioned on and the first one it generated.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SegmentLayout(Protocol):
    """What ``LongVideoSettings`` (resolved, as ``LongVideoOutput.settings``) says about the segments."""

    num_frames: int
    num_cond_frames: int

    @property
    def segments(self) -> int: ...

    @property
    def num_frames_total(self) -> int: ...


def segment_bounds(layout: SegmentLayout, total: int | None = None) -> list[tuple[int, int]]:
    """``[start, end)`` of each segment's own frames in the long video: segment 0 its ``num_frames``, each later
    one its ``num_frames − num_cond_frames`` new frames. ``total`` (the video's frame count) is checked."""
    first, new = layout.num_frames, layout.num_frames - layout.num_cond_frames
    bounds = [(0, first)] + [(first + (k - 1) * new, first + k * new) for k in range(1, layout.segments)]
    if bounds[-1][1] != layout.num_frames_total:
        raise ValueError(f"segment bounds end at {bounds[-1][1]}, the settings say {layout.num_frames_total} frames")
    if total is not None and total != layout.num_frames_total:
        raise ValueError(
            f"the long video has {total} frames; its settings ({layout.segments} segments of {layout.num_frames} "
            f"frames, {layout.num_cond_frames} conditioning) make {layout.num_frames_total}"
        )
    return bounds


def seam_pairs(bounds: list[tuple[int, int]]) -> np.ndarray:
    """Indices ``p`` of the consecutive pairs (frame p, frame p + 1) that straddle a segment boundary."""
    return np.array([start - 1 for start, _ in bounds[1:]], dtype=int)


def seam_ratio(per_pair: np.ndarray, seams: np.ndarray) -> float:
    """Mean of a per-pair temporal metric over the seam pairs / its mean over every other pair: 1 when a seam
    is like any other pair, above 1 when the video jumps at its seams. NaN without seams or other pairs, or when
    both means are 0; inf when only the seams change."""
    per_pair = np.asarray(per_pair, dtype=np.float64)
    at_seam = np.zeros(len(per_pair), dtype=bool)
    at_seam[seams] = True
    if not at_seam.any() or at_seam.all():
        return float("nan")
    seam, within = float(per_pair[at_seam].mean()), float(per_pair[~at_seam].mean())
    if within == 0:
        return float("nan") if seam == 0 else float("inf")
    return seam / within

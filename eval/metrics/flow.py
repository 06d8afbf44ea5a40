"""Optical flow (OpenCV DIS), backward warping, the forward-backward occlusion mask, and a per-video cache of
flows shared by the metrics that need them (warping error, cuts, dynamic degree, motion smoothness).

DIS needs no learned weights, so it runs offline. It estimates flow on 8-bit grayscale; the warped
frames and the errors stay in float.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._tensors import check_video

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def flow_version(preset: str) -> str:
    """What produced the flows, recorded with every result (DIS output differs between OpenCV versions)."""
    return f"dis-{preset}/opencv-{cv2.__version__}"


def _gray_u8(frame: np.ndarray) -> np.ndarray:
    u8 = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)


def _check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; allowed: {', '.join(PRESETS)}")


def dis_flow(src: np.ndarray, dst: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Flow [H, W, 2] (x, y) with ``src(p) ≈ dst(p + flow(p))``, from float RGB frames in [0, 1]."""
    _check_preset(preset)
    dis = cv2.DISOpticalFlow_create(PRESETS[preset])
    return dis.calc(_gray_u8(src), _gray_u8(dst), None)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``p + flow(p)`` (bilinear, border replicated): brings ``image`` onto the flow's source."""
    xs, ys = _grid(*flow.shape[:2])
    return cv2.remap(
        image.astype(np.float32),
        xs + flow[..., 0],
        ys + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def occlusion_mask(flow_bw: np.ndarray, flow_fw: np.ndarray) -> np.ndarray:
    """True where the backward flow is trusted: the forward flow at the target undoes it (Sundaram et al. 2010:
    |b + f'|² < 0.01(|b|² + |f'|²) + 0.5) and the target lies inside the frame."""
    height, width = flow_bw.shape[:2]
    xs, ys = _grid(height, width)
    tx, ty = xs + flow_bw[..., 0], ys + flow_bw[..., 1]
    fw_at_target = warp(flow_fw, flow_bw)
    round_trip = np.sum((flow_bw + fw_at_target) ** 2, axis=-1)
    magnitude = np.sum(flow_bw**2, axis=-1) + np.sum(fw_at_target**2, axis=-1)
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    return (round_trip < 0.01 * magnitude + 0.5) & inside


class VideoFlows:
    """One video's frames and the DIS flows between any two of them, each computed at most once."""

    def __init__(self, frames: np.ndarray, preset: str = "medium") -> None:
        _check_preset(preset)
        self.frames = check_video(frames, min_frames=2)
        self.preset = preset
        self._flows: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def flow(self, src: int, dst: int) -> np.ndarray:
        """``frames[src](p) ≈ frames[dst](p + flow(p))``."""
        key = (src, dst)
        if key not in self._flows:
            self._flows[key] = dis_flow(self.frames[src], self.frames[dst], self.preset)
        return self._flows[key]

    def window(self, start: int, end: int) -> VideoFlows:
        """Frames ``[start, end)`` as a video of their own, with the flows already computed between them (a long
        video's segment reuses the whole video's flows instead of recomputing them)."""
        part = VideoFlows(self.frames[start:end], self.preset)
        inside = range(start, end)
        part._flows = {(a - start, b - start): f for (a, b), f in self._flows.items() if a in inside and b in inside}
        return part

    def visible(self, prev: int, cur: int) -> np.ndarray:
        """Pixels of ``frames[cur]`` whose backward flow to ``frames[prev]`` passes the forward-backward check."""
        return occlusion_mask(self.flow(cur, prev), self.flow(prev, cur))


def as_flows(video: np.ndarray | VideoFlows, preset: str = "medium") -> VideoFlows:
    """``video`` itself if it already carries its flows, else a fresh cache for its frames."""
    return video if isinstance(video, VideoFlows) else VideoFlows(video, preset)

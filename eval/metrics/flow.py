"""Optical flow (OpenCV DIS), backward warping and the forward-backward occlusion mask.

DIS needs no learned weights, so it runs offline. It estimates flow on 8-bit grayscale; the warped
frames and the errors stay in float.
"""

from __future__ import annotations

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _gray_u8(frame: np.ndarray) -> np.ndarray:
    u8 = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)


def dis_flow(src: np.ndarray, dst: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Flow [H, W, 2] (x, y) with ``src(p) ≈ dst(p + flow(p))``, from float RGB frames in [0, 1]."""
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; allowed: {', '.join(PRESETS)}")
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

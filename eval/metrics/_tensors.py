"""Frames as numpy floats in [0, 1] (channels last) to the NCHW float tensors torchmetrics and LPIPS expect."""

from __future__ import annotations

import numpy as np
import torch


def as_nchw(frames: np.ndarray) -> torch.Tensor:
    """[H, W, 3] or [N, H, W, 3] floats in [0, 1] → float32 tensor [N, 3, H, W]."""
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected frames [H, W, 3] or [N, H, W, 3], got shape {list(arr.shape)}")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)


def check_video(frames: np.ndarray, min_frames: int = 1) -> np.ndarray:
    """The video as float32 [F, H, W, 3], refusing other shapes and too few frames."""
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected a video [F, H, W, 3], got shape {list(arr.shape)}")
    if arr.shape[0] < min_frames:
        raise ValueError(f"this metric needs at least {min_frames} frames, got {arr.shape[0]}")
    return arr

"""Parity: how far our latents and frames are from the original LongCat-Video's for the same inputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def abs_diff(ours: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray) -> dict[str, float]:
    """``max_abs`` and ``mean_abs`` of ``ours - reference`` (float64); shapes must match exactly."""
    a = torch.as_tensor(np.asarray(ours) if isinstance(ours, np.ndarray) else ours).detach().cpu().double()
    b = torch.as_tensor(np.asarray(reference) if isinstance(reference, np.ndarray) else reference)
    b = b.detach().cpu().double()
    if a.shape != b.shape:
        raise ValueError(f"parity: shapes differ, ours {list(a.shape)} vs reference {list(b.shape)}")
    diff = (a - b).abs()
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}


def per_step_diffs(ours: Sequence[torch.Tensor], reference: Sequence[torch.Tensor]) -> list[dict[str, float]]:
    """``abs_diff`` of the latents after each denoising step; the two runs must have the same step count."""
    if len(ours) != len(reference):
        raise ValueError(f"parity: {len(ours)} steps recorded here, {len(reference)} in the reference")
    return [{"step": i, **abs_diff(a, b)} for i, (a, b) in enumerate(zip(ours, reference, strict=True))]

"""Live previews while denoising: the model's current estimate of the clean video, mapped from the 16 latent
channels to RGB by one fixed linear map, a few frames side by side, at the latents' own (1/8) resolution.

The map is the published Wan 2.1 latent→RGB fit that ComfyUI uses for its fast previews (comfy/latent_formats.py,
class ``Wan21``: ``latent_rgb_factors`` and ``latent_rgb_factors_bias``), applied as ComfyUI applies it: to the
normalized latents the model works in (LongCat-Video uses the Wan 2.1 VAE and its normalization), giving values
in about [-1, 1]. It costs one 16×3 matrix product per latent pixel, so a preview never slows a run; the VAE
decode it stands in for costs seconds.

The estimate: the denoise loop is a flow-matching Euler loop, ``x_k = x_{k-1} + (σ_k − σ_{k-1})·d``, where the
model's prediction at step k is ``x̂0 = x_{k-1} − σ_{k-1}·d``; so two consecutive latents and the scheduler's
sigmas give ``x̂0 = x_k − σ_k·(x_k − x_{k-1})/(σ_k − σ_{k-1})`` without touching the loop. The map is affine
and the two weights sum to 1, so the estimate can be formed on the small RGB projections instead of the latents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from longcat_i2v.progress import Progress

# Wan 2.1 latent channel c → (R, G, B) weights, and the bias; ComfyUI's comfy/latent_formats.py, class Wan21.
WAN21_LATENT_RGB_FACTORS = (
    (-0.1299, -0.1692, 0.2932),
    (0.0671, 0.0406, 0.0442),
    (0.3568, 0.2548, 0.1747),
    (0.0372, 0.2344, 0.1420),
    (0.0313, 0.0189, -0.0328),
    (0.0296, -0.0956, -0.0665),
    (-0.3477, -0.4059, -0.2925),
    (0.0166, 0.1902, 0.1975),
    (-0.0412, 0.0267, -0.1364),
    (-0.1293, 0.0740, 0.1636),
    (0.0680, 0.3019, 0.1128),
    (0.0032, 0.0581, 0.0639),
    (-0.1251, 0.0927, 0.1699),
    (0.0060, -0.0633, 0.0005),
    (0.3477, 0.2275, 0.2950),
    (0.1984, 0.0913, 0.1861),
)
WAN21_LATENT_RGB_BIAS = (-0.1835, -0.0868, -0.3360)
TILE_GAP = 2  # pixels between the frames of a preview


def latent_rgb(latents: torch.Tensor, frames: Sequence[int]) -> torch.Tensor:
    """[1, 16, T, h, w] normalized latents → float32 RGB [len(frames), h, w, 3], about [-1, 1], on their device."""
    picked = latents[0, :, list(frames)].float()  # [16, F, h, w]
    factors = torch.tensor(WAN21_LATENT_RGB_FACTORS, dtype=torch.float32, device=picked.device)
    bias = torch.tensor(WAN21_LATENT_RGB_BIAS, dtype=torch.float32, device=picked.device)
    return torch.einsum("cfhw,cr->fhwr", picked, factors) + bias


def clean_estimate(before: torch.Tensor, after: torch.Tensor, sigma_before: float, sigma_after: float) -> torch.Tensor:
    """The model's clean-video prediction behind one Euler step from ``before`` (at σ_before) to ``after``."""
    slope = (after - before) / (sigma_after - sigma_before)
    return after - sigma_after * slope


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """[-1, 1] floats → uint8 on the CPU, as ComfyUI maps its previews."""
    return ((rgb + 1) / 2).clamp(0, 1).mul(255).to(torch.uint8).cpu().numpy()


def tile(frames: np.ndarray, columns: int) -> np.ndarray:
    """uint8 [N, h, w, 3] → one image, ``columns`` frames a row, separated by white gaps."""
    count, height, width, _ = frames.shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    sheet = np.full(
        (rows * height + (rows - 1) * TILE_GAP, columns * width + (columns - 1) * TILE_GAP, 3), 255, np.uint8
    )
    for i, frame in enumerate(frames):
        top, left = (i // columns) * (height + TILE_GAP), (i % columns) * (width + TILE_GAP)
        sheet[top : top + height, left : left + width] = frame
    return sheet


def spread(count: int, most: int) -> list[int]:
    """At most ``most`` indices of ``range(count)``, evenly spread, first and last included."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


class LivePreview:
    """Turns the denoising reports of one generation into preview images, at most one per ``interval_s`` (and
    always one after the last step). ``sigmas()`` gives the scheduler's sigmas (σ before each step, then 0);
    without them, or on the first step, the preview shows the current latents themselves."""

    def __init__(
        self,
        sigmas: Callable[[], Sequence[float] | torch.Tensor | None],
        max_frames: int = 8,
        columns: int = 4,
        interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sigmas, self.max_frames, self.columns, self.interval_s = sigmas, max_frames, columns, interval_s
        self.clock = clock
        self._previous: tuple[int, torch.Tensor] | None = None  # (step, RGB projection) of the last report
        self._shown_at: float | None = None

    def update(self, report: Progress) -> np.ndarray | None:
        """The preview image for this report, or None when the last one was shown less than ``interval_s`` ago."""
        if report.phase != "denoising" or report.latents is None:
            return None
        rgb = latent_rgb(report.latents, spread(report.latents.shape[2], self.max_frames))
        previous, self._previous = self._previous, (report.step, rgb)
        now = self.clock()
        last = report.step >= report.total
        if not last and self._shown_at is not None and now - self._shown_at < self.interval_s:
            return None
        self._shown_at = now
        sigma = self._sigma_pair(report)
        if previous is not None and previous[0] == report.step - 1 and sigma is not None:
            rgb = clean_estimate(previous[1], rgb, *sigma)
        return tile(to_uint8(rgb), self.columns)

    def _sigma_pair(self, report: Progress) -> tuple[float, float] | None:
        sigmas = self.sigmas()
        if sigmas is None or len(sigmas) != report.total + 1 or report.step < 1:
            return None
        before, after = float(sigmas[report.step - 1]), float(sigmas[report.step])
        return (before, after) if before != after else None

"""What a generation reports while it runs: which phase, how far, and the current latents while denoising
(for live previews). Raising ``GenerationCancelled`` from the progress function stops the generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

PHASES = ("encoding", "denoising", "decoding", "refining")


@dataclass(frozen=True)
class Progress:
    """One report: ``step`` of ``total`` done in ``phase`` (of segment ``segment`` of ``segments``)."""

    phase: str
    step: int
    total: int
    segment: int = 0
    segments: int = 1
    latents: torch.Tensor | None = None  # while denoising: the latents after this step (read-only)


ProgressFn = Callable[[Progress], None]

"""Live parity: the original pipeline and ours on the same image, prompt, settings, weights and seed."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics.parity import abs_diff, per_step_diffs
from .original import OriginalPipeline

LATENTS_ATOL = 1e-3  # the parity README's suggestion for float32 CPU runs (observed noise ~1e-5)
VIDEO_ATOL = 1e-3


def compare_live(
    name: str,
    ours_steps: list[torch.Tensor],
    ours_frames: np.ndarray,
    original_steps: list[torch.Tensor],
    original_frames: np.ndarray,
) -> dict:
    """Per-step latent and frame differences of our run against the original's."""
    steps = per_step_diffs(ours_steps, original_steps)
    final = abs_diff(ours_steps[-1], original_steps[-1])
    video = abs_diff(ours_frames, original_frames)
    within = all(s["max_abs"] <= LATENTS_ATOL for s in steps) and video["max_abs"] <= VIDEO_ATOL
    return {
        "mode": "live",
        "case": name,
        "steps": steps,
        "final_latents": final,
        "video": video,
        "within_tolerance": within,
    }


def run_original(original: OriginalPipeline, image: str, prompt: str, request: dict, seed: int):
    """The original's per-step latents and frames for the same request we sent to ``generate_video``."""
    return original.generate(
        image,
        prompt,
        request["negative_prompt"],
        request["num_frames"],
        request["num_inference_steps"],
        request["guidance_scale"],
        request["distill"],
        seed,
        height=request["height"],
        width=request["width"],
        resolution=request["resolution"],
        max_sequence_length=request["max_sequence_length"],
    )

"""Flow-matching sigma schedules (standard and distill) and per-frame timesteps with the
conditioning frames masked to t = 0. The shift itself is applied by diffusers'
FlowMatchEulerDiscreteScheduler from the checkpoint's scheduler config, as in the original."""

from __future__ import annotations

import numpy as np
import torch

from .defaults import DISTILL_GRID
from .errors import InvalidInputError

NUM_TRAIN_TIMESTEPS = 1000
HF_TAIL_START = 500  # enhance_hf: uniform steps below this timestep ...
HF_TAIL_STEPS = 10  # ... this many of them


def input_sigmas(steps: int, distill: bool = False) -> torch.Tensor:
    """Unshifted sigmas: linspace(1, 0.001, steps); with distill, ``steps`` picks from the 50-point
    training grid (1.0, 0.98, ..., 0.02) at floor(linspace(0, 50, steps)) (16 steps → 1.0, .94, ..., .08)."""
    if not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"num_inference_steps must be an integer >= 1, got {steps!r}")
    if not distill:
        return torch.linspace(1, 0.001, steps, dtype=torch.float32)
    if steps > DISTILL_GRID:
        raise InvalidInputError(f"distill sampling supports at most {DISTILL_GRID} steps, got {steps}")
    grid = (torch.arange(1, DISTILL_GRID + 1, dtype=torch.float32) * (NUM_TRAIN_TIMESTEPS // DISTILL_GRID)).round()
    picks = np.floor(np.linspace(0, DISTILL_GRID, num=steps, endpoint=False)).astype(np.int64)
    return (torch.flip(grid.long(), [0])[picks].float() / NUM_TRAIN_TIMESTEPS).to(torch.float32)


def set_schedule(
    scheduler, steps: int, distill: bool, device: torch.device | str = "cpu", enhance_hf: bool = False
) -> torch.Tensor:
    """Configure the scheduler (shift from its config, terminal 0 appended) and return its timesteps;
    ``enhance_hf``: then the continuation's high-frequency tail (``enhance_hf_tail``)."""
    scheduler.set_timesteps(steps, sigmas=input_sigmas(steps, distill).tolist(), device=device)
    return enhance_hf_tail(scheduler) if enhance_hf else scheduler.timesteps


def enhance_hf_tail(scheduler) -> torch.Tensor:
    """The original ``generate_vc``'s enhance_hf rewrite of a set schedule: the shifted timesteps above 500,
    then ten unshifted uniform ones 500, 450, ..., 50 (float32), sigmas = timesteps / 1000 and a final 0; so
    ``steps`` become #(shifted t > 500) + 10 DiT calls (50 → 56), the last from σ 0.05 to 0."""
    kept = scheduler.timesteps[scheduler.timesteps > HF_TAIL_START]
    tail = np.linspace(HF_TAIL_START, 0, HF_TAIL_STEPS, endpoint=False, dtype=np.float32)
    timesteps = torch.cat([kept, torch.from_numpy(tail).to(kept.device)])
    scheduler.timesteps = timesteps
    scheduler.sigmas = torch.cat([timesteps / NUM_TRAIN_TIMESTEPS, torch.zeros(1, device=timesteps.device)])
    return timesteps


def frame_timesteps(t: torch.Tensor, batch: int, num_latent_frames: int, num_cond_latents: int = 1) -> torch.Tensor:
    """[batch, T] timesteps: t for the frames being denoised, 0 for the clean conditioning frames."""
    timestep = t.reshape(1, 1).expand(batch, num_latent_frames).clone()
    timestep[:, :num_cond_latents] = 0
    return timestep


def truncate_schedule(scheduler, timesteps: torch.Tensor, t_thresh: float) -> torch.Tensor:
    """The refinement's schedule: start at t = 1000·t_thresh, then the configured timesteps below it, with
    sigmas t/1000 and a terminal 0 (the original's ``generate_refine``; with shift 12, 50 steps and t_thresh
    0.5 leave 5 steps). The scheduler is told the new timesteps and sigmas, so ``step`` walks them."""
    start = torch.tensor(t_thresh * NUM_TRAIN_TIMESTEPS, dtype=timesteps.dtype, device=timesteps.device)
    timesteps = torch.cat([start[None], timesteps[timesteps < start]])
    scheduler.timesteps = timesteps
    scheduler.sigmas = torch.cat([timesteps / NUM_TRAIN_TIMESTEPS, torch.zeros(1, device=timesteps.device)])
    return timesteps

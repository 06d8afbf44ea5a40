"""The denoising loop as small pure functions: CFG-zero guidance and the selective Euler step.

Only the frames after the conditioning ones are stepped; the conditioning latent stays exactly the
image latent throughout. The model decides what it runs (all frames, or the noisy ones on a K/V cache, see
cache.py) and returns the velocity over the frames CFG-zero's scale covers, the noisy frames last.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .finite import check_finite_output
from .schedule import frame_timesteps

StepCallback = Callable[[int, int, torch.Tensor], None]
# model(latent_input [B', C, T, h, w], timestep [B', T]) -> velocity [B', C, T', h, w], T' <= T: the last
# T − num_cond frames are the noisy frames' (T' = T: every frame's, as the original's uncached forward)
ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cfg_zero(uncond: torch.Tensor, cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """CFG-zero*: rescale the unconditional prediction by st* = <cond, uncond> / (|uncond|² + 1e-8)
    (per sample, over all frames) before the usual guidance extrapolation."""
    b = cond.shape[0]
    pos, neg = cond.reshape(b, -1), uncond.reshape(b, -1)
    st = (pos * neg).sum(1, keepdim=True) / ((neg**2).sum(1, keepdim=True) + 1e-8)
    st = st.view(b, *([1] * (cond.dim() - 1)))
    return uncond * st + guidance * (cond - uncond * st)


def guided_velocity(
    model: ModelFn, latents: torch.Tensor, t: torch.Tensor, guidance: float, num_cond: int
) -> torch.Tensor:
    """One model evaluation: batched [uncond, cond] with CFG-zero when guidance > 1, else cond only."""
    use_cfg = guidance > 1.0
    model_input = torch.cat([latents, latents]) if use_cfg else latents
    timestep = frame_timesteps(t, model_input.shape[0], model_input.shape[2], num_cond)
    pred = model(model_input, timestep)
    if use_cfg:
        uncond, cond = pred.chunk(2)
        pred = cfg_zero(uncond, cond, guidance)
    return pred


def denoise(
    model: ModelFn,
    latents: torch.Tensor,
    scheduler,
    timesteps: torch.Tensor,
    guidance: float,
    num_cond: int = 1,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Run the flow-matching Euler loop; ``callback(step, total, latents)`` after every step."""
    latents = latents.clone()
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        pred = guided_velocity(model, latents, t, guidance, num_cond)
        if i == 0:  # broken weights or an overflowing dtype show at once, not as a video of NaNs at the end
            check_finite_output(pred, "DiT", step=0)
        # The original negates the velocity for the scheduler: x ← x + (σ_next − σ)·(−v).
        noisy = pred[:, :, pred.shape[2] - (latents.shape[2] - num_cond) :]
        stepped = scheduler.step(-noisy, t, latents[:, :, num_cond:], return_dict=False)[0]
        latents[:, :, num_cond:] = stepped
        if callback is not None:
            callback(i, total, latents)
    return latents

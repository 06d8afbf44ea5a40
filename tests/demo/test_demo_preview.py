"""The live preview: the latent → RGB map, the clean estimate, tiling, the rate limit."""

from __future__ import annotations

import numpy as np
import torch

from demo.preview import (
    WAN21_LATENT_RGB_BIAS,
    WAN21_LATENT_RGB_FACTORS,
    LivePreview,
    clean_estimate,
    latent_rgb,
    spread,
    tile,
    to_uint8,
)
from longcat_i2v import LongCatI2V
from longcat_i2v.denoise import denoise
from longcat_i2v.progress import Progress
from longcat_i2v.schedule import set_schedule


def test_each_latent_channel_maps_to_its_published_colour() -> None:
    latents = torch.zeros(1, 16, 2, 3, 4)
    latents[0, 6, 1] = 1.0  # channel 6, second frame only
    rgb = latent_rgb(latents, [0, 1])
    assert rgb.shape == (2, 3, 4, 3)
    assert torch.allclose(rgb[0], torch.tensor(WAN21_LATENT_RGB_BIAS).expand(3, 4, 3))
    expected = torch.tensor(WAN21_LATENT_RGB_FACTORS[6]) + torch.tensor(WAN21_LATENT_RGB_BIAS)
    assert torch.allclose(rgb[1], expected.expand(3, 4, 3))
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 3.0])).tolist() == [0, 127, 255, 255]


def test_clean_estimate_recovers_the_clean_signal_of_a_flow() -> None:
    clean, noise = torch.randn(5), torch.randn(5)
    at = {sigma: (1 - sigma) * clean + sigma * noise for sigma in (0.8, 0.55)}  # x_σ = (1 − σ)·x0 + σ·ε
    assert torch.allclose(clean_estimate(at[0.8], at[0.55], 0.8, 0.55), clean, atol=1e-5)


def test_clean_estimate_matches_the_core_loop_step(tiny_pipe: LongCatI2V) -> None:
    """With the real scheduler and a model of known velocity v, the loop's x̂0 at step k is x_{k-1} + σ_{k-1}·v
    (the original negates v for the scheduler); the preview's estimate from two consecutive latents equals it."""
    scheduler = tiny_pipe.components.scheduler
    timesteps = set_schedule(scheduler, 4, False)
    velocity = torch.randn(1, 16, 3, 2, 2)
    seen = []
    denoise(lambda x, t: velocity, torch.randn(1, 16, 3, 2, 2), scheduler, timesteps, 1.0, 1,
            lambda step, total, latents: seen.append(latents.clone()))  # fmt: skip
    sigmas = scheduler.sigmas
    for k in range(1, 4):
        estimate = clean_estimate(seen[k - 1], seen[k], float(sigmas[k]), float(sigmas[k + 1]))
        predicted = seen[k - 1] + float(sigmas[k]) * velocity
        assert torch.allclose(estimate[:, :, 1:], predicted[:, :, 1:], atol=1e-4)


def test_spread_and_tile() -> None:
    assert spread(3, 8) == [0, 1, 2]
    assert spread(24, 4) == [0, 8, 15, 23]
    frames = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    sheet = tile(frames, 2)
    assert sheet.shape == (2 * 2 + 2, 2 * 3 + 2, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 5, 0] == 20 and sheet[4, 0, 0] == 30
    assert sheet[0, 3, 0] == 255 and sheet[4, 5, 0] == 255  # the gap, and the empty cell


def report(step: int, total: int, latents: torch.Tensor) -> Progress:
    return Progress("denoising", step, total, latents=latents)


def test_previews_are_rate_limited_but_the_last_step_always_shows() -> None:
    now = [0.0]
    preview = LivePreview(lambda: None, interval_s=1.0, clock=lambda: now[0])
    shown = []
    for step, time in ((1, 0.0), (2, 0.4), (3, 1.1), (4, 1.3), (5, 1.5)):
        now[0] = time
        shown.append(preview.update(report(step, 5, torch.randn(1, 16, 2, 3, 4))) is not None)
    assert shown == [True, False, True, False, True]
    assert preview.update(Progress("decoding", 0, 1)) is None


def test_the_preview_shows_the_estimate_once_two_steps_are_known() -> None:
    clean, noise = torch.randn(1, 16, 1, 2, 2), torch.randn(1, 16, 1, 2, 2)
    sigmas = [1.0, 0.9, 0.7, 0.0]
    preview = LivePreview(lambda: sigmas, interval_s=0.0)
    first = preview.update(report(1, 3, 0.1 * clean + 0.9 * noise))
    second = preview.update(report(2, 3, 0.3 * clean + 0.7 * noise))
    assert np.abs(first.astype(int) - to_uint8(latent_rgb(0.1 * clean + 0.9 * noise, [0]))[0]).max() == 0
    assert np.abs(second.astype(int) - to_uint8(latent_rgb(clean, [0]))[0]).max() <= 1

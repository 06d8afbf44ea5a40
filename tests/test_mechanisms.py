"""The four I2V mechanisms, each tested so that removing it fails the test."""

import torch

from longcat_i2v import conditioning
from longcat_i2v.denoise import cfg_zero, denoise, guided_velocity
from longcat_i2v.schedule import frame_timesteps, set_schedule


def test_vae_normalization_uses_config_mean_and_std(tiny_pipe):
    vae = tiny_pipe.components.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    z = torch.randn(1, 16, 2, 3, 4, generator=torch.Generator().manual_seed(0))
    normalized = conditioning.normalize(z, vae)
    torch.testing.assert_close(normalized, (z - mean) / std)
    torch.testing.assert_close(conditioning.denormalize(normalized, vae), z)


def test_condition_latent_is_normalized_posterior_sample(tiny_pipe):
    """Noise is drawn first, then ε for mean + std·ε; the result is normalized and placed in frame 0."""
    vae = tiny_pipe.components.vae
    pixels = torch.rand(1, 3, 1, 32, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    latents = tiny_pipe.prepare_latents(pixels, 9, torch.Generator().manual_seed(7))

    gen = torch.Generator().manual_seed(7)
    noise = torch.randn(1, 16, 3, 4, 6, generator=gen)
    dist = vae.encode(pixels).latent_dist
    eps = torch.randn(dist.mean.shape, generator=gen)
    expected_cond = conditioning.normalize(dist.mean + dist.std * eps, vae)

    torch.testing.assert_close(latents[:, :, :1], expected_cond)
    torch.testing.assert_close(latents[:, :, 1:], noise[:, :, 1:])
    assert not torch.allclose(latents[:, :, :1], noise[:, :, :1])
    assert not torch.allclose(expected_cond, conditioning.normalize(dist.mean, vae))  # a sample, not the mode


def test_conditioning_frame_timestep_is_zero():
    t = torch.tensor(875.0)
    ts = frame_timesteps(t, batch=2, num_latent_frames=4)
    assert ts.shape == (2, 4)
    assert torch.all(ts[:, 0] == 0)
    assert torch.all(ts[:, 1:] == 875.0)


class RecordingModel:
    """A stand-in velocity model that records what it is called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Size, torch.Tensor]] = []
        self.gen = torch.Generator().manual_seed(3)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.shape, t.clone()))
        return torch.randn(x.shape, generator=self.gen)


def test_denoise_steps_only_noisy_frames_and_masks_cond_timestep(tiny_pipe):
    scheduler = tiny_pipe.components.scheduler
    timesteps = set_schedule(scheduler, 4, distill=False)
    start = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    model = RecordingModel()
    out = denoise(model, start, scheduler, timesteps, guidance=1.0)
    assert torch.equal(out[:, :, :1], start[:, :, :1])
    assert (out[:, :, 1:] - start[:, :, 1:]).abs().min() > 0
    assert len(model.calls) == 4
    for (shape, t), expected in zip(model.calls, timesteps, strict=True):
        assert shape[0] == 1  # guidance 1: no CFG batch
        assert torch.all(t[:, 0] == 0) and torch.all(t[:, 1:] == expected)


def test_cfg_batches_uncond_then_cond_and_applies_cfg_zero():
    seen = []

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(x.shape[0])
        out = torch.ones_like(x)
        out[1:] *= 3.0  # cond half
        return out

    pred = guided_velocity(model, torch.zeros(1, 2, 2, 2, 2), torch.tensor(500.0), guidance=4.0, num_cond=1)
    assert seen == [2]
    # uncond = 1, cond = 3: st* = 3/1 = 3, pred = 1·3 + 4·(3 − 3) = 3
    torch.testing.assert_close(pred, torch.full_like(pred, 3.0))


def test_cfg_zero_matches_formula():
    gen = torch.Generator().manual_seed(4)
    uncond, cond = torch.randn(2, 1, 16, 3, 4, 4, generator=gen)
    st = (cond * uncond).sum() / ((uncond**2).sum() + 1e-8)
    expected = uncond * st + 5.0 * (cond - uncond * st)
    torch.testing.assert_close(cfg_zero(uncond, cond, 5.0), expected)


def test_posterior_noise_is_drawn_in_the_vae_dtype(tiny_pipe):
    """In bfloat16 the original samples ε with diffusers' DiagonalGaussianDistribution.sample, i.e. drawn in
    the VAE's dtype; drawing in float32 and casting gives different values."""
    import copy

    vae = copy.deepcopy(tiny_pipe.components.vae).to(torch.bfloat16)
    pixels = torch.rand(1, 3, 1, 32, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ours = conditioning.encode_condition(vae, pixels, torch.Generator().manual_seed(9))
    with torch.no_grad():
        sample = vae.encode(pixels.to(torch.bfloat16)).latent_dist.sample(torch.Generator().manual_seed(9))
    torch.testing.assert_close(ours, conditioning.normalize(sample.float(), vae), atol=0, rtol=0)

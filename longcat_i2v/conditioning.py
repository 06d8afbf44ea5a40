"""From the input image to the first latent frame: size, resize, VAE encode, normalize, place.

Order of random draws (the original's): the full noise tensor first, then the VAE posterior sample
of the image, both from one generator.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import defaults
from .buckets import BUCKETS, closest_bucket
from .errors import InvalidInputError

SIZE_MULTIPLE = defaults.SIZE_MULTIPLE


def bucket_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """(height, width) of the bucket whose ratio key is closest to height/width; first key wins ties."""
    if resolution not in BUCKETS:
        raise InvalidInputError(f"unknown resolution {resolution!r}; allowed: {', '.join(defaults.RESOLUTIONS)}")
    return closest_bucket(BUCKETS[resolution], width, height)


def resolve_size(image: Image.Image, resolution: str, height: int | None, width: int | None) -> tuple[int, int]:
    """The explicit (height, width), already checked by the settings, or the resolution's bucket for the image."""
    if height is None or width is None:
        return bucket_size(image.width, image.height, resolution)
    return height, width


def image_to_pixels(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """LANCZOS stretch to (width, height), then [0,255] → [-1,1]; returns [1, 3, 1, H, W] float32."""
    arr = np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    return torch.from_numpy(arr * 2.0 - 1.0).permute(2, 0, 1)[None, :, None]


def pixels_to_image(pixels: torch.Tensor) -> np.ndarray:
    """[1, 3, 1, H, W] in [-1, 1] → float32 [H, W, 3] in [0, 1]: the conditioning image as the model sees it."""
    return ((pixels[0, :, 0].permute(1, 2, 0) + 1) / 2).float().cpu().numpy()


def latent_stats(vae) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel latents_mean and latents_std from the VAE config, shaped [1, C, 1, 1, 1]."""
    cfg = vae.config
    mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, cfg.z_dim, 1, 1, 1)
    std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, cfg.z_dim, 1, 1, 1)
    return mean, std


def normalize(z: torch.Tensor, vae) -> torch.Tensor:
    """(z − mean) · (1/std), written as the original writes it (multiply by the reciprocal)."""
    mean, std = latent_stats(vae)
    return (z - mean.to(z)) * (1.0 / std.to(z))


def denormalize(latents: torch.Tensor, vae) -> torch.Tensor:
    """Inverse of ``normalize``: z / (1/std) + mean, in the dtype of ``latents`` (the original casts the
    latents to the VAE dtype first, so in bfloat16 the reciprocal is taken in bfloat16 too)."""
    mean, std = latent_stats(vae)
    return latents / (1.0 / std.to(latents)) + mean.to(latents)


def randn(
    shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Standard normal draw on the generator's device, moved to ``device`` (a CPU generator reproduces
    CPU references whatever device runs the model)."""
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


@torch.no_grad()
def encode_condition(
    vae, pixels: torch.Tensor, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """VAE posterior sample of the image or clip (mean + std·ε, not the mode), normalized in ``dtype``:
    [1, 16, n, h, w]. ε is drawn in the VAE's dtype, as diffusers' ``DiagonalGaussianDistribution.sample``
    draws it."""
    device = next(vae.parameters()).device
    dist = vae.encode(pixels.to(device, vae.dtype)).latent_dist
    eps = randn(tuple(dist.mean.shape), generator, device, dist.mean.dtype)
    return normalize((dist.mean + dist.std * eps).to(dtype), vae)


def latent_shape(num_frames: int, height: int, width: int, channels: int = 16) -> tuple[int, int, int, int, int]:
    """[1, C, (F−1)/4 + 1, H/8, W/8] for 4k+1 frames."""
    return (1, channels, (num_frames - 1) // 4 + 1, height // 8, width // 8)


def prepare_latents(
    vae,
    pixels: torch.Tensor,
    num_frames: int,
    generator: torch.Generator,
    device: torch.device | str,
    channels: int = 16,
    latents: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The first DiT input as the original computes it: the noise drawn first, then the conditioning frames' VAE
    posterior sample (normalized) in front, both from ``generator``, in ``dtype`` (image-to-video float32;
    continuation the DiT's, as the original). Given ``latents`` replace the noise (nothing is drawn for them),
    as the original's ``latents=`` argument does."""
    _, _, _, height, width = pixels.shape
    shape = latent_shape(num_frames, height, width, channels)
    if latents is None:
        noise = randn(shape, generator, device, dtype)
    elif tuple(latents.shape) != shape:
        raise InvalidInputError(f"latents must have shape {list(shape)} for these settings, got {list(latents.shape)}")
    else:
        noise = latents.to(device, dtype)
    return place_condition(noise, encode_condition(vae, pixels, generator, dtype))


def place_condition(noise: torch.Tensor, cond_latent: torch.Tensor) -> torch.Tensor:
    """The first DiT input: the noise with its leading latent frame(s) replaced by the image latent."""
    latents = noise.clone()
    latents[:, :, : cond_latent.shape[2]] = cond_latent.to(latents)
    return latents

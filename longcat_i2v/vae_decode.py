"""VAE decoding a few latent frames at a time, each chunk's frames to the CPU as it is done.

diffusers' ``AutoencoderKLWan`` already decodes one latent frame per decoder call, carrying a causal feature
cache from call to call, but ``decode`` keeps every decoded frame on the device until the end and returns the
whole video there (93 frames at 720p: 1 GB in bf16, 2 GB more in float32). ``decode_frames`` makes the same
decoder calls on the same cache (``clear_cache``, ``_feat_map``, ``_conv_idx``: diffusers 0.35.1's, which the
package pins) and moves each chunk out, so the frames are identical to ``vae.decode``'s while the device holds
one chunk; between chunks the caller hears how far it got, and may cancel there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

CHUNK_LATENTS = 4  # latent frames per chunk: 16 video frames (13 in the first)

Report = Callable[[int, int], None]  # report(chunks done, chunks in all)


@torch.no_grad()
def decode_frames(vae, z: torch.Tensor, report: Report | None = None, chunk: int = CHUNK_LATENTS) -> np.ndarray:
    """Denormalized latents z [1, C, T, h, w] → float32 frames [F, H, W, 3] in [0, 1] on the CPU, as
    ``(vae.decode(z).clamp(-1, 1) / 2 + 0.5).clamp(0, 1)`` computes them."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    if z.shape[0] != 1:
        raise ValueError(f"decode_frames decodes one video, got a batch of {z.shape[0]}")
    latent_frames = z.shape[2]
    total = -(-latent_frames // chunk)
    chunks: list[np.ndarray] = []
    vae.clear_cache()
    try:
        x = vae.post_quant_conv(z)
        for k in range(total):
            parts = []
            for i in range(k * chunk, min((k + 1) * chunk, latent_frames)):
                vae._conv_idx = [0]
                parts.append(vae.decoder(x[:, :, i : i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                         first_chunk=i == 0))  # fmt: skip
            out = torch.cat(parts, 2)
            if vae.config.patch_size is not None:
                out = unpatchify(out, patch_size=vae.config.patch_size)
            chunks.append((out.clamp(-1.0, 1.0).float() / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 3, 0).cpu().numpy())
            if report is not None:
                report(k + 1, total)
    finally:
        vae.clear_cache()  # the feature cache holds a chunk's worth of activations
    return np.concatenate(chunks)

"""The conditioning K/V cache: the keys and values of the conditioning frames' tokens, per DiT block, computed
once and reused at every denoising step.

The conditioning frames are clean (t = 0), get no cross-attention and attend only to themselves, so in every
step, and in both CFG halves, their keys, values and velocity are the same. One DiT pass over them alone
(``LongCatDiT.cache_conditioning``) records each block's k and v after the q/k RMSNorm and before RoPE, as the
original's ``_cache_clean_latents`` does; each step then runs the DiT on the noisy latents only, their
self-attention seeing [cached k, v; their own] with RoPE applied over the whole grid. Under sequence parallel
each rank caches the tokens of its own tile, so the cache is sharded as the tokens are.

The step's model (``cached_model``) returns the velocity over the frames CFG-zero's scale must cover:
continuation, as the original's cached path, the noisy frames only; image-to-video the cached conditioning
velocity in front, so that the scale covers every frame exactly as the original's uncached I2V does.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from .denoise import ModelFn
from .parallel import SequenceParallel


class ConditioningPass(Protocol):
    """What the cache needs of the DiT (LongCatDiT.cache_conditioning); a protocol, as dit.py imports this module."""

    def cache_conditioning(
        self, cond_latents: torch.Tensor, cache: KVCache, cond_rope: str = ..., attention: Any = ..., sp: Any = ...
    ) -> torch.Tensor: ...


class KVCache:
    """Per block, the pre-RoPE (k, v) [1, heads, N_cond (this rank's), head_dim] of the conditioning tokens, and
    their velocity [1, C, num_latents, h, w]. With ``offload`` the tensors live in CPU memory and each block's
    pair comes to ``device`` when that block runs."""

    def __init__(self, num_latents: int, device: torch.device | str, offload: bool = False) -> None:
        self.num_latents = num_latents
        self.device = torch.device(device)
        self.offload = offload
        self.blocks: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.velocity: torch.Tensor | None = None

    def store(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Keep one block's pair (called by the conditioning pass, block after block)."""
        self.blocks.append((self._keep(k), self._keep(v)))

    def _keep(self, x: torch.Tensor) -> torch.Tensor:
        if not self.offload:
            return x.clone(memory_format=torch.contiguous_format)
        pinned = self.device.type == "cuda"  # pinned host memory: a fast copy that does not block the host
        return x.to("cpu", copy=True).pin_memory() if pinned else x.to("cpu", copy=True)

    def block(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Block ``index``'s (k, v) on the device."""
        k, v = self.blocks[index]
        return k.to(self.device, non_blocking=True), v.to(self.device, non_blocking=True)

    @property
    def nbytes(self) -> int:
        """Bytes the cached keys and values take, wherever they are."""
        return sum(k.nbytes + v.nbytes for k, v in self.blocks)

    @property
    def device_bytes(self) -> int:
        """Bytes of the cache held on the device between steps (0 when offloaded)."""
        return 0 if self.offload else self.nbytes


@torch.no_grad()
def build_cache(
    dit: ConditioningPass,
    cond_latents: torch.Tensor,
    cond_rope: str = "full",
    offload: bool = False,
    sp: SequenceParallel | None = None,
    **dit_kwargs,
) -> KVCache:
    """The cache of ``cond_latents`` [1, C, n, h, w] for ``dit`` (a LongCatDiT): one pass over them at t = 0
    without cross-attention (batch 1 whatever the CFG; under sequence parallel ``sp`` each rank fills its
    tile's part)."""
    cache = KVCache(cond_latents.shape[2], cond_latents.device, offload)
    cache.velocity = dit.cache_conditioning(cond_latents, cache, cond_rope=cond_rope, sp=sp, **dit_kwargs)
    return cache


def cached_model(model: ModelFn, cache: KVCache, with_cond_velocity: bool) -> ModelFn:
    """The loop's model on the cache: given the full latents and per-frame timesteps, ``model`` (the DiT told
    ``kv_cache=cache``) runs on the noisy frames only; ``with_cond_velocity`` puts the cached conditioning
    velocity (the same for both CFG halves) in front."""
    n = cache.num_latents

    def run(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        noisy = model(x[:, :, n:], t[:, n:])
        if not with_cond_velocity:
            return noisy
        assert cache.velocity is not None  # build_cache sets it
        cond = cache.velocity.to(noisy).expand(noisy.shape[0], -1, -1, -1, -1)
        return torch.cat([cond, noisy], dim=2)

    return run

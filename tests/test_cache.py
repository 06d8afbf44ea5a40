"""The conditioning K/V cache: the DiT on the noisy frames with the cached keys/values computes what the full
forward computes for them, the conditioning pass gives the conditioning frames' velocity, and image-to-video
with the cache equals image-to-video without it."""

import pytest
import torch

from longcat_i2v.cache import KVCache, build_cache, cached_model
from tests.conftest import load_case
from tests.parity.test_i2v import run_case


def _inputs(dit, frames=3, cond=2, batch=2):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(batch, 16, frames, 8, 12, generator=g)
    x[1:, :, :cond] = x[:1, :, :cond]  # both CFG halves hold the same conditioning latents
    t = torch.tensor([[0.0] * cond + [700.0] * (frames - cond), [0.0] * cond + [300.0] * (frames - cond)])[:batch]
    text = torch.randn(batch, 1, 12, dit.config.caption_channels, generator=g)
    mask = torch.ones(batch, 12, dtype=torch.int64)
    mask[1:, 7:] = 0
    return x, t, text, mask


@pytest.mark.parametrize("cond_rope", ["full", "skip"])
def test_cached_forward_equals_the_full_forward(parity_pipe, cond_rope):
    """Both CFG halves share the cache (batch 1); the noisy frames' output and the conditioning frames'
    velocity match the uncached forward to float noise."""
    dit = parity_pipe.dit
    x, t, text, mask = _inputs(dit)
    full = dit(x, t, text, mask, num_cond_latents=2, cond_rope=cond_rope)
    cache = build_cache(dit, x[:1, :, :2], cond_rope)
    noisy = dit(x[:, :, 2:], t[:, 2:], text, mask, num_cond_latents=2, cond_rope=cond_rope, kv_cache=cache)
    torch.testing.assert_close(noisy, full[:, :, 2:], atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(cache.velocity.expand(2, -1, -1, -1, -1), full[:, :, :2], atol=2e-5, rtol=1e-5)
    assert len(cache.blocks) == len(dit.blocks)
    k, v = cache.blocks[0]
    assert k.shape == v.shape == (1, dit.config.num_heads, 2 * 4 * 6, dit.config.hidden_size // dit.config.num_heads)
    assert cache.nbytes == 2 * len(dit.blocks) * k.nbytes == cache.device_bytes


def test_cached_model_returns_the_frames_cfg_zero_covers(parity_pipe):
    dit = parity_pipe.dit
    x, t, text, mask = _inputs(dit)
    cache = build_cache(dit, x[:1, :, :2])
    model = parity_pipe.model(text, mask, num_cond_latents=2, kv_cache=cache)
    i2v, vc = cached_model(model, cache, True)(x, t), cached_model(model, cache, False)(x, t)
    assert i2v.shape == x.shape and vc.shape == (2, 16, 1, 8, 12)
    assert torch.equal(i2v[:, :, 2:], vc)
    assert torch.equal(i2v[0, :, :2], i2v[1, :, :2])  # the same conditioning velocity for both halves
    with pytest.raises(ValueError, match="num_cond_latents=1 disagrees with the cache's 2"):
        dit(x[:, :, 2:], t[:, 2:], text, mask, num_cond_latents=1, kv_cache=cache)


def test_offloaded_cache_lives_on_the_cpu_and_comes_back_per_block():
    cache = KVCache(1, "cpu", offload=True)
    k = torch.randn(1, 2, 3, 4)
    cache.store(k, k + 1)
    assert cache.device_bytes == 0 and cache.nbytes == 2 * k.nbytes
    got_k, got_v = cache.block(0)
    assert torch.equal(got_k, k) and torch.equal(got_v, k + 1)
    k.zero_()  # the cache holds its own copy
    assert not torch.equal(cache.block(0)[0], k)


def test_i2v_cache_on_equals_off(parity_pipe):
    """With CFG, where the cached conditioning velocity enters CFG-zero's scale. Measured: final latents differ by
    8.1e-6 (|latents| up to ~9; 9.5e-7 for i2v_small_distill), the float frames by 1.1e-6. The parity suite
    itself runs with the cache on (the default)."""
    meta, _ = load_case("i2v_small_cfg")
    calls = []
    fill = parity_pipe.dit.cache_conditioning
    parity_pipe.dit.cache_conditioning = lambda *a, **k: calls.append(1) or fill(*a, **k)
    try:
        runs = [run_case(parity_pipe, meta, explicit_size=True, use_kv_cache=on)[0] for on in (True, False)]
    finally:
        del parity_pipe.dit.cache_conditioning
    assert calls == [1]  # the cache was built once, for the cached run
    assert (runs[0].latents - runs[1].latents).abs().max() <= 5e-5
    assert abs(runs[0].frames - runs[1].frames).max() <= 1e-5
    assert runs[0].settings.use_kv_cache and not runs[1].settings.use_kv_cache

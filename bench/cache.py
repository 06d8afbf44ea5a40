"""Seconds per denoising step with and without the conditioning K/V cache, for image-to-video (1 conditioning
latent) and continuation (``--cond-frames`` 13 → 4 latents), and the cache's memory with and without offload.

    python bench/cache.py [--frames 93] [--cond-frames 13] [--height 128] [--width 224] [--hidden 256]
                          [--heads 2] [--depth 2] [--pairs 9] [--threads 1] [--device cpu] [--dtype float32]

A step is one model call of the loop on the CFG batch (2): uncached, the DiT over all latent frames with the
conditioning ones at t = 0; cached, the DiT over the noisy frames on the cache (plus, for I2V, the cached
conditioning velocity put in front). 93 frames are 24 latent frames, the real token layout along time; the
defaults shrink the picture (128x224: an 8x14 patch grid) and the DiT (head_dim 128 as the real model, few heads
and blocks) so that a CPU answers; on a GPU pass e.g. --height 480 --width 832 --hidden 4096 --heads 32. The
cache is built once before the steps (its one pass is printed too). Uncached and cached steps alternate in one
process after a warm-up of each; printed: the median s/step of each and the median of the per-pair ratios.
Memory: the cache's bytes (on the device, or 0 with offload, where it is in CPU memory), on CUDA also the peak
allocated during one cached step with and without offload, and the cache size of the real 13.6B DiT at 480p.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from longcat_i2v.cache import build_cache, cached_model
from longcat_i2v.dit import DiTConfig, LongCatDiT
from longcat_i2v.schedule import frame_timesteps

Step = Callable[[], torch.Tensor]


def timed(fn: Step, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def alternate(label: str, uncached: Step, cached: Step, pairs: int, device: torch.device) -> None:
    timed(uncached, device), timed(cached, device)
    times = [(timed(uncached, device), timed(cached, device)) for _ in range(pairs)]
    ratios = [u / c for u, c in times]
    medians = statistics.median(u for u, _ in times), statistics.median(c for _, c in times)
    print(f"{label}: s/step median uncached {medians[0]:.4f}, cached {medians[1]:.4f}; uncached/cached median "
          f"{statistics.median(ratios):.3f} (pairs {', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip


def steps(dit: LongCatDiT, x: torch.Tensor, text: torch.Tensor, n: int, i2v: bool, offload: bool = False):
    """(uncached step, cached step, the cache) on the CFG batch x [2, C, T, h, w] with ``n`` conditioning latents."""
    t = frame_timesteps(torch.tensor(700.0), x.shape[0], x.shape[2], n).to(x.device)
    mask = torch.ones(text.shape[0], text.shape[2], dtype=torch.int64, device=x.device)
    start = time.perf_counter()
    with torch.no_grad():
        cache = build_cache(dit, x[:1, :, :n], offload=offload)
    print(f"  cache pass ({n} latent{'s' * (n > 1)}): {time.perf_counter() - start:.3f} s, once per video")

    def model(xs, ts, **kw):
        return dit(xs, ts, text, mask, num_cond_latents=n, **kw)

    cached = cached_model(lambda xs, ts: model(xs, ts, kv_cache=cache), cache, i2v)
    return (lambda: model(x, t)), (lambda: cached(x, t)), cache


def peak_bytes(step: Step, device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():
        step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("frames", 93), ("cond-frames", 13), ("height", 128), ("width", 224), ("hidden", 256),
                          ("heads", 2), ("depth", 2), ("pairs", 9), ("threads", 1)):  # fmt: skip
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    args = parser.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.set_num_threads(args.threads)  # CPU: one thread is steadier on a shared machine
    torch.manual_seed(0)
    cfg = DiTConfig(hidden_size=args.hidden, num_heads=args.heads, depth=args.depth, caption_channels=64,
                    adaln_tembed_dim=64, text_tokens_zero_pad=True)  # fmt: skip
    dit = LongCatDiT(cfg).to(device, dtype).eval()
    latents = (args.frames - 1) // 4 + 1
    h, w = args.height // 8, args.width // 8
    x = torch.randn(1, 16, latents, h, w, device=device).expand(2, -1, -1, -1, -1).contiguous()
    text = torch.randn(2, 1, 32, 64, device=device)
    tokens = latents * (h // 2) * (w // 2)
    print(
        f"DiT hidden {args.hidden}, {args.heads} heads, {args.depth} blocks, {args.dtype} on {device}; "
        f"{args.frames} frames = {latents} latents of {h}x{w} ({tokens} tokens), CFG batch 2"
    )
    vc_latents = (args.cond_frames - 1) // 4 + 1
    runs = (("image-to-video", 1, True), (f"continuation ({args.cond_frames} frames)", vc_latents, False))
    for label, n, i2v in runs:
        print(label)
        uncached, cached, cache = steps(dit, x, text, n, i2v)
        alternate(f"  {label}", uncached, cached, args.pairs, device)
        _, offloaded, off_cache = steps(dit, x, text, n, i2v, offload=True)
        print(f"  cache {cache.nbytes / 2**20:.1f} MiB; on the device between steps: {cache.device_bytes / 2**20:.1f} "
              f"MiB, offloaded {off_cache.device_bytes / 2**20:.1f} MiB")  # fmt: skip
        peaks = peak_bytes(cached, device), peak_bytes(offloaded, device)
        if peaks[0] is not None:
            gib = [p / 2**30 for p in peaks]
            print(f"  peak allocated in a cached step: {gib[0]:.2f} GiB, offloaded {gib[1]:.2f} GiB")
        del cache, off_cache, cached, offloaded
    real = 48 * 2 * vc_latents * 30 * 52 * 4096 * 2
    print(
        f"the real DiT's cache at 480p (48 blocks, 4096 wide, bf16), {args.cond_frames} conditioning frames: "
        f"{real / 2**30:.2f} GiB (k and v of {vc_latents * 30 * 52} tokens per block)"
    )


if __name__ == "__main__":
    main()

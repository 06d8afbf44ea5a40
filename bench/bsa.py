"""Seconds per DiT forward with block-sparse (attention="bsa") vs dense self-attention, at the 720p refinement's
token layout, on CPU by default.

    python bench/bsa.py [--latents 8] [--cond-latents 4] [--height 768] [--width 1216] [--depth 1]
                        [--hidden 128] [--heads 1] [--pairs 3] [--device cpu]

768x1216 is what the refinement makes of a 480p (0.63) stage-1 video: a 48x76 patch grid, 228 4x4x4 blocks per
4 latents. The DiT has random weights, the hub's bsa_params (sparsity 0.9375) and reduced width (head_dim 128
as in the real model, but few heads and blocks): its linear layers are far narrower than the 13.6B model's, so
attention takes a larger share of a forward here and the speed-up of the whole forward is an upper bound.
A warm-up forward of each kind (it compiles FlexAttention) comes first; then dense and BSA forwards alternate
in one process, and the median of the per-pair ratios is printed with the fraction of attention blocks computed;
the same for the self-attention alone (one head, the DiT's cond→cond and noise→all calls on random q, k, v).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from longcat_i2v.attention import attend
from longcat_i2v.bsa import BSAParams, block_sparse_attention
from longcat_i2v.dit import DiTConfig, LongCatDiT

HUB_BSA = BSAParams(sparsity=0.9375, chunk_3d_shape_q=(4, 4, 4), chunk_3d_shape_k=(4, 4, 4))


def computed_fraction(grid: tuple[int, int, int], num_cond: int, params: BSAParams) -> float:
    """(query, key) block pairs BSA attends over those dense attention does: cond→cond and noise→all calls."""
    t, h, w = grid
    chunk = params.chunk_3d_shape_k
    per_latent = (h // chunk[1]) * (w // chunk[2])
    calls = [(num_cond, num_cond), (t - num_cond, t)] if num_cond else [(t, t)]
    kept = total = 0
    for tq, tk in calls:
        nq, nk = tq // chunk[0] * per_latent, tk // chunk[0] * per_latent
        kept += nq * int((1 - params.sparsity) * nk)
        total += nq * nk
    return kept / total


def timed(fn: Callable[[], object], device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def alternate(label: str, dense: Callable[[], object], sparse: Callable[[], object], pairs: int, device: str) -> None:
    """Warm each up, then alternate dense/BSA ``pairs`` times; print medians and the per-pair ratio's median."""
    warm = timed(dense, device), timed(sparse, device)
    note = "the process's first bsa call compiles FlexAttention"
    print(f"{label}: warm-up s dense {warm[0]:.2f}, bsa {warm[1]:.2f} ({note})")
    times = [(timed(dense, device), timed(sparse, device)) for _ in range(pairs)]
    ratios = [d / s for d, s in times]
    print(f"{label}: s median dense {statistics.median(d for d, _ in times):.3f}, "
          f"bsa {statistics.median(s for _, s in times):.3f}; dense/bsa median {statistics.median(ratios):.2f} "
          f"(pairs {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latents", type=int, default=8)
    parser.add_argument("--cond-latents", type=int, default=4)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--width", type=int, default=1216)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    cfg = DiTConfig(hidden_size=args.hidden, depth=args.depth, num_heads=args.heads, caption_channels=64,
                    adaln_tembed_dim=64, text_tokens_zero_pad=True, bsa_params=HUB_BSA)  # fmt: skip
    torch.manual_seed(0)
    dit = LongCatDiT(cfg).to(args.device).eval()
    t, h, w = args.latents, args.height // 8, args.width // 8
    x = torch.randn(1, 16, t, h, w, device=args.device)
    timestep = torch.full((1, t), 500.0, device=args.device)
    timestep[:, : args.cond_latents] = 0
    text = torch.randn(1, 1, 32, 64, device=args.device)

    grid = (t, h // 2, w // 2)
    print(f"device={args.device} threads={torch.get_num_threads()} latents={t} (cond {args.cond_latents}) "
          f"image {args.height}x{args.width} grid {'x'.join(map(str, grid))} = {t * grid[1] * grid[2]} tokens, "
          f"hidden {args.hidden}, {args.heads} heads, depth {args.depth}")  # fmt: skip
    print(f"attention blocks computed by bsa: {computed_fraction(grid, args.cond_latents, HUB_BSA):.2%} of dense")

    def forward(attention: str) -> Callable[[], object]:
        return lambda: dit(x, timestep, text, num_cond_latents=args.cond_latents, attention=attention)

    alternate("DiT forward", forward("dense"), forward("bsa"), args.pairs, args.device)

    per_latent = grid[1] * grid[2]
    q = torch.randn(1, 1, t * per_latent, args.hidden // args.heads, device=args.device)
    k, v = torch.randn_like(q), torch.randn_like(q)
    split = args.cond_latents * per_latent
    calls = [(q[:, :, :split], k[:, :, :split], v[:, :, :split]), (q[:, :, split:], k, v)]

    def attention(fn: Callable[..., torch.Tensor]) -> Callable[[], object]:
        return lambda: [fn(*(x.contiguous() for x in call)) for call in calls]

    sparse = attention(lambda q, k, v: block_sparse_attention(q, k, v, grid[1:], HUB_BSA))
    alternate("self-attention, 1 head", attention(attend), sparse, args.pairs, args.device)


if __name__ == "__main__":
    main()

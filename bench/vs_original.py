"""Our DiT against the ORIGINAL LongCat-Video DiT at the real width, alternating in one process.

    python -m bench.vs_original [--original-repo DIR] [--depth 2] [--frames 3 --height 16 --width 16]
                                [--pairs 5] [--dtype float32|bfloat16] [--device cpu|cuda] [--threads N]

Real width (hidden 4096, 32 heads, SwiGLU 11008, caption 4096), ``--depth`` blocks, random weights that both
models share (the original module is built on the meta device and given our state dict), the CFG batch of 2 with
one conditioning latent, 64 text tokens. The original is imported from ``--original-repo`` (or
``$LONGCAT_ORIGINAL_REPO``) through the live-parity adapter (eval/parity/original.py: its flash-attn calls
replaced by SDPA with the same math). ``--height``/``--width`` are latent sizes (÷2 for tokens). Prints the
outputs' max difference, the median seconds per forward of each and the median of per-pair ratios.
"""

from __future__ import annotations

import argparse
import os

import torch

from bench.ab import alternate, report, timed
from eval.parity.original import import_original
from longcat_i2v.dit import FP32_MODULES, DiTConfig, LongCatDiT


def _models(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.nn.Module]:
    import_original(args.original_repo)
    from longcat_video.modules.longcat_video_dit import LongCatVideoTransformer3DModel

    cfg = DiTConfig(depth=args.depth)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    ours = LongCatDiT(cfg)
    for name, p in ours.named_parameters():
        if not any(pattern in name for pattern in FP32_MODULES):
            p.data = p.data.to(dtype)
    ours = ours.to(args.device).eval().requires_grad_(False)
    with torch.device("meta"):
        original = LongCatVideoTransformer3DModel(
            hidden_size=cfg.hidden_size, depth=cfg.depth, num_heads=cfg.num_heads,
            caption_channels=cfg.caption_channels, adaln_tembed_dim=cfg.adaln_tembed_dim, cp_split_hw=[1, 1],
        )  # fmt: skip
    original.load_state_dict(ours.state_dict(), strict=True, assign=True)
    return ours, original.eval()


def _inputs(args: argparse.Namespace) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, args.frames, args.height, args.width, generator=g)
    t = torch.full((2, args.frames), 700.0)
    text = torch.randn(2, 1, 64, 4096, generator=g)
    mask = torch.ones(2, 64, dtype=torch.long)
    mask[0, 40:] = 0  # the negative prompt is shorter
    return tuple(v.to(args.device) for v in (x, t, text, mask))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original-repo", default=os.environ.get("LONGCAT_ORIGINAL_REPO"))
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--frames", type=int, default=3, help="latent frames (the first is the conditioning one)")
    parser.add_argument("--height", type=int, default=16, help="latent height")
    parser.add_argument("--width", type=int, default=16, help="latent width")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.original_repo:
        parser.error("give --original-repo or set LONGCAT_ORIGINAL_REPO to a LongCat-Video checkout")
    ours, original = _models(args)
    inputs = _inputs(args)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None

    def run(model: torch.nn.Module) -> torch.Tensor:
        with torch.no_grad():
            return model(*inputs, num_cond_latents=1)

    diff = (run(ours) - run(original)).abs().max().item()  # also the warm-up of both
    a, b = alternate(timed(lambda: run(ours), sync), timed(lambda: run(original), sync), args.pairs)
    n = args.frames * (args.height // 2) * (args.width // 2)
    print(
        f"DiT hidden 4096, {args.depth} blocks, {n} tokens x CFG batch 2, {args.dtype} on {args.device}, "
        f"{torch.get_num_threads()} threads; max |ours - original| = {diff:.2e}"
    )
    print("s/forward: " + report("ours", a, "original", b))


if __name__ == "__main__":
    main()

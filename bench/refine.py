"""Seconds per refinement step (one DiT call with the refinement LoRA on, plus the Euler step) with block-sparse
vs dense self-attention, at the token layout ``refine`` makes of a 480p stage-1 video, on CPU by default.

    python bench/refine.py [--stage1-frames 5] [--stage1-height 480] [--stage1-width 832] [--depth 1]
                           [--hidden 128] [--heads 1] [--pairs 3] [--device cpu]

The layout is the refinement's own: the size is the 720p (64-pixel grid) bucket of the stage-1 shape (480x832 →
704x1280: a 44x80 patch grid, 220 4x4x4 blocks per 4 latents), the frames doubled, conditioned on an image
(4 conditioning latents) and padded to whole blocks of 4 latents. The real refinement runs 93 stage-1 frames
(48 latents); CPU time limits this to a few (5 frames → 8 latents), which favours dense attention: the kept
fraction of the noise queries' blocks is 1/16 at any length, so longer videos gain more. The DiT has random
weights, a random rank-4 LoRA on the refinement's targets and reduced width (head_dim 128 as in the real model,
few heads and blocks), so attention takes a larger share of a step than in the 13.6B model. Warm-up steps first
(BSA's compiles FlexAttention), then dense and BSA steps alternate in one process; medians and the median of
the per-pair ratios are printed, with the fraction of attention blocks BSA computes. Attention alone:
bench/bsa.py.
"""

from __future__ import annotations

import argparse

import torch
from bsa import HUB_BSA, alternate, computed_fraction  # bench/bsa.py, next to this script
from diffusers import FlowMatchEulerDiscreteScheduler

from longcat_i2v import refinement
from longcat_i2v.denoise import denoise
from longcat_i2v.dit import DiTConfig, LongCatDiT
from longcat_i2v.lora import LoRAHandle, LoRAModule
from longcat_i2v.schedule import set_schedule, truncate_schedule
from longcat_i2v.tiny import FUSED_PARTS, LORA_RANK, LORA_TARGETS


def random_lora(dit: LongCatDiT, gen: torch.Generator) -> list[LoRAModule]:
    """A rank-4 LoRA on the refinement LoRA's targets (every block's, the final layer's)."""
    named = dict(dit.named_modules())
    targets = [f"blocks.{i}.{t}" for i in range(len(dit.blocks)) for t in LORA_TARGETS]
    modules = []
    for target in [*targets, "final_layer.adaLN_modulation.1", "final_layer.linear"]:
        layer, parts = named[target], FUSED_PARTS.get(target.split(".", 2)[-1], 1)
        down = torch.randn(LORA_RANK * parts, layer.in_features, generator=gen) * 0.1
        ups = [torch.randn(layer.out_features // parts, LORA_RANK, generator=gen) * 0.1 for _ in range(parts)]
        modules.append(LoRAModule(target, down, ups, torch.tensor(0.5)))
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage1-frames", type=int, default=5)
    parser.add_argument("--stage1-height", type=int, default=480)
    parser.add_argument("--stage1-width", type=int, default=832)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    layout = refinement.plan_layout(args.stage1_frames, 1, 2)
    height, width = refinement.refine_size(args.stage1_height, args.stage1_width, None, None)
    cfg = DiTConfig(hidden_size=args.hidden, depth=args.depth, num_heads=args.heads, caption_channels=64,
                    adaln_tembed_dim=64, text_tokens_zero_pad=True, bsa_params=HUB_BSA)  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    dit = LongCatDiT(cfg).eval()
    lora = random_lora(dit, gen)
    dit = dit.to(args.device)
    t, ncl = layout.latents, layout.cond_latents
    latents = torch.randn(1, 16, t, height // 8, width // 8, generator=gen).to(args.device)
    text = torch.randn(1, 1, 32, 64, generator=gen).to(args.device)
    mask = torch.ones(1, 32, dtype=torch.long, device=args.device)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=12.0)

    grid = (t, height // 16, width // 16)
    print(f"device={args.device} threads={torch.get_num_threads()} stage-1 {args.stage1_frames} frames "
          f"{args.stage1_height}x{args.stage1_width} -> refined {layout.frames} frames {height}x{width}: "
          f"{t} latents (cond {ncl}), grid {'x'.join(map(str, grid))} = {t * grid[1] * grid[2]} tokens; "
          f"hidden {args.hidden}, {args.heads} heads, depth {args.depth}, LoRA rank {LORA_RANK}")  # fmt: skip
    print(f"attention blocks computed by bsa: {computed_fraction(grid, ncl, HUB_BSA):.2%} of dense")

    def step(attention: str):
        def run() -> torch.Tensor:
            timesteps = truncate_schedule(scheduler, set_schedule(scheduler, 50, False, args.device), 0.5)

            def model(x: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
                return dit(x, timestep, text, mask, num_cond_latents=ncl, attention=attention)

            return denoise(model, latents, scheduler, timesteps[:1], 1.0, ncl)

        return run

    with LoRAHandle(dit, lora):
        alternate("refinement step", step("dense"), step("bsa"), args.pairs, args.device)


if __name__ == "__main__":
    main()

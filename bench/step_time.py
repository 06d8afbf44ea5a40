"""Seconds per denoising step of the tiny checkpoint at a few sizes (CPU by default).

    python bench/step_time.py [--device cuda] [--checkpoint DIR]

Prints one line per size: frames, height x width, tokens, CFG on/off, median s/step over the steps
after the first (warm-up). No assertion: a number to compare across changes and machines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from longcat_i2v import LongCatI2V
from longcat_i2v.tiny import ensure_tiny_checkpoint

SIZES = [(9, 64, 96), (17, 128, 192), (33, 256, 384)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the built-in tiny checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    pipe = LongCatI2V.from_pretrained(args.checkpoint or ensure_tiny_checkpoint(), device=args.device)
    image = Image.fromarray((np.random.RandomState(0).rand(240, 360, 3) * 255).astype(np.uint8))
    pipe.generate_video("warm-up", image=image, num_frames=5, height=64, width=64, num_inference_steps=2, seed=0)
    print(f"device={args.device} threads={torch.get_num_threads()}")
    print(f"{'frames':>6} {'size':>9} {'tokens':>7} {'cfg':>4} {'s/step':>9}")
    for frames, h, w in SIZES:
        for guidance in (1.0, 4.0):
            stamps: list[float] = []

            def tick(step: int, total: int, _latents: torch.Tensor, stamps: list[float] = stamps) -> None:
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                stamps.append(time.perf_counter())

            pipe.generate_video(
                "a cat",
                image=image,
                num_frames=frames,
                height=h,
                width=w,
                num_inference_steps=args.steps,
                guidance_scale=guidance,
                seed=0,
                callback=tick,
            )
            per_step = statistics.median(np.diff(stamps)) if len(stamps) > 1 else float("nan")
            tokens = ((frames - 1) // 4 + 1) * (h // 16) * (w // 16)
            print(f"{frames:>6} {h:>4}x{w:<4} {tokens:>7} {'on' if guidance > 1 else 'off':>4} {per_step:>9.4f}")


if __name__ == "__main__":
    main()

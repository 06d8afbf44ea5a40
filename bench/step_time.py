"""Seconds per denoising step at a few sizes, two settings alternating in one process (CPU by default).

    python -m bench.step_time [--device cuda] [--checkpoint DIR] [--steps 4] [--pairs 5] [--compile] [--threads 1]

Per size, runs A and B alternate (the order flips every pair); a run's time is its median s/step over the steps
after the first. Default A = CFG off (guidance 1), B = CFG on (guidance 4, twice the batch): the ratio is what
CFG costs. ``--compile``: A = eager, B = the DiT blocks under regional torch.compile (CFG on for both; the first
compiled run, which compiles, is a warm-up). Prints both medians and the median of per-pair ratios B/A.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np
import torch
from PIL import Image

from bench.ab import alternate, report
from longcat_i2v import LongCatI2V
from longcat_i2v.regional_compile import compile_blocks
from longcat_i2v.tiny import ensure_tiny_checkpoint

SIZES = [(9, 64, 96), (17, 128, 192), (33, 256, 384)]


def step_seconds(pipe: LongCatI2V, image: Image.Image, size: tuple[int, int, int], steps: int, guidance: float):
    """Median s/step of one generation, steps after the first."""
    frames, h, w = size
    cuda = pipe.device.type == "cuda"
    stamps: list[float] = []

    def tick(*_: object) -> None:
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    pipe.generate_video("a cat", image=image, num_frames=frames, height=h, width=w, num_inference_steps=steps,
                        guidance_scale=guidance, seed=0, callback=tick)  # fmt: skip
    return statistics.median(np.diff(stamps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the built-in tiny checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per run (>= 3)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="A/B eager vs regional torch.compile")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: least disturbed by other load)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or ensure_tiny_checkpoint()
    pipe_a = pipe_b = LongCatI2V.from_pretrained(checkpoint, device=args.device)
    if args.compile:
        pipe_b = LongCatI2V.from_pretrained(checkpoint, device=args.device)
        compile_blocks(pipe_b.dit)
    guidance_a = 4.0 if args.compile else 1.0
    image = Image.fromarray((np.random.RandomState(0).rand(240, 360, 3) * 255).astype(np.uint8))
    names = ("eager", "compiled") if args.compile else ("cfg off", "cfg on")
    print(f"device={args.device} threads={torch.get_num_threads()} steps/run={args.steps}; B/A = {names[1]}/{names[0]}")
    for size in SIZES:
        run_a = partial(step_seconds, pipe_a, image, size, args.steps, guidance_a)
        run_b = partial(step_seconds, pipe_b, image, size, args.steps, 4.0)
        run_a(), run_b()  # warm-up (and, compiled, the compile for this size)
        a, b = alternate(run_a, run_b, args.pairs)
        frames, h, w = size
        tokens = ((frames - 1) // 4 + 1) * (h // 16) * (w // 16)
        print(f"{frames}x{h}x{w} ({tokens} tokens) s/step: " + report(names[0], a, names[1], b))


if __name__ == "__main__":
    main()

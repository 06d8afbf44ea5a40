"""Seconds per denoising step, ours vs FastVideo's LongCat I2V pipeline, alternating in one process: same
checkpoint, image, prompt, size, steps, guidance and seed (needs the fastvideo extra).

    python -m bench.fastvideo_vs_native [--checkpoint DIR] [--frames 17 --height 128 --width 192]
                                        [--steps 4] [--guidance 4.0] [--precision fp32|bf16] [--pairs 5]

Both engines warm up once, then run ``--pairs`` times each, alternating (the order flips every pair). A run's
time is its median s/step over the steps after the first (the first also holds text encoding and the VAE
encode). Prints both medians and the median of per-pair ratios fastvideo/native. No assertion.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from bench.ab import alternate, report
from interop.fastvideo_engine import FastVideoEngine
from longcat_i2v import LongCatI2V
from longcat_i2v.tiny import ensure_tiny_checkpoint

PROMPT = "a cat walks across a wooden table"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="either layout (default: the built-in tiny checkpoint)")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    checkpoint = args.checkpoint or ensure_tiny_checkpoint()
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    image = Image.fromarray((np.random.RandomState(0).rand(240, 360, 3) * 255).astype(np.uint8))
    pipe = LongCatI2V.from_pretrained(checkpoint, dtype=dtype)
    engine = FastVideoEngine(checkpoint, args.precision)
    size = dict(num_frames=args.frames, height=args.height, width=args.width)

    def native() -> float:
        stamps = [time.perf_counter()]
        pipe.generate_video(
            PROMPT, image=image, num_inference_steps=args.steps, guidance_scale=args.guidance, seed=0,
            callback=lambda *_: stamps.append(time.perf_counter()), **size,
        )  # fmt: skip
        return statistics.median(np.diff(stamps)[1:])

    def fastvideo() -> float:
        run = engine.generate(image, PROMPT, guidance=args.guidance, steps=args.steps, seed=0, **size)
        return statistics.median(run.step_seconds[1:])

    native(), fastvideo()  # warm-up
    ours, theirs = alternate(native, fastvideo, args.pairs)
    engine.close()
    tokens = ((args.frames - 1) // 4 + 1) * (args.height // 16) * (args.width // 16)
    print(
        f"s/step ({args.precision}, cpu, {torch.get_num_threads()} threads, {args.frames}x{args.height}x{args.width}, "
        f"{tokens} tokens, cfg {'on' if args.guidance > 1 else 'off'}): " + report("native", ours, "fastvideo", theirs)
    )


if __name__ == "__main__":
    main()

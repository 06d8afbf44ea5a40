"""Seconds per denoising step, ours vs FastVideo's LongCat I2V pipeline, in one run: same checkpoint, same
image, prompt, size, steps, guidance and starting latents (needs the fastvideo extra).

    python bench/fastvideo_vs_native.py [--checkpoint DIR] [--frames 17 --height 128 --width 192]
                                        [--steps 4] [--guidance 4.0] [--precision fp32|bf16]

Each engine runs once to warm up, then once timed; prints the median s/step over the timed run's steps after
the first, and FastVideo's time relative to ours. No assertion: a number to compare across machines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from interop.fastvideo_engine import FastVideoEngine
from longcat_i2v import LongCatI2V
from longcat_i2v.tiny import ensure_tiny_checkpoint

PROMPT = "a cat walks across a wooden table"


def native_step_seconds(pipe: LongCatI2V, image: Image.Image, args: argparse.Namespace) -> list[float]:
    stamps = [time.perf_counter()]
    pipe.generate_video(
        PROMPT, image=image, num_frames=args.frames, height=args.height, width=args.width,
        num_inference_steps=args.steps, guidance_scale=args.guidance, seed=0,
        callback=lambda *_: stamps.append(time.perf_counter()),
    )  # fmt: skip
    return np.diff(stamps).tolist()[1:]  # the first interval also holds text encoding and the VAE encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="either layout (default: the built-in tiny checkpoint)")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args()
    checkpoint = args.checkpoint or ensure_tiny_checkpoint()
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    image = Image.fromarray((np.random.RandomState(0).rand(240, 360, 3) * 255).astype(np.uint8))

    pipe = LongCatI2V.from_pretrained(checkpoint, dtype=dtype)
    native_step_seconds(pipe, image, args)
    ours = statistics.median(native_step_seconds(pipe, image, args))

    engine = FastVideoEngine(checkpoint, args.precision)
    size = dict(num_frames=args.frames, height=args.height, width=args.width, steps=args.steps, seed=0)
    engine.generate(image, PROMPT, guidance=args.guidance, **size)
    theirs = statistics.median(engine.generate(image, PROMPT, guidance=args.guidance, **size).step_seconds[1:])
    engine.close()

    tokens = ((args.frames - 1) // 4 + 1) * (args.height // 16) * (args.width // 16)
    print(
        f"s/step ({args.precision}, cpu, {torch.get_num_threads()} threads, {args.frames}x{args.height}x{args.width}, "
        f"{tokens} tokens, cfg {'on' if args.guidance > 1 else 'off'}): native {ours:.4f}  fastvideo {theirs:.4f}  "
        f"(fastvideo/native {theirs / ours:.2f}x)"
    )


if __name__ == "__main__":
    main()

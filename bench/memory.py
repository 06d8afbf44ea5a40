"""Peak device memory per offload mode, on the CPU at a fixed small size, as ratios to ``none``.

    python -m bench.memory [--blocks 8] [--frames 9] [--height 128] [--width 192] [--steps 2]

On a CPU there is no allocator peak to read, so the device memory of a mode is counted as the placement counts
it: the weights on the device (``Placement.device_weight_bytes``: an offloaded weight is a meta tensor there)
plus the tensors the generation has alive (``TensorMemory``), sampled before every module's forward. The tiny
checkpoint's DiT is deepened to ``--blocks`` blocks (copies of its two) so that streaming a group of blocks or
a layer is a real part of the whole; its weights are small beside the activations, as the real model's are
not, so the weights column is printed apart. Every mode's frames are checked equal to ``none``'s. On a GPU,
``bench/gpu_check.py`` reads the allocator's peaks instead.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch
from PIL import Image
from torch import nn

from longcat_i2v import LongCatI2V
from longcat_i2v.checkpoint import load_components
from longcat_i2v.offload import OFFLOAD_MODES, Placement
from longcat_i2v.tensor_memory import TensorMemory
from longcat_i2v.tiny import ensure_tiny_checkpoint

MIB = 2**20


def pipeline(mode: str, blocks: int) -> LongCatI2V:
    components = load_components(ensure_tiny_checkpoint())
    dit = components.dit
    dit.blocks = nn.ModuleList(copy.deepcopy(dit.blocks[i % len(dit.blocks)]) for i in range(blocks))
    return LongCatI2V(components, "cpu", placement=Placement(components, "cpu", mode))


def measure(pipe: LongCatI2V, image: Image.Image, args: argparse.Namespace) -> tuple[int, int, np.ndarray]:
    """(peak weights + live tensors, peak weights alone, frames) of one generation with CFG."""
    peaks = {"total": 0, "weights": 0}
    models = pipe.placement.models.values()

    with TensorMemory() as tensors:

        def sample(*_args) -> None:
            weights = pipe.placement.device_weight_bytes()
            peaks["weights"] = max(peaks["weights"], weights)
            peaks["total"] = max(peaks["total"], weights + tensors.current)

        handles = [m.register_forward_pre_hook(sample) for model in models for m in model.modules()]
        try:
            frames = pipe.generate_video(
                "a fox runs", image=image, num_frames=args.frames, height=args.height, width=args.width,
                num_inference_steps=args.steps, guidance_scale=4.0, seed=0,
            ).frames  # fmt: skip
        finally:
            for handle in handles:
                handle.remove()
    return peaks["total"], peaks["weights"], frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    image = Image.fromarray((np.random.RandomState(0).rand(args.height, args.width, 3) * 255).astype(np.uint8))
    print(f"{args.blocks} DiT blocks, {args.frames} frames at {args.width}x{args.height}, {args.steps} steps, CFG")
    results = {mode: measure(pipeline(mode, args.blocks), image, args) for mode in OFFLOAD_MODES}
    base_total, base_weights, base_frames = results["none"]
    print(f"{'mode':<11}{'peak MiB':>10}{'ratio':>8}{'weights MiB':>13}{'ratio':>8}  frames == none")
    for mode, (total, weights, frames) in results.items():
        same = bool(np.array_equal(frames, base_frames))
        print(f"{mode:<11}{total / MIB:>10.1f}{total / base_total:>8.3f}{weights / MIB:>13.2f}"
              f"{weights / base_weights:>8.3f}  {same}")  # fmt: skip


if __name__ == "__main__":
    main()

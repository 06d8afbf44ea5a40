"""What the NaN/inf check of every weight adds to loading, on one real-size DiT tensor (the 13.6B DiT's FFN w1,
[11008, 4096]), alternating in one process:

    A: the load step of ``load_dit`` for one tensor (CPU tensor → ``.to(device, dtype)``)
    B: the same followed by ``finite.is_finite`` (one aminmax reduction)
    C: the same followed by ``torch.isfinite(t).all()`` (the obvious check, for comparison)

    python bench/finite_check.py [--device cpu|cuda] [--dtype bfloat16|float32] [--repeats 7]

Prints median milliseconds and the medians of the ratios B/A and C/A, and what B's extra time comes to over the
13.6B parameters of the real DiT. No assertion: numbers to compare across machines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from longcat_i2v.defaults import DTYPES
from longcat_i2v.finite import is_finite

SHAPE = (11008, 4096)
DIT_PARAMS = 13.6e9


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    source = (torch.randn(SHAPE, generator=torch.Generator().manual_seed(0)) * 0.02).to(dtype)

    def load():
        return source.to(device=device, dtype=dtype, copy=True)

    runs = {
        "A load": lambda: load(),
        "B load + is_finite": lambda: is_finite(load()),
        "C load + isfinite().all()": lambda: bool(torch.isfinite(load()).all()),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm-up
        timed(fn, device)
    for _ in range(args.repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn, device))
    a = times["A load"]
    print(f"{args.device} {args.dtype} {list(SHAPE)} ({source.numel() / 1e6:.0f}M elements), {args.repeats} rounds")
    for name, ts in times.items():
        ratio = statistics.median(t / base for t, base in zip(ts, a, strict=True))
        print(f"  {name:28s} {statistics.median(ts) * 1e3:8.1f} ms   ×{ratio:.2f} of A")
    extra = statistics.median(b - base for b, base in zip(times["B load + is_finite"], a, strict=True))
    total = extra * DIT_PARAMS / source.numel()
    print(f"  is_finite over the real DiT ({DIT_PARAMS / 1e9:.1f}B parameters): ~{total:.1f} s")


if __name__ == "__main__":
    main()

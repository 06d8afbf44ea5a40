"""Sequence-parallel benchmark: DiT seconds per step and tokens per rank for sp=1 and sp=N.

    python bench/sp_bench.py [--sp 2] [--device cpu|cuda] [--hidden 512 --depth 4 --heads 8]

Uses a random-weight DiT large enough that compute dominates communication, one denoising step =
one DiT forward on the CFG batch (B=2) with the conditioning frame. On CPU each rank gets the same
number of threads (--threads) as the single-process run, so sp=N uses N times the cores: the ratio
shows how well the work is split. On CUDA, ranks use one GPU each (needs N GPUs for sp=N).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from longcat_i2v.dit import DiTConfig, LongCatDiT
from longcat_i2v.parallel import setup_parallel


def _build(args: argparse.Namespace, device: str) -> LongCatDiT:
    torch.manual_seed(0)
    cfg = DiTConfig(
        hidden_size=args.hidden, depth=args.depth, num_heads=args.heads, caption_channels=64, adaln_tembed_dim=64
    )
    return LongCatDiT(cfg).to(device).eval()


def _inputs(args: argparse.Namespace, device: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, args.frames, args.height // 8, args.width // 8, generator=g)
    t = torch.full((2, args.frames), 700.0)
    t[:, 0] = 0
    text = torch.randn(2, 1, 32, 64, generator=g)
    return x.to(device), t.to(device), text.to(device)


def _time(dit: LongCatDiT, inputs: tuple[torch.Tensor, ...], reps: int, cuda: bool, sp=None) -> float:
    times = []
    with torch.no_grad():
        for _ in range(reps + 1):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            dit(*inputs, None, num_cond_latents=1, sp=sp)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _rank(rank: int, world: int, port: int, args: argparse.Namespace, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = args.device == "cuda"
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(rank)
    torch.set_num_threads(args.threads)
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    dit = _build(args, device)
    sp = setup_parallel(dit.config.num_heads, world).sp
    tokens: list[int] = []
    dit.blocks[0].ffn.w1.register_forward_hook(lambda m, i, o: tokens.append(i[0].shape[1]))
    inputs = _inputs(args, device)
    seconds = _time(dit, inputs, args.reps, cuda, sp)
    grid = (args.frames, args.height // 16, args.width // 16)
    results[rank] = (seconds, tokens[-1], sp.tiling(grid).split if sp else (1, 1))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sp", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--frames", type=int, default=5, help="latent frames")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    torch.set_num_threads(args.threads)
    device = "cuda:0" if cuda else "cpu"
    total = args.frames * (args.height // 16) * (args.width // 16)
    single = _time(_build(args, device), _inputs(args, device), args.reps, cuda)
    print(f"DiT hidden={args.hidden} depth={args.depth} heads={args.heads}; {total} tokens; CFG batch 2; {args.device}")
    print(f"sp=1: {single:.3f} s/step, {total} tokens/rank")
    with mp.Manager() as manager:
        results = manager.dict()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(_rank, args=(args.sp, port, args, results), nprocs=args.sp, join=True)
        worst = max(r[0] for r in results.values())
        for rank in sorted(results):
            seconds, tokens, split = results[rank]
            grid = f"{split[0]}x{split[1]}"
            print(f"sp={args.sp} rank {rank}: {seconds:.3f} s/step, {tokens} tokens/rank (tile grid {grid})")
        print(f"speed-up sp={args.sp} vs sp=1: {single / worst:.2f}x")


if __name__ == "__main__":
    main()

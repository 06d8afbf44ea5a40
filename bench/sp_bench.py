"""Sequence-parallel benchmark: one DiT forward (= one denoising step) on the whole sequence vs split over N ranks.

    python -m bench.sp_bench [--sp 2] [--device cpu|cuda] [--hidden 512 --depth 4 --heads 8] [--pairs 5]

A random-weight DiT large enough that compute dominates communication; the CFG batch (B=2) with the
conditioning frame. Every rank alternates, in the same process and in step with the others (a barrier starts
each run): A = the whole forward on this rank alone (sp=1), B = this rank's part of the sequence-parallel
forward (1/N of the tokens plus the all-to-alls). Per rank it reports wall and CPU seconds (process time: all
of the rank's threads) of both, with medians of per-pair ratios A/B: the wall ratio is the speed-up on this
machine, the CPU-time ratio how well the work is split (N for a perfect split), which a busy machine does not
distort. On CPU each rank gets ``--threads`` threads (so A and B use the same cores); on CUDA one GPU per rank.
"""

from __future__ import annotations

import argparse
import copy
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench.ab import alternate, median_ratio
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


def _run(dit: LongCatDiT, inputs: tuple[torch.Tensor, ...], cuda: bool, cpu: list[float], sp=None):
    """A timed forward: returns wall seconds, appends this process's CPU seconds to ``cpu``."""

    def run() -> float:
        dist.barrier()
        if cuda:
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            dit(*inputs, None, num_cond_latents=1, sp=sp)
        if cuda:
            torch.cuda.synchronize()
        cpu.append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    return run


def _rank(rank: int, world: int, port: int, args: argparse.Namespace, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = args.device == "cuda"
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(rank)
    torch.set_num_threads(args.threads)
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    whole = _build(args, device)
    split = copy.deepcopy(whole)
    sp = setup_parallel(split.config.num_heads, world).sp
    tokens: list[int] = []
    split.blocks[0].ffn.w1.register_forward_hook(lambda m, i, o: tokens.append(i[0].shape[1]))
    inputs = _inputs(args, device)
    cpu_a: list[float] = []
    cpu_b: list[float] = []
    run_a, run_b = _run(whole, inputs, cuda, cpu_a), _run(split, inputs, cuda, cpu_b, sp)
    run_a(), run_b()  # warm-up
    cpu_a.clear(), cpu_b.clear()
    wall_a, wall_b = alternate(run_a, run_b, args.pairs)
    grid = (args.frames, args.height // 16, args.width // 16)
    results[rank] = (wall_a, wall_b, cpu_a, cpu_b, tokens[-1], sp.tiling(grid).split if sp else (1, 1))
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
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per rank")
    args = parser.parse_args()
    total = args.frames * (args.height // 16) * (args.width // 16)
    with mp.Manager() as manager:
        results = manager.dict()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(_rank, args=(args.sp, port, args, results), nprocs=args.sp, join=True)
        results = dict(results)
    print(
        f"DiT hidden={args.hidden} depth={args.depth} heads={args.heads}; {total} tokens; CFG batch 2; {args.device}; "
        f"{args.threads} thread(s)/rank; A = whole forward on one rank, B = sp={args.sp} part; {args.pairs} pairs"
    )
    for rank in sorted(results):
        wall_a, wall_b, cpu_a, cpu_b, tokens, split = results[rank]
        print(
            f"rank {rank} ({tokens} tokens, tile grid {split[0]}x{split[1]}): wall A {statistics.median(wall_a):.3f} s "
            f"B {statistics.median(wall_b):.3f} s, speed-up A/B {median_ratio(wall_b, wall_a):.2f}x; CPU A "
            f"{statistics.median(cpu_a):.3f} s B {statistics.median(cpu_b):.3f} s, split A/B "
            f"{median_ratio(cpu_b, cpu_a):.2f}x"
        )


if __name__ == "__main__":
    main()

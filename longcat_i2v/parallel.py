"""Sequence parallelism over torch.distributed: each rank holds one spatial tile of the latent
(all frames, 1/N of the tokens), and self-attention uses Ulysses all-to-all.

Like the original's context parallel, the token grid [T, H, W] is cut into an a×b grid of H×W
tiles, so every rank holds its part of the conditioning frame and the per-frame adaLN, the
cond/noise attention split and cond-frame RoPE skipping work on the local shard unchanged.
Self-attention trades the sequence split for a head split (all_to_all: [B, heads, S/N, D] →
[B, heads/N, S, D]) so each rank attends over the full sequence for heads/N heads, then trades
back. Cross-attention and the FFN run on the local tokens. The output is gathered once before
unpatchify. NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .attention import AttentionFn, attend
from .defaults import SIZE_MULTIPLE
from .errors import ParallelConfigError


def tile_splits(n: int) -> list[tuple[int, int]]:
    """All (a, b) with a·b = n, most square first (for 2 → (1, 2); 4 → (2, 2); 8 → (2, 4), ...)."""
    pairs = [(a, n // a) for a in range(1, n + 1) if n % a == 0]
    return sorted(pairs, key=lambda p: (abs(p[0] - p[1]), p[0] > p[1]))


def choose_split(n: int, grid_h: int, grid_w: int) -> tuple[int, int]:
    """The most square a×b tiling of the (grid_h, grid_w) token grid into n equal tiles."""
    for a, b in tile_splits(n):
        if grid_h % a == 0 and grid_w % b == 0:
            return a, b
    raise ParallelConfigError(
        f"a {grid_h}x{grid_w} token grid (latent/2; image size/16) cannot be cut into {n} equal tiles; "
        f"pick a size whose height/16 and width/16 admit a split into one of {tile_splits(n)}"
    )


def _a2a(x: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
    out = torch.empty_like(x)
    dist.all_to_all_single(out, x, group=group)
    return out


@dataclass(frozen=True)
class Tiling:
    """How one token grid [T, H, W] is cut: an a×b grid of H×W tiles, one per rank (all frames each)."""

    grid: tuple[int, int, int]
    split: tuple[int, int]

    @property
    def tile(self) -> tuple[int, int]:
        """(h, w) of one rank's tile in tokens."""
        return self.grid[1] // self.split[0], self.grid[2] // self.split[1]


class SequenceParallel:
    """The sequence-parallel process group of one rank: its size, its rank and the attention it wraps."""

    def __init__(self, size: int, group: dist.ProcessGroup | None = None, attention: AttentionFn = attend) -> None:
        self.group = group
        self.size = size
        self.rank = dist.get_rank(group)
        self.attention = attention

    def tiling(self, grid: tuple[int, int, int]) -> Tiling:
        return Tiling(grid, choose_split(self.size, grid[1], grid[2]))

    def tile(self, x: torch.Tensor, tiling: Tiling) -> torch.Tensor:
        """This rank's tile of a [..., T*H*W, C] tensor, as [..., T*h*w, C]."""
        t, gh, gw = tiling.grid
        (th, tw), (_, b) = tiling.tile, tiling.split
        i, j = divmod(self.rank, b)
        lead = x.shape[:-2]
        tiles = x.reshape(*lead, t, gh, gw, x.shape[-1])[..., :, i * th : (i + 1) * th, j * tw : (j + 1) * tw, :]
        return tiles.reshape(*lead, t * th * tw, x.shape[-1])

    def shard(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, grid: tuple[int, int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Tiling]:
        """This rank's tokens of x [B, N, C], the matching rows of the RoPE tables, and the tiling that
        ``gather`` needs to put the tiles back."""
        tiling = self.tiling(grid)
        return self.tile(x, tiling), self.tile(cos, tiling), self.tile(sin, tiling), tiling

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attention: AttentionFn | None = None
    ) -> torch.Tensor:
        """Ulysses attention over [B, heads, S_local, D] tensors; returns [B, heads, S_local(q), D].
        ``attention`` (default: this object's) sees the full sequence tile by tile, in rank order."""
        b, heads, _, d = q.shape
        n = self.size
        if heads % n:
            raise ParallelConfigError(
                f"{heads} attention heads cannot be split over {n} ranks; use an sp size dividing {heads}"
            )

        def to_heads(x: torch.Tensor) -> torch.Tensor:  # [B, H, s, D] → [B, H/n, n·s, D], rank-major sequence
            s = x.shape[2]
            y = _a2a(x.reshape(b, n, heads // n, s, d).transpose(0, 1).contiguous(), self.group)
            return y.permute(1, 2, 0, 3, 4).reshape(b, heads // n, n * s, d)

        out = (attention or self.attention)(to_heads(q), to_heads(k), to_heads(v))
        s = q.shape[2]
        y = _a2a(out.reshape(b, heads // n, n, s, d).permute(2, 0, 1, 3, 4).contiguous(), self.group)
        return y.transpose(0, 1).reshape(b, heads, s, d)

    def gather(self, x: torch.Tensor, tiling: Tiling) -> torch.Tensor:
        """All ranks' tiles [B, T*h*w, C] → the full [B, T*H*W, C] in raster order, on every rank."""
        t, gh, gw = tiling.grid
        (a, b), (th, tw) = tiling.split, tiling.tile
        parts = [torch.empty_like(x) for _ in range(self.size)]
        dist.all_gather(parts, x.contiguous(), group=self.group)
        tiles = torch.stack(parts).reshape(a, b, x.shape[0], t, th, tw, x.shape[-1])
        full = tiles.permute(2, 3, 0, 4, 1, 5, 6).reshape(x.shape[0], t * gh * gw, x.shape[-1])
        return full

    def check_size(self, height: int, width: int) -> None:
        """Fail before any work when the image size cannot be tiled over the ranks."""
        choose_split(self.size, height // SIZE_MULTIPLE, width // SIZE_MULTIPLE)


class CfgParallel:
    """The CFG axis: the two halves of the [uncond, cond] batch run on two rank groups; each rank of
    group 0 (uncond) is paired with the same sequence-parallel rank of group 1 (cond)."""

    def __init__(self, index: int, pair: dist.ProcessGroup) -> None:
        self.index = index
        self.pair = pair

    def gather(self, half: torch.Tensor) -> torch.Tensor:
        """This rank's half-batch prediction → the full [uncond, cond] batch, on both ranks of the pair."""
        parts = [torch.empty_like(half) for _ in range(2)]
        dist.all_gather(parts, half.contiguous(), group=self.pair)
        return torch.cat(parts)


@dataclass(frozen=True)
class Parallel:
    """This process's place in a parallel run: the sequence-parallel group and the CFG axis (each None when
    not used). The pipeline passes it where it is used; ``Parallel()`` is a single process."""

    sp: SequenceParallel | None = None
    cfg: CfgParallel | None = None

    @property
    def active(self) -> bool:
        return self.sp is not None or self.cfg is not None

    def shared_seed(self, seed: int, device: torch.device | str) -> int:
        """Global rank 0's seed on every rank, so a randomly drawn seed is the same everywhere."""
        return seed if not self.active else int(broadcast(torch.tensor([seed], dtype=torch.int64, device=device)))

    def share(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Rank 0's values of the tensors on every rank (noise, latents and text must agree everywhere)."""
        return tuple(broadcast(x) for x in tensors) if self.active else tensors

    def check_size(self, height: int, width: int) -> None:
        """Fail before any work when the image size cannot be tiled over the ranks."""
        if self.sp is not None:
            self.sp.check_size(height, width)

    def run(self, dit: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
            **kwargs) -> torch.Tensor:  # fmt: skip
        """The DiT on a batch; with the CFG axis this rank runs its half of [uncond, cond] and the halves are
        exchanged, so every rank returns the whole batch's prediction."""
        if self.cfg is not None and x.shape[0] == 2:
            i = slice(self.cfg.index, self.cfg.index + 1)
            return self.cfg.gather(dit(x[i], t[i], text[i], mask[i], sp=self.sp, **kwargs))
        return dit(x, t, text, mask, sp=self.sp, **kwargs)


def setup_parallel(num_heads: int, sp_size: int, cfg_parallel: bool = False) -> Parallel:
    """Sequence parallelism (and the CFG axis) over the default process group, whose world size must be
    sp_size × (2 if cfg_parallel else 1), for a DiT with ``num_heads`` attention heads."""
    if not isinstance(sp_size, int) or sp_size < 1:
        raise ParallelConfigError(f"sp_size must be an integer >= 1, got {sp_size!r}")
    cfg = 2 if cfg_parallel else 1
    if not dist.is_available() or not dist.is_initialized():
        raise ParallelConfigError(
            f"sp_size={sp_size}{' with cfg_parallel' if cfg_parallel else ''} needs an initialized torch.distributed "
            f"process group (run under torchrun with --nproc_per_node={sp_size * cfg}, or call "
            f"torch.distributed.init_process_group first)"
        )
    world = dist.get_world_size()
    if world != sp_size * cfg:
        raise ParallelConfigError(
            f"sp_size={sp_size}{' x 2 (cfg_parallel)' if cfg_parallel else ''} = {sp_size * cfg} ranks disagrees "
            f"with the process group's world size {world}"
        )
    if num_heads % sp_size:
        raise ParallelConfigError(
            f"the DiT's {num_heads} heads cannot be split over sp_size={sp_size}; use a divisor of {num_heads}"
        )
    rank = dist.get_rank()
    # Every rank must create every group, in the same order.
    sp_groups = [dist.new_group([c * sp_size + i for i in range(sp_size)]) for c in range(cfg)] if cfg > 1 else [None]
    pairs = [dist.new_group([i, sp_size + i]) for i in range(sp_size)] if cfg > 1 else []
    index, local = divmod(rank, sp_size)
    sp = SequenceParallel(sp_size, group=sp_groups[index]) if sp_size > 1 else None
    return Parallel(sp, CfgParallel(index, pairs[local]) if cfg > 1 else None)


def broadcast(x: torch.Tensor) -> torch.Tensor:
    """Global rank 0's value of x on every rank."""
    dist.broadcast(x, src=0)
    return x


def init_process_group(world_size: int, device: str) -> str:
    """Join the torchrun job (NCCL for CUDA, gloo for CPU); returns this rank's device."""
    if "WORLD_SIZE" not in os.environ:
        raise ParallelConfigError(f"parallel runs must start under torchrun --nproc_per_node={world_size}")
    cuda = str(device).startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return device


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()

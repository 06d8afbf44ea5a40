"""Block-sparse attention (BSA), what the original's Triton BSA computes, on torch FlexAttention.

Tokens of a (T, H, W) latent grid are regrouped into 3D chunks (64 tokens for the hub's 4×4×4); each
query chunk attends, with an exact softmax, to the key chunks whose block-mean key has the largest dot
product with its block-mean query: top int((1 − sparsity)·n_kv_chunks), nothing forced, zeros where that
is none. FlexAttention takes the selection as a BlockMask of fully kept blocks, so no kernel is written
here; a masked-SDPA path (the token mask expanded from the block mask) is the reference.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, flex_attention

from .errors import InvalidInputError

Grid = tuple[int, int, int]
# "flex": FlexAttention compiled (the fast path); "flex_eager": the same uncompiled (materializes all scores);
# "sdpa": masked SDPA, the reference.
KERNELS = ("flex", "flex_eager", "sdpa")
ATTENTION_MODES = ("dense", "bsa")
HEAD_DIMS = (16, 32, 64, 128, 256)  # what the original kernel accepts
REFINE_PADDING = "the refinement pads the video to a multiple of 4 latent frames and the image to multiples of 64 px"


def _chunk(value: Any, name: str) -> Grid:
    if not (isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(v, int) and v > 0 for v in value)):
        raise InvalidInputError(f"bsa_params {name} must be three positive integers (t, h, w), got {value!r}")
    return tuple(value)


def _fraction(value: Any, name: str) -> float | None:
    if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
        raise InvalidInputError(f"bsa_params {name} must be a number in [0, 1] or null, got {value!r}")
    return value


@dataclass(frozen=True)
class BSAParams:
    """``bsa_params`` of dit/config.json. A missing key takes the default of the original's
    ``flash_attn_bsa_3d`` (which receives the dict as keyword arguments); the hub sets all but cdf_threshold."""

    sparsity: float | None = 0.875
    cdf_threshold: float | None = None
    chunk_3d_shape_q: Grid = (4, 4, 8)
    chunk_3d_shape_k: Grid = (4, 4, 8)

    def __post_init__(self) -> None:
        _fraction(self.sparsity, "sparsity")
        _fraction(self.cdf_threshold, "cdf_threshold")
        if self.sparsity is None and self.cdf_threshold is None:
            raise InvalidInputError("bsa_params needs sparsity, cdf_threshold or both; both are null")
        object.__setattr__(self, "chunk_3d_shape_q", _chunk(self.chunk_3d_shape_q, "chunk_3d_shape_q"))
        object.__setattr__(self, "chunk_3d_shape_k", _chunk(self.chunk_3d_shape_k, "chunk_3d_shape_k"))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BSAParams:
        unknown = set(raw) - {"sparsity", "cdf_threshold", "chunk_3d_shape_q", "chunk_3d_shape_k"}
        if unknown:
            raise InvalidInputError(
                f"bsa_params has unknown keys {sorted(unknown)}; allowed: sparsity, cdf_threshold, "
                f"chunk_3d_shape_q, chunk_3d_shape_k"
            )
        return cls(**raw)


@dataclass(frozen=True)
class BlockSparse:
    """``attention="bsa"`` spelled out: the parameters (None: the checkpoint's bsa_params) and the kernel."""

    params: BSAParams | None = None
    kernel: str = "flex"

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise InvalidInputError(f"BSA kernel must be one of {KERNELS}, got {self.kernel!r}")


def attention_mode(attention: str | BlockSparse) -> BlockSparse | None:
    """The BSA choice of an ``attention=`` argument ("dense" → None, "bsa" → the defaults)."""
    if isinstance(attention, BlockSparse):
        return attention
    if attention not in ATTENTION_MODES:
        raise InvalidInputError(f"attention must be one of {ATTENTION_MODES} (or a BlockSparse), got {attention!r}")
    return BlockSparse() if attention == "bsa" else None


# ---- geometry ----


def block_order(grid: Grid, chunk: Grid) -> torch.Tensor:
    """Raster (t, h, w) index of each token in block order: chunks in (nt, nh, nw) raster order, the
    tokens of a chunk in (t, h, w) raster order."""
    check_grid(grid, chunk)
    (t, h, w), (ct, ch, cw) = grid, chunk
    raster = torch.arange(t * h * w).view(t // ct, ct, h // ch, ch, w // cw, cw)
    return raster.permute(0, 2, 4, 1, 3, 5).flatten()


def tile_order(grid: Grid, tiles: tuple[int, int]) -> torch.Tensor:
    """Raster index of each position of a sequence laid out tile by tile: each frame cut into a×b tiles,
    tiles in row-major order, each tile's tokens (all frames) in (t, h, w) raster order. This is the order
    of the Ulysses sequence under sequence parallel (parallel.py: rank i·b + j holds tile (i, j))."""
    (t, h, w), (a, b) = grid, tiles
    raster = torch.arange(t * h * w).view(t, a, h // a, b, w // b)
    return raster.permute(1, 3, 0, 2, 4).flatten()


def sequence_block_order(grid: Grid, chunk: Grid, tiles: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """Sequence position of each token in block order, for a sequence in ``tile_order`` (raster if 1×1)."""
    blocks = block_order(grid, chunk)
    if tiles == (1, 1):
        return blocks
    position = torch.empty_like(blocks)
    position[tile_order(grid, tiles)] = torch.arange(blocks.numel())
    return position[blocks]


@functools.lru_cache(maxsize=32)
def _device_order(grid: Grid, chunk: Grid, tiles: tuple[int, int], device: torch.device) -> torch.Tensor:
    """``sequence_block_order`` on ``device``, copied there once (read-only: shared by every call)."""
    return sequence_block_order(grid, chunk, tiles).to(device)


def check_grid(grid: Grid, chunk: Grid) -> None:
    if any(g % c for g, c in zip(grid, chunk, strict=True)):
        raise InvalidInputError(
            f"block-sparse attention cannot cut the latent token grid (frames x patch rows x patch cols) "
            f"{'x'.join(map(str, grid))} into {'x'.join(map(str, chunk))} chunks: each must divide it; "
            f"{REFINE_PADDING} (4 latents, 4 patches), or use attention='dense'"
        )


def check_head_dim(head_dim: int) -> None:
    if head_dim not in HEAD_DIMS:
        raise InvalidInputError(
            f"block-sparse attention supports head_dim in {HEAD_DIMS} (the original kernel's), got {head_dim}; "
            f"use attention='dense'"
        )


def check_layout(grid: Grid, num_cond_latents: int, params: BSAParams, head_dim: int) -> None:
    """Fail before any work where a DiT forward with BSA would (the calls' q and k grids, the head size)."""
    check_head_dim(head_dim)
    t, h, w = grid
    q_frames = [num_cond_latents, t - num_cond_latents] if num_cond_latents else [t]
    k_frames = [num_cond_latents, t] if num_cond_latents else [t]
    for frames in q_frames:
        check_grid((frames, h, w), params.chunk_3d_shape_q)
    for frames in k_frames:
        check_grid((frames, h, w), params.chunk_3d_shape_k)


# ---- gating ----


def block_means(x: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """[B, heads, n·chunk_size, D] in block order → the float32 mean of each chunk, [B, heads, n, D]."""
    b, heads, s, d = x.shape
    return x.float().view(b, heads, s // chunk_size, chunk_size, d).mean(dim=3)


def select_blocks(q_mean: torch.Tensor, k_mean: torch.Tensor, params: BSAParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept kv blocks per query block from block means [B, heads, nq, D] / [B, heads, nk, D]:
    (indices [B, heads, nq, width], counts [B, heads, nq]); the first counts[...] indices of a row are kept.

    score = q_mean·k_meanᵀ, unscaled. sparsity: the top int((1 − sparsity)·nk) by score. cdf_threshold: the
    most blocks, by descending softmax(score/√d), whose cumulative weight stays ≤ the threshold; with both,
    the larger count."""
    score = q_mean @ k_mean.transpose(-1, -2)
    nk = score.shape[-1]
    top = int((1 - params.sparsity) * nk) if params.sparsity is not None else 0
    if params.cdf_threshold is None:
        indices = torch.topk(score, top, dim=-1).indices
        return indices, torch.full(score.shape[:-1], top, dtype=torch.int64, device=score.device)
    weights, indices = torch.sort(torch.softmax(score * q_mean.shape[-1] ** -0.5, dim=-1), dim=-1, descending=True)
    counts = (torch.cumsum(weights, dim=-1) <= params.cdf_threshold).sum(dim=-1)
    return indices, counts.clamp(min=top)


def block_mask(indices: torch.Tensor, counts: torch.Tensor, num_kv_blocks: int) -> torch.Tensor:
    """The boolean block mask [B, heads, nq, nk] of a selection: True where a query block attends a kv block."""
    kept = torch.arange(indices.shape[-1], device=indices.device) < counts[..., None]
    mask = torch.zeros(*indices.shape[:-1], num_kv_blocks + 1, dtype=torch.bool, device=indices.device)
    return mask.scatter_(-1, torch.where(kept, indices, num_kv_blocks), True)[..., :num_kv_blocks]


# ---- kernels (q, k, v in block order) ----


@functools.cache
def _compiled_flex() -> Callable[..., torch.Tensor]:
    return typing.cast(Callable[..., torch.Tensor], torch.compile(flex_attention, dynamic=False))


def _flex(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor,
    mask: torch.Tensor, chunks: tuple[int, int], compiled: bool,
) -> torch.Tensor:  # fmt: skip
    """Every selected block is fully kept ("full" blocks, no mask_mod inside them); the eager path evaluates
    mask_mod on all scores instead, so mask_mod states the same mask."""
    cq, ck = chunks
    b, heads, nq = counts.shape

    def lookup(bi: torch.Tensor, hi: torch.Tensor, qi: torch.Tensor, ki: torch.Tensor) -> torch.Tensor:
        return mask[bi, hi, qi // cq, ki // ck]

    # No partial blocks; their index table still has to span all kv blocks (inductor's CPU lowering reads
    # the kv length from its width), so it is a broadcast zero, not memory.
    no_partial = torch.zeros((), dtype=torch.int32, device=q.device)
    blocks = BlockMask.from_kv_blocks(
        no_partial.expand(b, heads, nq), no_partial.expand(b, heads, nq, k.shape[2] // ck),
        counts.to(torch.int32), indices.to(torch.int32),
        BLOCK_SIZE=(cq, ck), mask_mod=lookup, seq_lengths=(q.shape[2], k.shape[2]), compute_q_blocks=False,
    )  # fmt: skip
    # Inductor's default CUDA tiles can be larger than a chunk (H100, bf16, head_dim 128: BLOCK_M = 128), which
    # flex refuses for 64-token blocks; tiles must divide the chunks. Not exercised here: no GPU on CI.
    options = {"BLOCK_M": math.gcd(cq, 64), "BLOCK_N": math.gcd(ck, 64)} if q.is_cuda else None
    attend = _compiled_flex() if compiled else typing.cast(Callable[..., torch.Tensor], flex_attention)
    return attend(q, k, v, block_mask=blocks, scale=q.shape[-1] ** -0.5, kernel_options=options)


def _masked_sdpa(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, chunks: tuple[int, int]
) -> torch.Tensor:
    tokens = mask.repeat_interleave(chunks[0], dim=2).repeat_interleave(chunks[1], dim=3)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=tokens, scale=q.shape[-1] ** -0.5)


def block_sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    frame: tuple[int, int],
    params: BSAParams,
    kernel: str = "flex",
    tiles: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """BSA over q [B, heads, Sq, D], k/v [B, heads, Sk, D]: whole latent frames of a token grid with
    ``frame`` = (patch rows, patch cols), in (t, h, w) raster order, or tile by tile (``tile_order``) under
    sequence parallel. Returns [B, heads, Sq, D] in the order of q."""
    check_head_dim(q.shape[-1])
    if kernel not in KERNELS:
        raise InvalidInputError(f"BSA kernel must be one of {KERNELS}, got {kernel!r}")
    per_frame = math.prod(frame)
    grid_q, grid_k = (q.shape[2] // per_frame, *frame), (k.shape[2] // per_frame, *frame)
    if q.shape[2] % per_frame or k.shape[2] % per_frame:
        raise InvalidInputError(f"BSA needs whole {frame[0]}x{frame[1]} frames; got {q.shape[2]}/{k.shape[2]} tokens")
    chunk_q, chunk_k = params.chunk_3d_shape_q, params.chunk_3d_shape_k
    order_q = _device_order(grid_q, chunk_q, tiles, q.device)
    order_k = _device_order(grid_k, chunk_k, tiles, k.device)
    qb = q.index_select(2, order_q)
    kb, vb = k.index_select(2, order_k), v.index_select(2, order_k)
    chunks = (math.prod(chunk_q), math.prod(chunk_k))
    indices, counts = select_blocks(block_means(qb, chunks[0]), block_means(kb, chunks[1]), params)
    # No early return when nothing is kept: asking would block the host on the GPU; rows that keep no block
    # are set to zero below whatever the kernel gives for them.
    mask = block_mask(indices, counts, kb.shape[2] // chunks[1])
    if kernel == "sdpa":
        out = _masked_sdpa(qb, kb, vb, mask, chunks)
    else:
        out = _flex(qb, kb, vb, indices, counts, mask, chunks, compiled=kernel == "flex")
    empty = (counts == 0).repeat_interleave(chunks[0], dim=2)[..., None]
    out = torch.where(empty, 0.0, out)
    return torch.empty_like(out).index_copy_(2, order_q, out)


def attention_fn(
    spec: BlockSparse, params: BSAParams, frame: tuple[int, int], tiles: tuple[int, int] = (1, 1)
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """BSA as an attention(q, k, v) for the DiT's self-attention (``tiles``: sequence parallel's split)."""
    return functools.partial(block_sparse_attention, frame=frame, params=params, kernel=spec.kernel, tiles=tiles)

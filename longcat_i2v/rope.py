"""3D rotary position embedding of the original DiT, with optional conditioning-frame skipping.

The head dimension is split into t | h | w parts (t = d - 4*(d//6), h = w = 2*(d//6)); each part
rotates adjacent pairs (x[2i], x[2i+1]) by position * base^(-2i/dim_axis), computed in float32.

``cond_rope="skip"`` leaves the conditioning frame's tokens unrotated (their queries and keys carry
no position), while the noisy frames keep the positions they have in the full grid (t = 1..T-1), so
everything the noisy tokens compute among themselves is unchanged. The original applies RoPE to the
whole grid; "full" reproduces that and is the default.
"""

from functools import lru_cache

import torch

from .defaults import COND_ROPE_MODES


def axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Split of the head dimension into (t, h, w) rotary parts, as the original does."""
    if head_dim % 8:
        raise ValueError(f"head_dim must be a multiple of 8 for 3D RoPE, got {head_dim}")
    hw = 2 * (head_dim // 6)
    return head_dim - 2 * hw, hw, hw


def _axis_angles(n: int, dim: int, base: float) -> torch.Tensor:
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * freqs[None]
    return angles.repeat_interleave(2, dim=-1)  # each frequency twice, for the (2i, 2i+1) pair


def grid_angles(grid: tuple[int, int, int], head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angles [T*H*W, head_dim] for a latent token grid in T,H,W raster order."""
    t, h, w = grid
    dt, dh, dw = axis_dims(head_dim)
    at = _axis_angles(t, dt, base)[:, None, None, :].expand(t, h, w, dt)
    ah = _axis_angles(h, dh, base)[None, :, None, :].expand(t, h, w, dh)
    aw = _axis_angles(w, dw, base)[None, None, :, :].expand(t, h, w, dw)
    return torch.cat([at, ah, aw], dim=-1).reshape(t * h * w, head_dim)


def rope_cos_sin(
    grid: tuple[int, int, int],
    head_dim: int,
    num_cond_latents: int = 0,
    cond_rope: str = "full",
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables [N, head_dim] (float32) for the grid; identity rotation on skipped cond tokens.
    Cached per (grid, mode, device): every step of a video reuses them (treat them as read-only)."""
    if cond_rope not in COND_ROPE_MODES:
        raise ValueError(f"cond_rope must be one of {COND_ROPE_MODES}, got {cond_rope!r}")
    n_cond = num_cond_latents if cond_rope == "skip" else 0
    return _cos_sin(tuple(grid), head_dim, n_cond, str(torch.device(device)))


@lru_cache(maxsize=8)
def _cos_sin(
    grid: tuple[int, int, int], head_dim: int, skip_latents: int, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    angles = grid_angles(grid, head_dim)
    cos, sin = angles.cos(), angles.sin()
    n_cond = skip_latents * grid[1] * grid[2]
    cos[:n_cond] = 1.0
    sin[:n_cond] = 0.0
    return cos.to(device), sin.to(device)


def _rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [B, heads, N, D] in float32 and return it in x's dtype."""
    xf = x.float()
    return (xf * cos + _rotate_pairs(xf) * sin).type_as(x)

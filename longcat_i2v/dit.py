"""The LongCat-Video DiT (LongCatVideoTransformer3DModel), written anew with the original's
parameter names so that hub checkpoints load without conversion.

Modulation (adaLN), the timestep embedder and the final layer run in float32 as in the original
(which wraps them in fp32 autocast); those modules are kept in float32 when the model is cast to
half precision (see ``FP32_MODULES``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from . import bsa
from .attention import AttentionFn, CrossAttention, KVStore, SelfAttention, attend
from .errors import InvalidInputError
from .rope import rope_cos_sin

if TYPE_CHECKING:
    from .cache import KVCache
    from .parallel import SequenceParallel, Tiling

# Module name patterns whose parameters stay float32 whatever the model dtype.
FP32_MODULES = ("t_embedder.", "adaLN_modulation.", "final_layer.")


@dataclass(frozen=True)
class DiTConfig:
    """The fields of the original ``dit/config.json`` that shape the network."""

    in_channels: int = 16
    out_channels: int = 16
    hidden_size: int = 4096
    depth: int = 48
    num_heads: int = 32
    caption_channels: int = 4096
    mlp_ratio: int = 4
    adaln_tembed_dim: int = 512
    frequency_embedding_size: int = 256
    patch_size: tuple[int, int, int] = (1, 2, 2)
    text_tokens_zero_pad: bool = False
    bsa_params: bsa.BSAParams | None = None  # what attention="bsa" uses

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DiTConfig:
        """Keep the shape fields and bsa_params; attention-backend and context-parallel fields are runtime
        choices here (enable_bsa too: BSA is chosen per call)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in raw.items() if k in known}
        if "patch_size" in kwargs:
            kwargs["patch_size"] = tuple(kwargs["patch_size"])
        if kwargs.get("bsa_params") is not None:
            kwargs["bsa_params"] = bsa.BSAParams.from_dict(kwargs["bsa_params"])
        return cls(**kwargs)

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU width: 2/3 of hidden*mlp_ratio, rounded up to a multiple of 256 (the original's rule)."""
        hidden = int(2 * self.hidden_size * self.mlp_ratio / 3)
        return 256 * ((hidden + 255) // 256)


def layer_norm_fp32(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """LayerNorm evaluated in float32 and cast back to x's dtype."""
    w = None if norm.weight is None else norm.weight.float()
    b = None if norm.bias is None else norm.bias.float()
    return F.layer_norm(x.float(), norm.normalized_shape, w, b, norm.eps).to(x.dtype)


def modulate(x: torch.Tensor, norm: nn.LayerNorm, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: norm(x)·(1+scale)+shift in float32, per frame; x [B, T, n, C], shift/scale [B, T, 1, C]."""
    return (layer_norm_fp32(x.float(), norm) * (scale + 1) + shift).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [N, dim], ordered [cos, sin], on raw timesteps in [0, 1000]."""
    half = dim // 2
    args = t[:, None].float() * _frequencies(half, max_period, t.device)[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1) if dim % 2 else emb


@functools.lru_cache(maxsize=8)
def _frequencies(half: int, max_period: float, device: torch.device) -> torch.Tensor:
    """exp(−ln(max_period)·i/half), computed on the CPU as the original computes it and copied to the device once:
    a copy at every step would block the host on the GPU's queue (read-only: shared by every call)."""
    return torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).to(device)


class PatchEmbed3D(nn.Module):
    def __init__(self, patch: tuple[int, int, int], in_ch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(in_ch, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, C, T, H, W] -> [B, T*H*W, C]


class TimestepEmbedder(nn.Module):
    def __init__(self, out_dim: int, freq_dim: int) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        first = self.mlp[0]
        assert isinstance(first, nn.Linear)
        return self.mlp(timestep_embedding(t, self.freq_dim).to(first.weight.dtype))


class CaptionEmbedder(nn.Module):
    def __init__(self, in_ch: int, dim: int) -> None:
        super().__init__()
        self.y_proj = nn.Sequential(nn.Linear(in_ch, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.y_proj(y)


class FeedForwardSwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    """adaLN-modulated self-attention, ungated cross-attention, adaLN-modulated SwiGLU."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_tembed_dim, 6 * d))
        self.mod_norm_attn = nn.LayerNorm(d, eps=1e-6, elementwise_affine=False)
        self.mod_norm_ffn = nn.LayerNorm(d, eps=1e-6, elementwise_affine=False)
        self.pre_crs_attn_norm = nn.LayerNorm(d, eps=1e-6, elementwise_affine=True)
        self.attn = SelfAttention(d, cfg.num_heads)
        self.cross_attn = CrossAttention(d, cfg.num_heads)
        self.ffn = FeedForwardSwiGLU(d, cfg.ffn_hidden)

    def forward(
        self,
        x: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor | None,
        temb: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        num_cond_tokens: int,
        run: AttentionFn,
        cached: tuple[torch.Tensor, torch.Tensor] | None = None,
        fill: KVStore | None = None,
    ) -> torch.Tensor:
        """``cached``: the conditioning tokens' pre-RoPE (k, v) in front of x's own; ``fill``: store x's.
        ``text`` None: no cross-attention (the conditioning pass)."""
        b, n, c = x.shape
        t = temb.shape[1]
        dtype = x.dtype
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = self.adaLN_modulation(temb).unsqueeze(2).chunk(6, -1)

        h = modulate(x.view(b, t, -1, c), self.mod_norm_attn, shift_a, scale_a).view(b, n, c)
        h = self.attn(h, *rope, num_cond_tokens, run, cached, fill)
        x = (x + (gate_a * h.view(b, t, -1, c)).view(b, n, c)).to(dtype)

        if text is not None:
            x = x + self.cross_attn(layer_norm_fp32(x, self.pre_crs_attn_norm), text, text_mask, num_cond_tokens)

        h = self.ffn(modulate(x.view(b, t, -1, c), self.mod_norm_ffn, shift_f, scale_f).view(b, n, c))
        return (x + (gate_f * h.view(b, t, -1, c)).view(b, n, c)).to(dtype)


class FinalLayer(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.norm_final = nn.LayerNorm(d, eps=1e-6, elementwise_affine=False)
        self.linear = nn.Linear(d, math.prod(cfg.patch_size) * cfg.out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_tembed_dim, 2 * d))

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        shift, scale = self.adaLN_modulation(temb).unsqueeze(2).chunk(2, dim=-1)
        x = modulate(x.view(b, temb.shape[1], -1, c), self.norm_final, shift, scale).view(b, n, c)
        return self.linear(x.to(self.linear.weight.dtype))


class LongCatDiT(nn.Module):
    """Denoiser: latents [B, 16, T, H, W] + per-frame timesteps + text → velocity, float32."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        if cfg.patch_size[0] != 1:
            raise ValueError(f"temporal patch size must be 1 (the original's), got {cfg.patch_size}")
        if cfg.hidden_size % cfg.num_heads:
            raise ValueError(f"hidden_size {cfg.hidden_size} is not divisible by num_heads {cfg.num_heads}")
        self.config = cfg
        self.x_embedder = PatchEmbed3D(cfg.patch_size, cfg.in_channels, cfg.hidden_size)
        self.t_embedder = TimestepEmbedder(cfg.adaln_tembed_dim, cfg.frequency_embedding_size)
        self.y_embedder = CaptionEmbedder(cfg.caption_channels, cfg.hidden_size)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final_layer = FinalLayer(cfg)

    @property
    def dtype(self) -> torch.dtype:
        return self.x_embedder.proj.weight.dtype

    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None,
        encoder_attention_mask: torch.Tensor | None = None,
        num_cond_latents: int = 0,
        cond_rope: str = "full",
        attention: str | bsa.BlockSparse = "dense",
        sp: SequenceParallel | None = None,
        kv_cache: KVCache | None = None,
        fill_kv_cache: KVCache | None = None,
    ) -> torch.Tensor:
        """hidden_states [B, C, T, H, W]; timestep [B] or [B, T]; encoder_hidden_states [B, 1, L, C_text];
        encoder_attention_mask [B, L]. ``attention``: the self-attention, "dense" or "bsa" (block-sparse where
        the original applies it: more than one latent frame). ``sp``: this rank's sequence-parallel group, if
        any. ``kv_cache``: the conditioning frames' keys and values (cache.py); hidden_states are then the
        noisy latents only, the frames after the cache's ``num_cond_latents``. ``fill_kv_cache``: the
        conditioning pass instead (``cache_conditioning``). Returns [B, C_out, T, H, W] in float32."""
        if kv_cache is not None and num_cond_latents != kv_cache.num_latents:
            raise ValueError(f"num_cond_latents={num_cond_latents} disagrees with the cache's {kv_cache.num_latents}")
        text, text_mask = None, None
        if encoder_hidden_states is not None:
            text, text_mask = self._embed_text(encoder_hidden_states, encoder_attention_mask)
        layout = (num_cond_latents, cond_rope, attention, sp, kv_cache, fill_kv_cache)
        return self._run(hidden_states, timestep, text, text_mask, *layout)

    def cache_conditioning(
        self,
        cond_latents: torch.Tensor,
        cache: KVCache,
        cond_rope: str = "full",
        attention: str | bsa.BlockSparse = "dense",
        sp: SequenceParallel | None = None,
    ) -> torch.Tensor:
        """The conditioning pass: the clean latents [1, C, n, H, W] alone at t = 0 without cross-attention (no
        text), each block's pre-RoPE k, v stored in ``cache``; returns their velocity [1, C_out, n, H, W], which
        equals what the full forward computes for them (they attend only to themselves there too). It runs
        through ``forward``, so module hooks see it as they see the original's cache call."""
        t = torch.zeros(cond_latents.shape[0], cond_latents.shape[2], device=cond_latents.device)
        n = cond_latents.shape[2]
        return self(cond_latents, t, None, None, n, cond_rope, attention, sp, fill_kv_cache=cache)

    def _embed_text(
        self, encoder_hidden_states: torch.Tensor, encoder_attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        text = self.y_embedder(encoder_hidden_states.to(self.dtype)).squeeze(1)
        if self.config.text_tokens_zero_pad and encoder_attention_mask is not None:
            # Padded positions become zero vectors that still take part in cross-attention.
            return text * encoder_attention_mask[:, :, None].to(text.dtype), None
        return text, encoder_attention_mask

    def _run(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        text: torch.Tensor | None,
        text_mask: torch.Tensor | None,
        num_cond_latents: int,
        cond_rope: str,
        attention: str | bsa.BlockSparse,
        sp: SequenceParallel | None,
        kv_cache: KVCache | None,
        fill: KVCache | None = None,
    ) -> torch.Tensor:
        """The forward on embedded text (None: no cross-attention). Three layouts: all frames, the conditioning
        ones first (no cache); the noisy frames after a ``kv_cache``; the conditioning frames alone, filling
        ``fill``."""
        cfg = self.config
        b, _, t, h, w = hidden_states.shape
        _, ph, pw = cfg.patch_size
        if h % ph or w % pw:
            raise ValueError(f"latent height/width {h}x{w} must be multiples of the patch size {ph}x{pw}")
        grid = (t, h // ph, w // pw)  # the tokens computed here
        cached = 0 if kv_cache is None else kv_cache.num_latents
        full = (cached + t, *grid[1:])  # the grid they sit in: RoPE positions, BSA geometry
        mode = self.check_attention(full, num_cond_latents, attention)
        if timestep.dim() == 1:
            timestep = timestep[:, None].expand(-1, t)
        dtype = self.dtype

        x = self.x_embedder(hidden_states.to(dtype))
        # The original rounds t to the DiT dtype before embedding it in float32.
        temb = self.t_embedder(timestep.to(dtype).float().flatten()).reshape(b, t, -1)

        head_dim = cfg.hidden_size // cfg.num_heads
        cos, sin = rope_cos_sin(full, head_dim, num_cond_latents, cond_rope, device=x.device)
        tiling = None
        if sp is not None:
            tiling = sp.tiling(grid)
            x, cos, sin = sp.tile(x, tiling), sp.tile(cos, sp.tiling(full)), sp.tile(sin, sp.tiling(full))
        # Tokens of the conditioning frames among this call's: none when they are cached or are all there is.
        split = 0 if kv_cache is not None or fill is not None else num_cond_latents
        num_cond_tokens = split * (x.shape[1] // t)
        run = self._self_attention(mode, full, sp, sp.tiling(full) if sp is not None else None)
        for i, block in enumerate(self.blocks):
            cache = None if kv_cache is None else kv_cache.block(i)
            x = block(x, text, text_mask, temb, (cos, sin), num_cond_tokens, run, cache, fill)
        x = self.final_layer(x, temb)
        if sp is not None and tiling is not None:
            x = sp.gather(x, tiling)
        return self.unpatchify(x, grid).float()

    def check_attention(
        self, grid: tuple[int, int, int], num_cond_latents: int, attention: str | bsa.BlockSparse
    ) -> bsa.BlockSparse | None:
        """The BSA choice of ``attention`` for a (latents, patch rows, patch cols) token grid, refused before any
        work where BSA could not run on it (chunks that do not divide the grid, head size, no bsa_params)."""
        mode = bsa.attention_mode(attention)
        if mode is not None and grid[0] > 1:
            cfg = self.config
            bsa.check_layout(grid, num_cond_latents, self._bsa_params(mode), cfg.hidden_size // cfg.num_heads)
        return mode

    def _bsa_params(self, mode: bsa.BlockSparse) -> bsa.BSAParams:
        params = mode.params or self.config.bsa_params
        if params is None:
            raise InvalidInputError(
                "attention='bsa' needs bsa_params in the DiT's config.json (the hub checkpoint has them); "
                "this checkpoint has none: use attention='dense' or pass BlockSparse(params=BSAParams(...))"
            )
        return params

    def _self_attention(
        self,
        mode: bsa.BlockSparse | None,
        grid: tuple[int, int, int],
        sp: SequenceParallel | None,
        tiling: Tiling | None,
    ) -> AttentionFn:
        """The attention(q, k, v) of this forward: dense, or BSA where there is more than one latent frame;
        under sequence parallel inside Ulysses, told the tile layout of its sequence."""
        if mode is None or grid[0] == 1:
            return attend if sp is None else sp.attend
        tiles = (1, 1) if tiling is None else tiling.split
        run = bsa.attention_fn(mode, self._bsa_params(mode), grid[1:], tiles)
        return run if sp is None else functools.partial(sp.attend, attention=run)

    def unpatchify(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """[B, N, (pt ph pw C)] channel-minor patches → [B, C, T, H, W]."""
        nt, nh, nw = grid
        pt, ph, pw = self.config.patch_size
        c = self.config.out_channels
        x = x.reshape(x.shape[0], nt, nh, nw, pt, ph, pw, c)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(x.shape[0], c, nt * pt, nh * ph, nw * pw)

"""Self- and cross-attention of the LongCat DiT, with the conditioning/noise split, and the attention kernel.

Parameter names (``qkv``, ``q_linear``, ``kv_linear``, ...) are the original's, so hub weights load
as they are. The kernel is chosen in one place, here (``resolve_kernel``, ``using_kernel``): torch SDPA (which
picks cuDNN/flash/efficient itself on CUDA), flash-attn 2 (the original's kernel) or FlashAttention-3 (Hopper).
The flash kernels run where they apply, unmasked half-precision attention on CUDA; everything else (the masked
text cross-attention, float32, the CPU) is SDPA.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .defaults import ATTENTION_KERNELS
from .errors import InvalidInputError, MissingDependencyError
from .rope import apply_rope

# attention(q, k, v) over [B, heads, N, D] tensors: ``attend`` here, or sequence parallel's Ulysses wrapper.
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class KVStore(Protocol):
    """Where the conditioning pass puts each block's pre-RoPE keys and values (cache.KVCache)."""

    def store(self, k: torch.Tensor, v: torch.Tensor) -> None: ...


FLASH_MODULES = {"flash": "flash_attn", "flash3": "flash_attn_interface"}
FLASH_PACKAGES = {"flash": "flash-attn (pip install flash-attn)", "flash3": "FlashAttention-3 (flash_attn_interface, "
                  "built from the hopper/ folder of Dao-AILab/flash-attention)"}  # fmt: skip
_HALF = (torch.float16, torch.bfloat16)


def installed(kernel: str) -> bool:
    """Whether the package of a flash kernel can be imported ('sdpa' is always there)."""
    return kernel == "sdpa" or importlib.util.find_spec(FLASH_MODULES[kernel]) is not None


def resolve_kernel(name: str, device: torch.device | str, dtype: torch.dtype) -> str:
    """The kernel ``name`` means for a model on ``device`` in ``dtype``: 'auto' is FlashAttention-3 on a Hopper
    GPU, else flash-attn 2, when installed and the model is half precision on CUDA, else SDPA. An explicit
    flash kernel that is not installed, or cannot run there, is an error."""
    if name not in ATTENTION_KERNELS:
        raise InvalidInputError(f"attention={name!r} is invalid: must be one of {', '.join(ATTENTION_KERNELS)}")
    device = torch.device(device)
    runs = device.type == "cuda" and dtype in _HALF
    if name == "auto":
        if runs and installed("flash3") and torch.cuda.get_device_capability(device)[0] == 9:
            return "flash3"
        return "flash" if runs and installed("flash") else "sdpa"
    if name == "sdpa":
        return name
    if not installed(name):
        raise MissingDependencyError(f"attention={name!r} needs {FLASH_PACKAGES[name]}, which is not installed; "
                                     "use attention='auto' or 'sdpa'")  # fmt: skip
    if not runs:
        raise InvalidInputError(
            f"attention={name!r} runs on CUDA in bfloat16/float16, and this model is on {device} in "
            f"{str(dtype).removeprefix('torch.')}; use attention='auto' or 'sdpa'"
        )
    return name


# The kernel ``attend`` uses, and its function: a pipeline sets its own for each of its generations
# (``using_kernel``); outside one (a direct DiT call), SDPA.
_kernel = "sdpa"
_flash_fn: Callable[..., torch.Tensor] | None = None


@contextlib.contextmanager
def using_kernel(kernel: str) -> Iterator[None]:
    """``attend`` uses ``kernel`` (a resolved one: 'sdpa', 'flash', 'flash3') inside the block."""
    global _kernel, _flash_fn
    if kernel not in FLASH_MODULES and kernel != "sdpa":
        raise InvalidInputError(f"kernel must be 'sdpa', 'flash' or 'flash3' (resolve_kernel's), got {kernel!r}")
    fn = None if kernel == "sdpa" else importlib.import_module(FLASH_MODULES[kernel]).flash_attn_func
    saved = _kernel, _flash_fn
    _kernel, _flash_fn = kernel, fn
    try:
        yield
    finally:
        _kernel, _flash_fn = saved


def current_kernel() -> str:
    return _kernel


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d)) v over [B, heads, N, D] tensors; ``mask`` [B, 1, 1, Nk] is True where kept."""
    if mask is None and _flash_fn is not None and q.is_cuda and q.dtype in _HALF:
        out = _flash_fn(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out[0] if isinstance(out, tuple) else out  # FlashAttention-3 releases differ: out or (out, lse)
        return out.transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=q.shape[-1] ** -0.5)


class RMSNorm(nn.Module):
    """RMSNorm computed in float32, cast back, then scaled: the original's order of operations
    (torch.nn.RMSNorm applies the gain before the cast, which differs in half precision)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class SelfAttention(nn.Module):
    """Fused-qkv self-attention: conditioning queries see only conditioning keys, noisy queries see all."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        num_cond_tokens: int,
        run: AttentionFn = attend,
        cached: tuple[torch.Tensor, torch.Tensor] | None = None,
        fill: KVStore | None = None,
    ) -> torch.Tensor:
        """x [B, N, C] (N local tokens under sequence parallel, where ``run`` is its Ulysses attention) → [B, N, C].
        ``fill``: store this block's k, v before RoPE (the conditioning pass). ``cached``: the conditioning tokens'
        pre-RoPE (k, v) [1, heads, Nc, D], put in front of x's own; cos/sin then cover Nc + N tokens."""
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if fill is not None:
            fill.store(k, v)
        if cached is not None:
            nc = cached[0].shape[2]
            k = torch.cat([cached[0].expand(b, -1, -1, -1), k], dim=2)
            v = torch.cat([cached[1].expand(b, -1, -1, -1), v], dim=2)
            out = run(apply_rope(q, cos[nc:], sin[nc:]).contiguous(), apply_rope(k, cos, sin), v)
            return self.proj(out.transpose(1, 2).reshape(b, n, c))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if num_cond_tokens > 0:
            nc = num_cond_tokens
            out_cond = run(q[:, :, :nc].contiguous(), k[:, :, :nc].contiguous(), v[:, :, :nc].contiguous())
            out_noise = run(q[:, :, nc:].contiguous(), k, v)
            out = torch.cat([out_cond, out_noise], dim=2)
        else:
            out = run(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class CrossAttention(nn.Module):
    """Text cross-attention; conditioning tokens are left out of the query and get zero output."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_linear = nn.Linear(dim, dim)
        self.kv_linear = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)

    def forward(
        self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor | None, num_cond_tokens: int
    ) -> torch.Tensor:
        """x [B, N, C], text [B, L, C], text_mask [B, L] (nonzero = attend) or None → [B, N, C]."""
        b, n, c = x.shape
        xq = x[:, num_cond_tokens:]
        q = self.q_norm(self.q_linear(xq).view(b, -1, self.num_heads, self.head_dim)).transpose(1, 2)
        k, v = self.kv_linear(text).view(b, -1, 2, self.num_heads, self.head_dim).unbind(2)
        k = self.k_norm(k).transpose(1, 2)
        mask = None if text_mask is None else (text_mask != 0)[:, None, None, :]
        out = self.proj(attend(q, k, v.transpose(1, 2), mask).transpose(1, 2).reshape(b, -1, c))
        if num_cond_tokens == 0:
            return out
        return torch.cat([out.new_zeros(b, num_cond_tokens, c), out], dim=1)

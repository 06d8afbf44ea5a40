"""What fits on a GPU: estimated peak memory of each stage of a generation for each offload mode, and the cheapest
mode that fits a budget (``longcat-i2v plan``).

Weights come from the configs (modules built on the meta device and counted). Activations come from the token
count, by formulas that follow what the code keeps alive at its peak (checked against measured peaks in the tests):
- DiT, per rank: at real width the peak is the RoPE of k inside self-attention (block input, modulated input,
  qkv, normed q and k, rotated q in the model dtype; a float32 copy, x·cos, rotated pairs and ·sin in float32);
  for wide FFNs it is the SwiGLU (w1→silu, w3 and their product next to four hidden-size tensors);
- VAE: diffusers' ``AutoencoderKLWan`` decodes one latent frame (4 video frames) at a time, so its activations
  depend on H×W only; the pipeline decodes a few latent frames per chunk and moves each chunk's frames to the
  CPU (``vae_decode``), so the decoded video on the GPU is one chunk's.

Modes (what stays on the GPU, ``offload.py``): ``none`` every component, always; ``model`` each component only
while it works (text encoder, VAE encode, DiT, VAE decode); ``group`` as ``model``, and the DiT's blocks stream
from pinned CPU memory one group ahead (two groups resident); ``sequential`` the text encoder runs on the CPU,
every DiT layer is moved to the GPU just for its own forward (two layers counted), the VAE while it works. In
every mode a continuation's K/V cache is on the GPU whole, or with ``offload_kv_cache`` streamed per block (two
counted). ``shard`` (FSDP2 over the sp ranks, with ``none`` only): each rank holds 1/sp of the
DiT and the text encoder, and one unit gathered whole while it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import layouts
from .conditioning import SIZE_MULTIPLE
from .defaults import OFFLOAD_MODES
from .dit import FP32_MODULES, DiTConfig, LongCatDiT
from .files import read_json
from .quant import is_quantized_layer, quantized_weight_bytes
from .vae_decode import CHUNK_LATENTS

GIB = 1024**3
CUDA_RESERVE = 1 * GIB  # CUDA context and cuBLAS/cuDNN workspaces: memory that is no tensor
FRAGMENTATION = 0.05  # the caching allocator's slack over the tensor peak: a guess until bench/gpu_check.py measures it
GROUP_BLOCKS = 1  # DiT blocks per offload group (one block's compute hides the next one's copy)
# The Wan VAE's peaks in units of base_dim × H × W elements, measured (TensorMemory, diffusers 0.35.1, base_dim 8
# and 96, float32 and bfloat16, 64-192 px; rounded up) rather than derived: its causal-conv caches make a formula long.
VAE_DECODE_CHUNK = 52  # decoding one latent frame (measured 48-58)
VAE_ENCODE_CHUNK = 38  # encoding one 4-frame chunk (32-38)
VAE_ENCODE_IMAGE = 11  # encoding the single conditioning image (10.1-10.6)
LATENT_COPIES = 8  # latent-sized float32 tensors of the denoising loop: latents, CFG batch, prediction, guidance


@dataclass(frozen=True)
class TextEncoderShape:
    """The umT5 encoder fields that size it; defaults are umT5-XXL's, the text encoder LongCat-Video ships."""

    vocab_size: int = 256384
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_layers: int = 24
    num_heads: int = 64
    relative_attention_num_buckets: int = 32

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TextEncoderShape:
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})

    def parameters(self) -> int:
        """Embedding, then per layer q/k/v/o, its own relative-position bias, two norms, gated FFN; final norm."""
        attn = 4 * self.d_model * self.num_heads * self.d_kv + self.relative_attention_num_buckets * self.num_heads
        layer = attn + 2 * self.d_model + 3 * self.d_model * self.d_ff
        return self.vocab_size * self.d_model + self.num_layers * layer + self.d_model


@dataclass(frozen=True)
class Weights:
    """Parameter bytes of one component, and what the offload modes keep of it."""

    total: int
    block: int = 0  # one DiT block
    largest_layer: int = 0  # the biggest single module's own parameters


@dataclass(frozen=True)
class Request:
    """One generation, as far as memory is concerned."""

    height: int
    width: int
    num_frames: int
    cfg: bool = True
    sp: int = 1
    dtype_bytes: int = 2
    quantize: str | None = None
    text_tokens: int = 512
    cond_frames: int = 1  # the image; a continuation's conditioning frames
    kv_cache: bool = False  # conditioning tokens' K/V computed once and cached (continuation)
    offload_kv_cache: bool = False  # that cache in CPU memory, streamed block by block (else all on the GPU)
    shard: bool = False  # DiT and text encoder weights sharded over the sp ranks (offload none only)
    refine: bool = False
    refine_size: tuple[int, int] | None = None  # (height, width) of the refinement stage

    @property
    def latent_frames(self) -> int:
        return (self.num_frames - 1) // 4 + 1

    @property
    def cond_latents(self) -> int:
        return 1 + (self.cond_frames - 1) // 4

    @property
    def refine_cond_frames(self) -> int:
        """The refinement's conditioning frames: the image, or a continuation's frames at twice the rate (a
        continuation of 1 frame gets 2: the same single latent)."""
        return 1 if self.cond_frames == 1 else 2 * self.cond_frames


@dataclass(frozen=True)
class Stage:
    name: str
    weights: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.activations


@dataclass(frozen=True)
class ModePlan:
    mode: str
    stages: tuple[Stage, ...]

    @property
    def peak(self) -> int:
        return max(s.total for s in self.stages)


def tokens(latent_frames: int, height: int, width: int) -> int:
    """DiT tokens: latent frames × (H/16) × (W/16) (VAE ÷8, patch 2×2)."""
    return latent_frames * (height // SIZE_MULTIPLE) * (width // SIZE_MULTIPLE)


def refine_latents(num_frames: int, cond_frames: int = 1, spatial_only: bool = False) -> tuple[int, int]:
    """(conditioning latents, all latents) of the refinement stage for a stage-1 video of ``num_frames``: frames
    doubled in time unless spatial only, both parts padded to multiples of 4 latents (as the original does)."""
    frames = num_frames if spatial_only else 2 * num_frames
    cond = 4 * math.ceil((1 + math.ceil((cond_frames - 1) / 4)) / 4)
    noise = 4 * math.ceil(math.ceil((frames - cond_frames) / 4) / 4)
    return cond, cond + noise


def _module_bytes(module: nn.Module, name: str, dtype_bytes: int, quantize: str | None) -> int:
    total = 0
    for pname, p in module.named_parameters(recurse=False):
        if any(pattern in f"{name}.{pname}" for pattern in FP32_MODULES):
            total += 4 * p.numel()
        elif quantize and pname == "weight" and isinstance(module, nn.Linear) and is_quantized_layer(name):
            total += quantized_weight_bytes(module.out_features, module.in_features, quantize, dtype_bytes)
        else:
            total += dtype_bytes * p.numel()
    return total


def dit_weights(cfg: DiTConfig, dtype_bytes: int = 2, quantize: str | None = None) -> Weights:
    """The DiT's parameter bytes (``FP32_MODULES`` in float32; block Linears quantized when asked)."""
    with torch.device("meta"):
        dit = LongCatDiT(cfg)
    sizes = {name: _module_bytes(m, name, dtype_bytes, quantize) for name, m in dit.named_modules()}
    block = sum(b for name, b in sizes.items() if name.startswith("blocks.0."))
    return Weights(sum(sizes.values()), block, max(sizes.values()))


def text_encoder_weights(shape: TextEncoderShape, dtype_bytes: int = 2) -> Weights:
    return Weights(shape.parameters() * dtype_bytes, 0, shape.vocab_size * shape.d_model * dtype_bytes)


def _meta_vae(config: dict[str, Any]) -> Any:
    from diffusers import AutoencoderKLWan  # here, not at the top: the CLI imports this module at every start

    with torch.device("meta"):
        return AutoencoderKLWan.from_config(config)


def vae_weights(config: dict[str, Any], dtype_bytes: int = 2) -> Weights:
    vae = _meta_vae(config)
    own = [sum(p.numel() for p in m.parameters(recurse=False)) for m in vae.modules()]
    return Weights(sum(p.numel() for p in vae.parameters()) * dtype_bytes, 0, max(own) * dtype_bytes)


def dit_activation_bytes(cfg: DiTConfig, n_tokens: int, batch: int, dtype_bytes: int = 2, sp: int = 1) -> int:
    """Peak bytes a DiT forward creates on one rank (``n_tokens`` over the whole grid, split over ``sp`` ranks),
    including the cached RoPE tables (float32, the whole grid, plus this rank's rows)."""
    c, s = cfg.hidden_size, dtype_bytes
    float_copy = 0 if s == 4 else 4  # .float() copies only what is not float32 already
    rope_phase = (8 * s + float_copy + 12) * c
    ffn_phase = 4 * s * c + 3 * s * cfg.ffn_hidden
    local = math.ceil(n_tokens / sp)
    head_dim = c // cfg.num_heads
    tables = 2 * 4 * head_dim * (n_tokens + (local if sp > 1 else 0))
    return batch * local * max(rope_phase, ffn_phase) + tables


def kv_cache_bytes(cfg: DiTConfig, cond_tokens: int, dtype_bytes: int = 2, blocks: int | None = None) -> int:
    """K and V of the conditioning tokens for ``blocks`` blocks (all by default): 2 × blocks × tokens × hidden."""
    return 2 * (cfg.depth if blocks is None else blocks) * cond_tokens * cfg.hidden_size * dtype_bytes


def text_activation_bytes(shape: TextEncoderShape, batch: int, text_tokens: int, dtype_bytes: int = 2) -> int:
    """umT5's eager attention holds scores, the masked position bias and a float32 softmax per head; then the FFN."""
    s = dtype_bytes
    scores = batch * shape.num_heads * text_tokens**2 * (2 * s + (0 if s == 4 else 4) + 4)
    return scores + batch * text_tokens * (3 * shape.d_ff + 6 * shape.d_model) * s


def vae_encode_bytes(base_dim: int, height: int, width: int, frames: int = 1, dtype_bytes: int = 2) -> int:
    """Peak of encoding ``frames`` frames (one 4-frame chunk at a time; the input video is the caller's)."""
    chunk = VAE_ENCODE_IMAGE if frames == 1 else VAE_ENCODE_CHUNK
    return chunk * base_dim * height * width * dtype_bytes


def vae_decode_bytes(base_dim: int, height: int, width: int, frames: int, dtype_bytes: int = 2) -> int:
    """Peak of decoding ``frames`` frames: one latent frame's activations next to the chunk's decoded frames so far,
    or the chunk converted to float32 (a copy and one temporary) before it goes to the CPU."""
    s = dtype_bytes
    video = 3 * height * width * min(frames, 4 * CHUNK_LATENTS)
    return max(VAE_DECODE_CHUNK * base_dim * height * width * s + video * s, video * (s + 8))


@dataclass(frozen=True)
class Models:
    """The three components' shapes; defaults are the real LongCat-Video's (13.6B DiT, umT5-XXL, Wan VAE)."""

    dit: DiTConfig = DiTConfig()
    text: TextEncoderShape = TextEncoderShape()
    vae: dict[str, Any] | None = None  # AutoencoderKLWan config; None: diffusers' defaults (Wan 2.1, base_dim 96)

    @classmethod
    def from_checkpoint(cls, root: str | Path) -> Models:
        """Read dit/ (or FastVideo's transformer/), text_encoder/ and vae/ config.json of a checkpoint."""
        root = Path(root)
        layout = layouts.detect_layout(root)
        raw = read_json(root / layouts.DIT_DIR[layout] / "config.json")
        if layout != layouts.HUB:
            raw = layouts.convert_dit_config(raw, layouts.HUB)
        text = read_json(root / "text_encoder" / "config.json")
        return cls(DiTConfig.from_dict(raw), TextEncoderShape.from_dict(text), read_json(root / "vae" / "config.json"))

    def vae_dims(self) -> tuple[int, int]:
        """(encoder, decoder) base widths."""
        cfg = _meta_vae(self.vae or {}).config
        return cfg.base_dim, cfg.decoder_base_dim or cfg.base_dim


def _dit_resident(mode: str, w: Weights, depth: int) -> int:
    if mode in ("none", "model"):
        return w.total
    if mode == "group":
        return w.total - depth * w.block + 2 * GROUP_BLOCKS * w.block
    return 2 * w.largest_layer


def _resident(mode: str, component: str, weights: dict[str, Weights], depth: int) -> int:
    """Weight bytes on the GPU while ``component`` works."""
    if mode == "none":
        return sum(w.total for w in weights.values())
    if component == "dit":
        return _dit_resident(mode, weights["dit"], depth)
    if mode == "sequential" and component == "text":
        return 0
    return weights[component].total


def _sharded(w: Weights, sp: int, unit: int) -> Weights:
    """A component sharded over ``sp`` ranks: its shard, and the largest unit gathered whole while it runs."""
    return Weights(math.ceil(w.total / sp) + unit, w.block, w.largest_layer)


def plan(request: Request, models: Models = Models()) -> list[ModePlan]:
    """Every offload mode's stages (weights resident, activations) for ``request``."""
    r, cfg, s = request, models.dit, request.dtype_bytes
    weights = {
        "text": text_encoder_weights(models.text, s),
        "vae": vae_weights(models.vae or {}, s),
        "dit": dit_weights(cfg, s, r.quantize),
    }
    if r.shard:
        weights["text"] = _sharded(weights["text"], r.sp, weights["text"].largest_layer)
        weights["dit"] = _sharded(weights["dit"], r.sp, weights["dit"].block)
    enc_dim, dec_dim = models.vae_dims()
    batch = 2 if r.cfg else 1
    per_frame = tokens(1, r.height, r.width)
    n_tokens = tokens(r.latent_frames, r.height, r.width)
    cond_tokens = r.cond_latents * per_frame
    latents = 16 * r.latent_frames * (r.height // 8) * (r.width // 8) * 4
    held = batch * r.text_tokens * cfg.caption_channels * s + LATENT_COPIES * latents
    steps = n_tokens - cond_tokens if r.kv_cache else n_tokens
    dit_act = dit_activation_bytes(cfg, steps, batch, s, r.sp) + held
    frames = 1 + 4 * (r.latent_frames - 1)
    plans = []
    for mode in ("none",) if r.shard else OFFLOAD_MODES:
        # The pipeline streams the cache only with offload_kv_cache, in every mode.
        kv = kv_cache_bytes(cfg, cond_tokens // r.sp, s, 2 if r.offload_kv_cache else None) if r.kv_cache else 0
        stages = [
            Stage("text", _resident(mode, "text", weights, cfg.depth),
                  0 if mode == "sequential" else text_activation_bytes(models.text, batch, r.text_tokens, s)),
            Stage("encode", _resident(mode, "vae", weights, cfg.depth),
                  vae_encode_bytes(enc_dim, r.height, r.width, r.cond_frames, s) + held),
            Stage("denoise", _resident(mode, "dit", weights, cfg.depth), dit_act + kv),
            Stage("decode", _resident(mode, "vae", weights, cfg.depth),
                  vae_decode_bytes(dec_dim, r.height, r.width, frames, s) + held),
        ]  # fmt: skip
        if r.refine:
            stages += _refine_stages(mode, r, models, weights)
        plans.append(ModePlan(mode, tuple(stages)))
    return plans


def _refine_stages(mode: str, r: Request, models: Models, weights: dict[str, Weights]) -> list[Stage]:
    """Refinement: the stage-1 video up-sampled (float32 and the VAE dtype) and encoded, the DiT without CFG on
    the refinement grid, then the decode."""
    cfg, s = models.dit, r.dtype_bytes
    h, w = r.refine_size or (r.height, r.width)
    enc_dim, dec_dim = models.vae_dims()
    cond, total = refine_latents(r.num_frames, r.refine_cond_frames)
    frames = 1 + 4 * (total - 1)
    video = 3 * frames * h * w * (4 + s)
    held = r.text_tokens * cfg.caption_channels * s + LATENT_COPIES * 16 * total * (h // 8) * (w // 8) * 4
    vae_w, dit_w = _resident(mode, "vae", weights, cfg.depth), _resident(mode, "dit", weights, cfg.depth)
    return [
        Stage("refine encode", vae_w, vae_encode_bytes(enc_dim, h, w, frames, s) + video + held),
        Stage("refine", dit_w, dit_activation_bytes(cfg, tokens(total, h, w), 1, s, r.sp) + held),
        Stage("refine decode", vae_w, vae_decode_bytes(dec_dim, h, w, frames, s) + held),
    ]


def fits(peak: int, budget_bytes: float) -> bool:
    """A tensor peak fits a GPU budget with the allocator's slack and the CUDA context on top."""
    return peak * (1 + FRAGMENTATION) + CUDA_RESERVE <= budget_bytes


def pick_mode(plans: list[ModePlan], budget_bytes: float) -> str | None:
    """The first (fastest) mode that fits the budget; None when none does."""
    return next((p.mode for p in plans if fits(p.peak, budget_bytes)), None)

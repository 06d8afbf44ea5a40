"""Run the original LongCat-Video pipeline from a local checkout, on CPU, for live parity checks.

The original only has flash-attn / xformers / Triton attention paths. This adapter imports it unchanged
and swaps exactly two methods for ``torch.nn.functional.scaled_dot_product_attention`` with the same
math (self-attention with scale head_dim^-0.5; cross-attention of each batch item against its own
``kv_seqlen[b]`` packed text tokens, as ``flash_attn_varlen_func`` computes). The block-sparse module,
which imports Triton, is replaced by a stub (BSA is off for I2V at these sizes). Nothing of the
original is copied into this project. It also needs the original's own imports: ``loguru``, ``einops``.
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open

from longcat_i2v import defaults

BSA_MODULE = "longcat_video.block_sparse_attention.bsa_interface"


def _self_attention(self, q, k, v, shape):
    """SDPA in place of ``Attention._process_attn``: q, k, v are [B, heads, S, head_dim]."""
    return F.scaled_dot_product_attention(q, k, v, scale=self.scale)


def _cross_attention(self, x, cond, kv_seqlen):
    """SDPA in place of ``MultiHeadCrossAttention._process_cross_attn``: ``cond`` packs every item's text
    tokens as [1, sum(kv_seqlen), C]; item b's queries attend only to its own kv_seqlen[b] tokens."""
    batch, tokens, channels = x.shape
    q = self.q_norm(self.q_linear(x).view(batch, tokens, self.num_heads, self.head_dim))
    k, v = self.kv_linear(cond).view(-1, 2, self.num_heads, self.head_dim).unbind(1)
    k = self.k_norm(k)
    outs, start = [], 0
    for b, length in enumerate(kv_seqlen):
        # 4-D [1, heads, S, D] tensors: on CPU a 3-D call falls back to SDPA's slow math kernel.
        kb, vb = k[None, start : start + length].transpose(1, 2), v[None, start : start + length].transpose(1, 2)
        out = F.scaled_dot_product_attention(q[b : b + 1].transpose(1, 2), kb, vb)
        outs.append(out.transpose(1, 2).reshape(tokens, channels))
        start += length
    return self.proj(torch.stack(outs))


def import_original(repo: str | Path) -> types.ModuleType:
    """Import ``longcat_video.pipeline_longcat_video`` from ``repo`` with the attention swaps applied."""
    repo = Path(repo).resolve()
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    if BSA_MODULE not in sys.modules:
        stub = types.ModuleType(BSA_MODULE)

        def flash_attn_bsa_3d(*args, **kwargs):
            raise RuntimeError("block-sparse attention needs Triton/CUDA; the parity adapter runs with BSA off")

        stub.flash_attn_bsa_3d = flash_attn_bsa_3d
        sys.modules[BSA_MODULE] = stub
    try:
        from longcat_video import pipeline_longcat_video
        from longcat_video.modules import attention
    except ImportError as exc:
        raise ImportError(f"cannot import the original LongCat-Video from {repo}: {exc}") from exc
    attention.Attention._process_attn = _self_attention
    attention.MultiHeadCrossAttention._process_cross_attn = _cross_attention
    return pipeline_longcat_video


def lora_rank(path: Path) -> int:
    """The LoRA rank stored in an original-format file (the original's loader must be told it)."""
    with safe_open(str(path), "pt") as f:
        return min(f.get_slice(k).get_shape()[0] for k in f.keys() if k.endswith(".lora_down.weight"))


class OriginalPipeline:
    """The original ``LongCatVideoPipeline`` loaded from ``checkpoint`` (hub layout), float32 on CPU."""

    def __init__(self, repo: str | Path, checkpoint: str | Path, device: str = "cpu") -> None:
        from transformers import AutoTokenizer, UMT5EncoderModel

        self.module = import_original(repo)
        from longcat_video.modules.autoencoder_kl_wan import AutoencoderKLWan
        from longcat_video.modules.longcat_video_dit import LongCatVideoTransformer3DModel
        from longcat_video.modules.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler

        ckpt = str(checkpoint)
        self.lora_file = Path(checkpoint) / "lora" / defaults.DISTILL_LORA_NAME  # the original reads the hub layout
        self.pipe = self.module.LongCatVideoPipeline(
            tokenizer=AutoTokenizer.from_pretrained(ckpt, subfolder="tokenizer"),
            text_encoder=UMT5EncoderModel.from_pretrained(ckpt, subfolder="text_encoder", dtype=torch.float32),
            vae=AutoencoderKLWan.from_pretrained(ckpt, subfolder="vae", torch_dtype=torch.float32),
            scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(ckpt, subfolder="scheduler"),
            dit=LongCatVideoTransformer3DModel.from_pretrained(
                ckpt, subfolder="dit", cp_split_hw=[1, 1], torch_dtype=torch.float32
            ),
        )
        self.pipe.device = device
        for part in (self.pipe.text_encoder, self.pipe.vae, self.pipe.dit):
            part.to(device).eval()
        self._lora_loaded = False

    @contextmanager
    def _fixed_size(self, height: int | None, width: int | None):
        """Make the original's bucket lookup return (height, width), as our explicit size does."""
        original = self.module.get_bucket_config
        if height is not None:
            self.module.get_bucket_config = lambda *a, **k: {"1.00": [[height, width], 1]}
        try:
            yield
        finally:
            self.module.get_bucket_config = original

    @contextmanager
    def _distill(self, enabled: bool):
        if not enabled:
            yield
            return
        if not self._lora_loaded:
            self.pipe.dit.load_lora(str(self.lora_file), "cfg_step_lora", lora_network_dim=lora_rank(self.lora_file))
            self._lora_loaded = True
        self.pipe.dit.enable_loras(["cfg_step_lora"])
        try:
            yield
        finally:
            self.pipe.dit.disable_all_loras()

    @contextmanager
    def _record_steps(self, steps: list[torch.Tensor]):
        """Record the full latents after every step: frame 0 from the DiT's first input, frames 1: from
        each scheduler step (the original updates only ``latents[:, :, 1:]``)."""
        cond: list[torch.Tensor] = []

        def first_input(module, args, kwargs) -> None:
            if not cond:
                cond.append(kwargs["hidden_states"][:1, :, :1].float().clone())

        hook = self.pipe.dit.register_forward_pre_hook(first_input, with_kwargs=True)
        scheduler_step = self.pipe.scheduler.step

        def step(*args, **kwargs):
            out = scheduler_step(*args, **kwargs)
            steps.append(torch.cat([cond[0], out[0].float()], dim=2))
            return out

        self.pipe.scheduler.step = step
        try:
            yield
        finally:
            hook.remove()
            del self.pipe.scheduler.step

    @torch.no_grad()
    def generate(
        self,
        image_path: str | Path,
        prompt: str,
        negative_prompt: str | None,
        num_frames: int,
        steps: int,
        guidance: float,
        distill: bool,
        seed: int,
        height: int | None = None,
        width: int | None = None,
        resolution: str = defaults.RESOLUTION,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
    ) -> tuple[list[torch.Tensor], np.ndarray]:
        """Latents after each step ([1, 16, T, h, w] each) and the float frames [F, H, W, 3] in [0, 1]."""
        from diffusers.utils import load_image

        recorded: list[torch.Tensor] = []
        with self._fixed_size(height, width), self._distill(distill), self._record_steps(recorded):
            video = self.pipe.generate_i2v(
                image=load_image(str(image_path)),
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                num_frames=num_frames,
                num_inference_steps=steps,
                use_distill=distill,
                guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                max_sequence_length=max_sequence_length,
            )
        return recorded, np.asarray(video[0], dtype=np.float32)

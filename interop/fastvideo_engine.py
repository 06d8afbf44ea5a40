"""FastVideo 0.2.1's LongCat I2V pipeline as a peer engine: same checkpoint, same inputs, same starting latents.

``FastVideoEngine`` keeps one loaded ``VideoGenerator`` for several runs (the harness wraps it in
``eval.engines.FastVideoPeer``). A hub-layout checkpoint is converted once to FastVideo's layout
(``longcat_i2v.convert``) in the cache; the generation goes through ``VideoGenerator.generate_video`` and
FastVideo's own ``LongCatImageToVideoPipeline`` stages, text encoder, VAE, scheduler and DiT.

What FastVideo 0.2.1 needs to run on a CPU-only machine, all done in this module and nowhere else (items 2-4
by ``enable_cpu()``, idempotent; 5-8 by ``FastVideoEngine``):

1. torchvision op schemas: its PyPI wheel is a CUDA build; ``longcat_i2v`` (imported first) declares them.
2. ``bsa_interface`` (block-sparse attention) imports triton at import time: a stub that refuses BSA is put
   in its place (BSA is off for I2V).
3. ``CpuPlatform`` has no attention backend: it gets torch SDPA, as FastVideo's MPS platform does.
4. ``get_local_torch_device()`` answers ``mps`` on any non-CUDA machine: it answers ``cpu``.
5. Workers are spawned processes by default (where none of the above would apply): an in-process executor
   runs FastVideo's ``Worker`` in this process instead.
6. Its LongCat stages cast the DiT inputs to bf16 and rely on CUDA autocast, a no-op on CPU: a pre-hook casts
   them to the DiT's dtype. So at ``precision="fp32"`` the latents and timesteps are still rounded to bf16
   first, as FastVideo does on every device; ``disable_autocast`` makes its VAE stages cast to the VAE dtype.
7. Its RMSNorm creates its gain in float32 off CUDA (in the default dtype on CUDA), which breaks the bf16
   text encoder's next Linear: the loaded DiT, text encoder and VAE are cast to the precision's dtype.
8. CPU offload, pinned memory and FSDP are off; stage verification is off, because its latent-preparation
   check rejects injected latents (the stage skips itself and leaves ``raw_latent_shape`` unset).

Same noise: the starting latents (noise first, then the image's VAE posterior sample, from one CPU generator
seeded with ``seed``, as the original and ``LongCatI2V`` do) are computed here with the checkpoint's VAE and
injected through ``SamplingParam.latents``; the sigmas are the original's ``linspace(1, 0.001, steps)``,
injected through ``SamplingParam.sigmas`` (FastVideo's default schedule differs). FastVideo still encodes the
image itself, but with its own draw order (posterior sample before the noise); that latent is discarded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import sys
import tempfile
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from longcat_i2v import conditioning, defaults, layouts
from longcat_i2v.convert import convert_checkpoint
from longcat_i2v.errors import CheckpointError
from longcat_i2v.images import ImageLike, load_image
from longcat_i2v.schedule import input_sigmas
from longcat_i2v.tiny import cache_dir

PRECISIONS = ("fp32", "bf16")
_BSA_MODULE = "fastvideo.third_party.longcat_video.block_sparse_attention.bsa_interface"
_enabled = False


def _no_bsa(*args: object, **kwargs: object) -> None:
    raise NotImplementedError("block-sparse attention needs triton and CUDA; it is not available on CPU")


def _cpu_device() -> torch.device:
    return torch.device("cpu")


def enable_cpu() -> None:
    """Patch FastVideo 0.2.1 so that its LongCat pipeline runs on a CPU-only machine (items 2-4 above)."""
    global _enabled
    if _enabled:
        return
    os.environ.setdefault("FASTVIDEO_LOGGING_LEVEL", "WARNING")
    stub = types.ModuleType(_BSA_MODULE)
    stub.flash_attn_bsa_3d = _no_bsa
    sys.modules.setdefault(_BSA_MODULE, stub)

    from fastvideo.distributed import parallel_state
    from fastvideo.platforms.cpu import CpuPlatform

    # Every module bound the function by name at import; swapping its code reaches all of them.
    parallel_state.get_local_torch_device.__code__ = _cpu_device.__code__
    CpuPlatform.get_attn_backend_cls = classmethod(lambda cls, *a, **k: "fastvideo.attention.backends.sdpa.SDPABackend")
    _enabled = True


def _executor_class():
    from fastvideo.worker.executor import Executor
    from fastvideo.worker.gpu_worker import Worker

    class InProcessExecutor(Executor):
        """FastVideo's Worker in this process: one rank, a gloo group on a free local port."""

        def _init_executor(self) -> None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            self.worker = Worker(self.fastvideo_args, 0, 0, f"tcp://127.0.0.1:{port}")
            self.worker.init_device()

        def execute_forward(self, forward_batch, fastvideo_args):
            return self.worker.execute_forward(forward_batch, fastvideo_args)

        def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
            return [getattr(self.worker, method)(*args, **(kwargs or {}))]

        def set_lora_adapter(self, lora_nickname, lora_path=None, strength=1.0, accumulate=False):
            return self.worker.set_lora_adapter(lora_nickname, lora_path, strength, accumulate)

        def merge_lora_weights(self) -> None:
            self.worker.merge_lora_weights()

        def unmerge_lora_weights(self) -> None:
            self.worker.unmerge_lora_weights()

        def set_log_queue(self, log_queue) -> None:
            pass

        def clear_log_queue(self) -> None:
            pass

        def shutdown(self) -> None:
            self.worker.shutdown()

    return InProcessExecutor


def fastvideo_checkpoint(checkpoint_dir: str | Path) -> Path:
    """The checkpoint in FastVideo's layout: itself, or a converted copy in the cache (made once, keyed by the
    source path and its DiT files' sizes and times; shared folders are hard-linked where possible)."""
    src = Path(checkpoint_dir).expanduser().resolve()
    if layouts.detect_layout(src) == layouts.FASTVIDEO:
        return src
    stamp = [str(src)] + [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted((src / "dit").iterdir())
    ]
    key = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]
    dst = cache_dir() / "fastvideo" / f"{src.name}-{key}-longcat-i2v"  # FastVideo's detector reads the path too
    if not (dst / "model_index.json").is_file():
        try:
            convert_checkpoint(src, dst, layouts.FASTVIDEO, link=True)
        except CheckpointError:
            if not (dst / "model_index.json").is_file():  # a concurrent conversion finished first
                raise
    return dst


@functools.lru_cache(maxsize=1)
def _vae(vae_dir: Path):
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan.from_pretrained(vae_dir, torch_dtype=torch.float32).eval()


@torch.no_grad()
def initial_latents(
    checkpoint_dir: str | Path, image: Image.Image, num_frames: int, height: int, width: int, seed: int
) -> torch.Tensor:
    """The first DiT input as the original computes it (diffusers' VAE, float32): noise, then the image's VAE
    posterior sample in frame 0, from one CPU generator seeded with ``seed``."""
    vae = _vae(Path(checkpoint_dir).resolve() / "vae")
    pixels = conditioning.image_to_pixels(image, height, width)
    return conditioning.prepare_latents(vae, pixels, num_frames, torch.Generator("cpu").manual_seed(seed), "cpu")


@dataclass
class FastVideoRun:
    """One FastVideo generation and what was recorded around it."""

    frames: np.ndarray  # float32 [F, H, W, 3] in [0, 1]
    latents: torch.Tensor  # final latents [1, 16, T, H/8, W/8], float32
    step_seconds: list[float]  # wall time of each denoising step (DiT call, CFG and scheduler step)
    dit_inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # the first DiT call's inputs, after casting


class FastVideoEngine:
    """A FastVideo ``VideoGenerator`` for one checkpoint at one precision (``fp32``, or ``bf16``: FastVideo's
    LongCat default for DiT, VAE and text encoder), with or without the distill LoRA (FastVideo's copy,
    ``lora/distilled/``, merged at construction: its unmerge did not restore the base outputs in our runs)."""

    def __init__(self, checkpoint_dir: str | Path, precision: str = "fp32", distill: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        enable_cpu()
        from fastvideo import VideoGenerator
        from fastvideo.api.compat import (
            generator_config_to_fastvideo_args,
            legacy_from_pretrained_to_config,
            normalize_generator_config,
        )

        self.checkpoint_dir = fastvideo_checkpoint(checkpoint_dir)
        options = {
            "num_gpus": 1, "workload_type": "i2v", "dit_precision": precision, "vae_precision": precision,
            "text_encoder_precisions": (precision,), "enable_stage_verification": False,
            "dit_cpu_offload": False, "text_encoder_cpu_offload": False, "vae_cpu_offload": False,
            "image_encoder_cpu_offload": False, "pin_cpu_memory": False, "use_fsdp_inference": False,
        }  # fmt: skip
        config = normalize_generator_config(legacy_from_pretrained_to_config(str(self.checkpoint_dir), options))
        args = generator_config_to_fastvideo_args(config)
        args.disable_autocast = True  # the typed config drops this legacy option; set it on the resolved args
        self.generator = VideoGenerator(args, executor_class=_executor_class(), log_stats=False)
        self.pipeline = self.generator.executor.worker.pipeline
        if not self.pipeline.post_init_called:
            self.pipeline.post_init()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        for name in ("transformer", "text_encoder", "vae"):
            self.pipeline.get_module(name).to(dtype)
        self.distill = distill
        if distill:
            lora = layouts.lora_path(self.checkpoint_dir, layouts.FASTVIDEO, defaults.DISTILL_LORA_NAME)
            if not lora.is_file():
                raise CheckpointError(f"distill LoRA not found: {lora}")
            self.generator.set_lora_adapter("distilled", str(lora))
        self.transformer = self.pipeline.get_module("transformer")
        self.transformer.register_forward_pre_hook(self._cast_inputs, with_kwargs=True)
        self.transformer.register_forward_pre_hook(self._record_inputs, with_kwargs=True)
        self.transformer.register_forward_hook(self._tick)
        denoise, decode = self.pipeline.denoising_stage, self.pipeline.decoding_stage
        denoise.forward = self._wrap(denoise.forward, before=self._start)
        decode.forward = self._wrap(decode.forward, before=self._keep_latents)
        self._stamps: list[float] = []
        self._inputs: dict[str, torch.Tensor] = {}
        self._latents: torch.Tensor | None = None

    @property
    def dtype(self) -> torch.dtype:
        return next(self.transformer.parameters()).dtype

    def _cast_inputs(self, _module, args, kwargs):
        def cast(v):
            return v.to(self.dtype) if torch.is_tensor(v) and v.is_floating_point() else v

        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    def _record_inputs(self, _module, _args, kwargs) -> None:
        if not self._inputs:
            self._inputs = {k: v.detach().clone() for k, v in kwargs.items() if torch.is_tensor(v)}

    def _tick(self, *_: object) -> None:
        self._stamps.append(time.perf_counter())

    def _start(self, _batch) -> None:
        self._stamps = [time.perf_counter()]

    def _keep_latents(self, batch) -> None:
        self._latents = batch.latents.detach().float().clone()

    @staticmethod
    def _wrap(forward, before):
        def wrapped(batch, fastvideo_args):
            before(batch)
            return forward(batch, fastvideo_args)

        return wrapped

    def generate(
        self,
        image: ImageLike,
        prompt: str,
        *,
        num_frames: int,
        height: int,
        width: int,
        steps: int,
        guidance: float,
        seed: int,
        negative_prompt: str | None = None,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
        latents: torch.Tensor | None = None,
    ) -> FastVideoRun:
        """Generate with FastVideo from ``latents`` (default: ``initial_latents`` for ``seed``) on the original's
        sigma schedule (the distill one for a distill engine); ``negative_prompt`` None means "" as in the
        original (FastVideo's default is its own)."""
        pil = load_image(image)
        sigmas = input_sigmas(steps, self.distill).tolist()
        if latents is None:
            latents = initial_latents(self.checkpoint_dir, pil, num_frames, height, width, seed)
        self._inputs, self._latents = {}, None
        with warnings.catch_warnings():  # its CUDA autocast contexts warn on every call on CPU
            warnings.filterwarnings("ignore", message="CUDA is not available", category=UserWarning)
            out = self.generator.generate_video(
                prompt, pil_image=pil.convert("RGB"), negative_prompt=negative_prompt or "", num_frames=num_frames,
                height=height, width=width, num_inference_steps=steps, guidance_scale=guidance, seed=seed,
                max_sequence_length=max_sequence_length, latents=latents.clone(), sigmas=sigmas,
                save_video=False, return_frames=True, output_path=tempfile.gettempdir(),  # it makes that folder
            )  # fmt: skip
        frames = out["samples"][0].permute(1, 2, 3, 0).float().numpy()
        return FastVideoRun(frames, self._latents, np.diff(self._stamps).tolist(), self._inputs)

    def close(self) -> None:
        self.generator.shutdown()

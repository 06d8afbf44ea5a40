"""The stages every kind of generation shares: the components and where they run (``offload.Placement``: each
stage brings in the component it needs), LoRAs on for one call, prompt encoding (cached per prompt), the first
latents, the denoiser for the loop, decoding chunk by chunk, and one generation at a time (with this pipeline's
attention kernel).

``LongCatI2V`` (pipeline.py) composes them into image-to-video, continuation and refinement; keeping them here
keeps each of those a short, readable sequence of stages.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from . import conditioning, defaults
from .attention import using_kernel
from .cache import build_cache, cached_model
from .checkpoint import Components
from .denoise import ModelFn, StepCallback
from .dit import LongCatDiT
from .errors import InvalidInputError
from .layouts import detect_layout, lora_path, read_lora
from .lora import LoRAHandle, LoRAModule, fit_lora
from .offload import Placement
from .parallel import Parallel
from .progress import Progress, ProgressFn
from .prompt_cache import PromptCache
from .text import encode_prompts
from .tiny import TINY_MARKER
from .vae_decode import CHUNK_LATENTS, decode_frames


class PipelineStages:
    """The loaded components on their device, and the stages built on them."""

    def __init__(
        self,
        components: Components,
        device: torch.device | str = "cpu",
        parallel: Parallel | None = None,
        placement: Placement | None = None,
        attention_kernel: str = "sdpa",
    ):
        self.components = components
        self.device = torch.device(device)
        self.parallel = parallel or Parallel()
        self.placement = placement or Placement(components, self.device)
        self.attention_kernel = attention_kernel  # the resolved kernel ("sdpa", "flash", "flash3") it runs with
        self.prompts = PromptCache()
        self._loras: dict[str, list[LoRAModule]] = {}
        self._busy = threading.Lock()

    @property
    def offload(self) -> str:
        """The offload mode the components are placed by ("none", "model", "group", "sequential")."""
        return self.placement.mode

    def describe(self) -> str:
        """Where it runs and how, for a front end's summary: "cuda, offload group, attention flash3"."""
        return f"{self.device}, {self.placement.describe()}, attention {self.attention_kernel}"

    @property
    def checkpoint_dir(self) -> Path:
        return self.components.root

    @property
    def is_tiny(self) -> bool:
        """True for the built-in random-weight checkpoint (``longcat-i2v make-tiny``)."""
        index = self.checkpoint_dir / "model_index.json"
        return index.is_file() and bool(json.loads(index.read_text()).get(TINY_MARKER, False))

    @property
    def dit(self) -> LongCatDiT:
        return self.components.dit

    def lora(self, name: str) -> list[LoRAModule]:
        """LoRA file ``name`` (under lora/ in either layout), read, checked against the DiT and placed once."""
        if name not in self._loras:
            path = str(self.lora_path(name))
            self._loras[name] = fit_lora(read_lora(self.checkpoint_dir, name), self.dit, path, self.device)
        return self._loras[name]

    def lora_path(self, name: str) -> Path:
        """Where LoRA file ``name`` lives: ``lora/`` in the hub layout, ``lora/<adapter>/`` in FastVideo's."""
        return lora_path(self.checkpoint_dir, detect_layout(self.checkpoint_dir), name)

    def distill_lora(self) -> list[LoRAModule]:
        return self.lora(defaults.DISTILL_LORA_NAME)

    @property
    def distill_lora_path(self) -> Path:
        return self.lora_path(defaults.DISTILL_LORA_NAME)

    @contextlib.contextmanager
    def lora_enabled(self, name: str | None) -> Iterator[None]:
        """LoRA ``name`` on for the duration of the block and off afterwards, also after an exception."""
        if name is None:
            yield
            return
        with LoRAHandle(self.dit, self.lora(name), device=self.device):
            yield

    def encode_text(
        self, prompt: str, negative_prompt: str | None, use_cfg: bool, max_sequence_length: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and mask for the DiT: [negative, positive] with CFG (negative "" if none), else [positive];
        a prompt seen before in this session comes from the cache, not the text encoder."""
        prompts = [negative_prompt or "", prompt] if use_cfg else [prompt]
        c = self.components

        def encode() -> tuple[torch.Tensor, torch.Tensor]:
            where = self.placement.use("text")
            embeds, mask = encode_prompts(c.tokenizer, c.text_encoder, prompts, max_sequence_length, where)
            return embeds.to(self.device, self.dit.dtype), mask.to(self.device)

        return self.prompts.get((tuple(prompts), max_sequence_length), encode)

    def prepare_latents(
        self,
        pixels: torch.Tensor,
        num_frames: int,
        generator: torch.Generator,
        latents: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Noise drawn first (or ``latents`` given instead), then the conditioning frames' latents (posterior
        sample, normalized) put in front, in ``dtype``."""
        vae, channels = self.components.vae, self.dit.config.in_channels
        self.placement.use("vae")
        return conditioning.prepare_latents(vae, pixels, num_frames, generator, self.device, channels, latents, dtype)

    def model(self, text: torch.Tensor, text_mask: torch.Tensor, **dit_kwargs) -> ModelFn:
        """The denoiser for the loop: the DiT on this rank's part of the work (see ``Parallel.run``)."""

        self.placement.use("dit")

        def run(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.parallel.run(self.dit, x, t, text, text_mask, **dit_kwargs)

        return run

    def denoiser(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        latents: torch.Tensor,
        num_cond: int,
        cond_rope: str,
        kv_cache: bool = False,
        offload: bool = False,
        with_cond_velocity: bool = True,
    ) -> ModelFn:
        """The model for ``denoise``: the DiT over every frame (the ``num_cond`` conditioning ones at t = 0), or
        with ``kv_cache`` over the noisy frames on the conditioning frames' keys/values, computed here once from
        ``latents`` (so call it where the LoRA of the run is on); ``with_cond_velocity`` then puts their
        velocity in front for CFG-zero's scale (see cache.py). With no noisy frame (a 1-frame video) there is
        nothing to cache for."""
        if not kv_cache or latents.shape[2] == num_cond:
            return self.model(text, text_mask, num_cond_latents=num_cond, cond_rope=cond_rope)
        cache = build_cache(self.dit, latents[:, :, :num_cond], cond_rope, offload, sp=self.parallel.sp)
        model = self.model(text, text_mask, num_cond_latents=num_cond, cond_rope=cond_rope, kv_cache=cache)
        return cached_model(model, cache, with_cond_velocity)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, progress: ProgressFn | None = None) -> np.ndarray:
        """Denormalize, VAE-decode (clamped to [-1, 1]) and map to float frames [F, H, W, 3] in [0, 1], a few
        latent frames at a time (``vae_decode``: the same frames, one chunk on the device), reporting each chunk
        (raising GenerationCancelled from ``progress`` stops between chunks)."""
        vae = self.components.vae
        self.placement.use("vae")
        chunks = -(-latents.shape[2] // CHUNK_LATENTS)
        self.report(progress, Progress("decoding", 0, chunks))
        z = conditioning.denormalize(latents.to(vae.dtype), vae)
        return decode_frames(vae, z, lambda k, n: self.report(progress, Progress("decoding", k, n)), CHUNK_LATENTS)

    def step_callback(
        self,
        callback: StepCallback | None,
        progress: ProgressFn | None,
        segment: int = 0,
        segments: int = 1,
        phase: str = "denoising",
    ) -> StepCallback | None:
        """The loop's per-step callback: the caller's ``callback(step, total, latents)`` and a report of ``phase``
        ("denoising", or "refining" for the refinement's loop)."""
        if callback is None and progress is None:
            return None

        def on_step(step: int, total: int, latents: torch.Tensor) -> None:
            if callback is not None:
                callback(step, total, latents)
            self.report(progress, Progress(phase, step + 1, total, segment, segments, latents))

        return on_step

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One generation at a time: the scheduler and the LoRA hooks are per pipeline, so a second thread
        is refused instead of corrupting the first one's run."""
        if not self._busy.acquire(blocking=False):
            raise InvalidInputError(
                "this pipeline is already generating in another thread; use one pipeline per thread, or wait"
            )
        try:
            with using_kernel(self.attention_kernel):
                yield
        finally:
            self._busy.release()

    @staticmethod
    def report(progress: ProgressFn | None, event: Progress) -> None:
        """Tell the caller what runs now (raising GenerationCancelled there stops the generation)."""
        if progress is not None:
            progress(event)

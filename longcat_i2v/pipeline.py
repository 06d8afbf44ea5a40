"""LongCatI2V: load a hub-layout checkpoint and generate a video from one image and a prompt.

The stages follow the original ``generate_i2v``: check inputs → size and preprocess the image →
encode the prompt(s) → noise, then the image's VAE posterior sample → denoise → decode.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import conditioning, defaults, parallel
from .checkpoint import Components, load_components
from .denoise import StepCallback, denoise
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .layouts import detect_layout, lora_path, read_lora
from .lora import LoRAHandle, LoRAModule, fit_lora
from .parallel import CfgParallel
from .schedule import set_schedule
from .text import encode_prompts
from .tiny import TINY_MARKER, ensure_tiny_checkpoint


@dataclass
class GenerationOutput:
    """A generated video and what produced it."""

    frames: np.ndarray  # float32 [F, H, W, 3] in [0, 1]
    latents: torch.Tensor  # final latents [1, 16, T, H/8, W/8]
    seed: int  # the generator's seed (the one drawn when none was given)
    cond_image: np.ndarray  # float32 [H, W, 3] in [0, 1]: the conditioning image as the model saw it
    input_size: tuple[int, int]  # (width, height) of the input image, for resizing back

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]


def check_inputs(
    prompt: object,
    negative_prompt: object,
    num_frames: object,
    steps: object,
    guidance: object,
    cond_rope: object,
    max_sequence_length: object,
) -> None:
    """Refuse bad generation arguments with a message naming the value and what is allowed."""
    if not isinstance(prompt, str):
        raise InvalidInputError(f"prompt must be a string, got {type(prompt).__name__}")
    if negative_prompt is not None and not isinstance(negative_prompt, str):
        raise InvalidInputError(f"negative_prompt must be a string or None, got {type(negative_prompt).__name__}")
    if not isinstance(num_frames, int) or num_frames < 1 or (num_frames - 1) % 4:
        raise InvalidInputError(f"num_frames must be of the form 4k+1 (1, 5, 9, ..., 93), got {num_frames!r}")
    if not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"num_inference_steps must be an integer >= 1, got {steps!r}")
    if not isinstance(guidance, int | float) or not np.isfinite(guidance) or guidance < 0:
        raise InvalidInputError(f"guidance_scale must be a finite number >= 0, got {guidance!r}")
    if cond_rope not in defaults.COND_ROPE_MODES:
        raise InvalidInputError(f"cond_rope must be one of {defaults.COND_ROPE_MODES}, got {cond_rope!r}")
    if not isinstance(max_sequence_length, int) or max_sequence_length < 1:
        raise InvalidInputError(f"max_sequence_length must be an integer >= 1, got {max_sequence_length!r}")


def make_generator(seed: int | None, generator: torch.Generator | None) -> tuple[torch.Generator, int]:
    """The generator to draw from and its seed; a fresh random seed when neither is given."""
    if generator is not None:
        return generator, generator.initial_seed()
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    if not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInputError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return torch.Generator("cpu").manual_seed(seed), seed


class LongCatI2V:
    """LongCat-Video image-to-video, computing what the original ``generate_i2v`` computes."""

    def __init__(
        self, components: Components, device: torch.device | str = "cpu", cfg_parallel: CfgParallel | None = None
    ) -> None:
        self.components = components
        self.device = torch.device(device)
        self.cfg_parallel = cfg_parallel
        self._distill_lora: list[LoRAModule] | None = None

    @classmethod
    def from_pretrained(
        cls,
        checkpoint_dir: str | Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        sp_size: int = 1,
        cfg_parallel: bool = False,
    ) -> LongCatI2V:
        """Load a checkpoint in the original hub layout or FastVideo's. ``sp_size`` > 1 shards the DiT's sequence over
        that many ranks, and ``cfg_parallel`` runs the uncond/cond halves of CFG on two such groups, inside
        an initialized default process group of sp_size × (2 if cfg_parallel else 1) ranks."""
        components = load_components(checkpoint_dir, device, dtype)
        cfg = None
        if sp_size != 1 or cfg_parallel:
            cfg = parallel.setup_parallel(components.dit, sp_size, cfg_parallel)
        return cls(components, device, cfg)

    @property
    def checkpoint_dir(self) -> Path:
        return self.components.root

    @property
    def is_tiny(self) -> bool:
        """True for the built-in random-weight checkpoint (``longcat-i2v make-tiny``)."""
        index = self.checkpoint_dir / "model_index.json"
        return index.is_file() and bool(json.loads(index.read_text()).get(TINY_MARKER, False))

    @property
    def dit(self):
        return self.components.dit

    def distill_lora(self) -> list[LoRAModule]:
        """The distill LoRA (``cfg_step_lora.safetensors``, in either layout's place), read and checked once."""
        if self._distill_lora is None:
            state = read_lora(self.checkpoint_dir, defaults.DISTILL_LORA_NAME)
            self._distill_lora = fit_lora(state, self.dit, str(self.distill_lora_path))
        return self._distill_lora

    @property
    def distill_lora_path(self) -> Path:
        """The distill LoRA file: ``lora/`` in the hub layout, ``lora/distilled/`` in FastVideo's."""
        return lora_path(self.checkpoint_dir, detect_layout(self.checkpoint_dir), defaults.DISTILL_LORA_NAME)

    def encode_text(
        self, prompt: str, negative_prompt: str | None, use_cfg: bool, max_sequence_length: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and mask for the DiT: [negative, positive] with CFG (negative "" if none), else [positive]."""
        prompts = [negative_prompt or "", prompt] if use_cfg else [prompt]
        c = self.components
        embeds, mask = encode_prompts(c.tokenizer, c.text_encoder, prompts, max_sequence_length, self.device)
        return embeds.to(self.dit.dtype), mask

    def prepare_latents(self, pixels: torch.Tensor, num_frames: int, generator: torch.Generator) -> torch.Tensor:
        """Noise drawn first, then the image latent (posterior sample, normalized) put in frame 0."""
        vae, channels = self.components.vae, self.dit.config.in_channels
        return conditioning.prepare_latents(vae, pixels, num_frames, generator, self.device, channels)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Denormalize, VAE-decode (clamped to [-1, 1]) and map to float frames [F, H, W, 3] in [0, 1]."""
        vae = self.components.vae
        video = vae.decode(conditioning.denormalize(latents.to(vae.dtype), vae), return_dict=False)[0]
        video = (video.float() / 2 + 0.5).clamp(0, 1)
        return video[0].permute(1, 2, 3, 0).cpu().numpy()

    @torch.no_grad()
    def generate_video(
        self,
        prompt: str,
        image: ImageLike | None = None,
        negative_prompt: str | None = None,
        num_frames: int = defaults.NUM_FRAMES,
        resolution: str = defaults.RESOLUTION,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        distill: bool = False,
        cond_rope: str = defaults.COND_ROPE,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
        callback: StepCallback | None = None,
        image_path: ImageLike | None = None,
    ) -> GenerationOutput:
        """Generate ``num_frames`` frames that start from ``image``. Steps and guidance default to 50/4.0,
        or 16/1.0 with ``distill`` (the cfg_step LoRA). ``callback(step, total, latents)`` runs after each
        step; raising GenerationCancelled there stops the run."""
        if image is None:
            image = image_path
        if image is None:
            raise InvalidInputError("an input image is required (image= PIL image, file path or http(s) URL)")
        steps = defaults.steps_for(distill) if num_inference_steps is None else num_inference_steps
        guidance = defaults.guidance_for(distill) if guidance_scale is None else guidance_scale
        check_inputs(prompt, negative_prompt, num_frames, steps, guidance, cond_rope, max_sequence_length)
        generator, seed = make_generator(seed, generator)
        sp, cfgp = self.dit.sp, self.cfg_parallel
        distributed = sp is not None or cfgp is not None
        if distributed and generator.initial_seed() != (shared := parallel.shared_seed(seed, self.device)):
            generator, seed = make_generator(shared, None)
        pil = load_image(image)
        height, width = conditioning.resolve_size(pil, resolution, height, width)
        if sp is not None:
            sp.check_size(height, width)

        use_cfg = guidance > 1.0
        text, text_mask = self.encode_text(prompt, negative_prompt, use_cfg, max_sequence_length)
        timesteps = set_schedule(self.components.scheduler, steps, distill, self.device)
        pixels = conditioning.image_to_pixels(pil, height, width)
        latents = self.prepare_latents(pixels, num_frames, generator)
        if distributed:  # every rank must start from rank 0's noise and text
            latents, text, text_mask = (parallel.broadcast(x) for x in (latents, text, text_mask))

        def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if cfgp is not None and x.shape[0] == 2:  # this rank's half of [uncond, cond], then exchange
                i = slice(cfgp.index, cfgp.index + 1)
                return cfgp.gather(self.dit(x[i], t[i], text[i], text_mask[i], num_cond_latents=1, cond_rope=cond_rope))
            return self.dit(x, t, text, text_mask, num_cond_latents=1, cond_rope=cond_rope)

        lora = LoRAHandle(self.dit, self.distill_lora()) if distill else None
        try:
            latents = denoise(model, latents, self.components.scheduler, timesteps, guidance, 1, callback)
        finally:
            if lora is not None:
                lora.remove()
        cond_image = conditioning.pixels_to_image(pixels)
        return GenerationOutput(self.decode(latents), latents, seed, cond_image, pil.size)


def load_pipeline(
    checkpoint: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    sp_size: int = 1,
    cfg_parallel: bool = False,
) -> LongCatI2V:
    """``from_pretrained`` with the defaults every front end uses: the built-in tiny checkpoint (made on first
    use) when ``checkpoint`` is None, the first GPU if there is one, and ``dtype`` by name (bfloat16 on CUDA,
    float32 elsewhere by default)."""
    if checkpoint is None:
        checkpoint = ensure_tiny_checkpoint()
    device = device or defaults.default_device()
    torch_dtype = defaults.DTYPES[dtype or defaults.default_dtype(device)]
    return LongCatI2V.from_pretrained(checkpoint, device, torch_dtype, sp_size=sp_size, cfg_parallel=cfg_parallel)

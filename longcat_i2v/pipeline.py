"""LongCatI2V: load a hub-layout checkpoint and generate a video from one image and a prompt.

``generate_video`` follows the original ``generate_i2v`` stage by stage; the stages are methods here (and
small functions in conditioning, schedule, denoise) so that continuation and refinement reuse them.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import conditioning, defaults
from .checkpoint import Components, load_components
from .denoise import ModelFn, StepCallback, denoise
from .dit import LongCatDiT
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .layouts import detect_layout, lora_path, read_lora
from .lora import LoRAHandle, LoRAModule, fit_lora
from .parallel import Parallel, setup_parallel
from .schedule import set_schedule
from .seeds import make_generator
from .settings import I2VSettings, RuntimeSettings, SamplingSettings
from .text import encode_prompts
from .tiny import TINY_MARKER, ensure_tiny_checkpoint

I2V_COND_LATENTS = 1  # image-to-video conditions on one latent frame: the image


@dataclass
class GenerationOutput:
    """A generated video and what produced it."""

    frames: np.ndarray  # float32 [F, H, W, 3] in [0, 1]
    latents: torch.Tensor  # final latents [1, 16, T, H/8, W/8]
    seed: int  # the generator's seed (the one drawn when none was given)
    cond_image: np.ndarray  # float32 [H, W, 3] in [0, 1]: the conditioning image as the model saw it
    input_size: tuple[int, int]  # (width, height) of the input image, for resizing back
    fps: int = defaults.FPS  # the frame rate the video is meant to play at
    settings: SamplingSettings | None = None  # the settings used, steps and guidance resolved

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]


class LongCatI2V:
    """LongCat-Video image-to-video, computing what the original ``generate_i2v`` computes."""

    def __init__(self, components: Components, device: torch.device | str = "cpu", parallel: Parallel | None = None):
        self.components = components
        self.device = torch.device(device)
        self.parallel = parallel or Parallel()
        self._loras: dict[str, list[LoRAModule]] = {}
        self._busy = threading.Lock()

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
        parallel = None
        if sp_size != 1 or cfg_parallel:
            parallel = setup_parallel(components.dit.config.num_heads, sp_size, cfg_parallel)
        return cls(components, device, parallel)

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

    # Stages shared by every kind of generation --------------------------------------------------------------

    def lora(self, name: str) -> list[LoRAModule]:
        """LoRA file ``name`` (under lora/ in either layout), read, checked against the DiT and placed once."""
        if name not in self._loras:
            self._loras[name] = fit_lora(read_lora(self.checkpoint_dir, name), self.dit, str(self.lora_path(name)))
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
        with LoRAHandle(self.dit, self.lora(name)):
            yield

    def encode_text(
        self, prompt: str, negative_prompt: str | None, use_cfg: bool, max_sequence_length: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and mask for the DiT: [negative, positive] with CFG (negative "" if none), else [positive]."""
        prompts = [negative_prompt or "", prompt] if use_cfg else [prompt]
        c = self.components
        embeds, mask = encode_prompts(c.tokenizer, c.text_encoder, prompts, max_sequence_length, self.device)
        return embeds.to(self.dit.dtype), mask

    def prepare_latents(
        self,
        pixels: torch.Tensor,
        num_frames: int,
        generator: torch.Generator,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Noise drawn first (or ``latents`` given instead), then the conditioning frames' latents (posterior
        sample, normalized) put in front."""
        vae, channels = self.components.vae, self.dit.config.in_channels
        return conditioning.prepare_latents(vae, pixels, num_frames, generator, self.device, channels, latents)

    def model(self, text: torch.Tensor, text_mask: torch.Tensor, **dit_kwargs) -> ModelFn:
        """The denoiser for the loop: the DiT on this rank's part of the work (see ``Parallel.run``)."""

        def run(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.parallel.run(self.dit, x, t, text, text_mask, **dit_kwargs)

        return run

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Denormalize, VAE-decode (clamped to [-1, 1]) and map to float frames [F, H, W, 3] in [0, 1]."""
        vae = self.components.vae
        video = vae.decode(conditioning.denormalize(latents.to(vae.dtype), vae), return_dict=False)[0]
        video = (video.float() / 2 + 0.5).clamp(0, 1)
        return video[0].permute(1, 2, 3, 0).cpu().numpy()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One generation at a time: the scheduler and the LoRA hooks are per pipeline, so a second thread
        is refused instead of corrupting the first one's run."""
        if not self._busy.acquire(blocking=False):
            raise InvalidInputError(
                "this pipeline is already generating in another thread; use one pipeline per thread, or wait"
            )
        try:
            yield
        finally:
            self._busy.release()

    # Image to video ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate_video(
        self,
        prompt: str | None = None,
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
        latents: torch.Tensor | None = None,
        settings: I2VSettings | None = None,
    ) -> GenerationOutput:
        """Generate ``num_frames`` frames that start from ``image``.

        Args:
            prompt: what should happen in the video.
            image: the first frame: a PIL image, a file path or an http(s) URL (``image_path`` is an alias).
            negative_prompt: used only with CFG; None encodes "" (as the original).
            num_frames: 4k+1 frames; resolution: "480p"/"720p" aspect-bucket table, or height and width
                (multiples of 16) explicitly.
            num_inference_steps, guidance_scale: default 50 / 4.0, or 16 / 1.0 with ``distill``; CFG runs only
                when guidance > 1.
            seed / generator: a CPU generator is seeded with ``seed`` (random when both are None); ``generator``
                is used exactly as the original uses it (the noise first, then the image's posterior sample).
            distill: the cfg_step LoRA, on for this call only. cond_rope: "full" (the original) or "skip".
            callback: ``callback(step, total, latents)`` after each step; raising GenerationCancelled stops.
            latents: start from these [1, 16, T, H/8, W/8] latents instead of drawing the noise (the image's
                latent is still placed in frame 0, as the original's ``latents=`` does).
            settings: all of the above options as one ``I2VSettings``, instead of the keyword arguments.
        """
        # 1. Settings: the keyword arguments (or ``settings``), validated once.
        passed = {k: v for k, v in locals().items() if k in _I2V_KEYWORDS}
        settings = _merge_settings(I2VSettings, settings, passed, _I2V_DEFAULTS)
        image = image if image is not None else image_path
        if image is None:
            raise InvalidInputError("an input image is required (image= PIL image, file path or http(s) URL)")
        with self.exclusive():
            return self._image_to_video(settings, load_image(image), generator, latents, callback)

    def _image_to_video(
        self,
        settings: I2VSettings,
        image,
        generator: torch.Generator | None,
        latents: torch.Tensor | None,
        callback: StepCallback | None,
    ) -> GenerationOutput:
        generator, seed = make_generator(settings.seed, generator, self.parallel, self.device)
        # 2. Size: the aspect bucket closest to the image's shape, or the explicit size.
        height, width = conditioning.resolve_size(image, settings.resolution, settings.height, settings.width)
        self.parallel.check_size(height, width)
        # 3. Prompt embeddings: [negative, positive] with CFG, [positive] without.
        text, text_mask = self.encode_text(
            settings.prompt, settings.negative_prompt, settings.use_cfg, settings.max_sequence_length
        )
        # 4. Timesteps: shifted sigmas (the distill grid with the LoRA).
        timesteps = set_schedule(self.components.scheduler, settings.steps, settings.distill, self.device)
        # 5. Latents: the noise first, then the image's VAE posterior sample, normalized, in frame 0.
        pixels = conditioning.image_to_pixels(image, height, width)
        latents = self.prepare_latents(pixels, settings.num_frames, generator, latents)
        latents, text, text_mask = self.parallel.share(latents, text, text_mask)
        # 6. Denoise: masked timesteps for the conditioning frame, CFG-zero, step only the noisy frames.
        model = self.model(text, text_mask, num_cond_latents=I2V_COND_LATENTS, cond_rope=settings.cond_rope)
        lora = defaults.DISTILL_LORA_NAME if settings.distill else None
        with self.lora_enabled(lora):
            latents = denoise(
                model, latents, self.components.scheduler, timesteps, settings.guidance, I2V_COND_LATENTS, callback
            )
        # 7. Decode all frames, the conditioning frame included.
        frames = self.decode(latents)
        used = settings.resolved().replace(seed=seed)
        cond_image = conditioning.pixels_to_image(pixels)
        return GenerationOutput(frames, latents, seed, cond_image, image.size, settings.fps, used)


def _keyword_defaults(method, cls: type) -> dict[str, object]:
    """The keyword arguments of ``method`` that are fields of settings type ``cls``, with their defaults."""
    names = {f for f in cls.__dataclass_fields__}
    params = inspect.signature(method).parameters
    return {n: p.default for n, p in params.items() if n in names}


def _merge_settings(cls, settings, passed: dict[str, object], keyword_defaults: dict[str, object]):
    """Settings from the keyword arguments, or ``settings`` itself; both at once only for the prompt."""
    if settings is None:
        return cls(**{k: ("" if k == "prompt" and v is None else v) for k, v in passed.items()})
    if not isinstance(settings, cls):
        raise InvalidInputError(f"settings must be a {cls.__name__}, got {type(settings).__name__}")
    extra = {k: v for k, v in passed.items() if k != "prompt" and v != keyword_defaults[k]}
    if extra:
        raise InvalidInputError(
            f"pass the options either as keyword arguments or in settings=, not both (got {', '.join(extra)})"
        )
    return settings if passed.get("prompt") is None else settings.replace(prompt=passed["prompt"])


_I2V_DEFAULTS = _keyword_defaults(LongCatI2V.generate_video, I2VSettings)
_I2V_KEYWORDS = frozenset(_I2V_DEFAULTS)


def load_pipeline(
    checkpoint: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    sp_size: int = 1,
    cfg_parallel: bool = False,
    runtime: RuntimeSettings | None = None,
) -> LongCatI2V:
    """``from_pretrained`` with the defaults every front end uses: the built-in tiny checkpoint (made on first
    use) when ``checkpoint`` is None, the first GPU if there is one, and ``dtype`` by name (bfloat16 on CUDA,
    float32 elsewhere by default). ``runtime`` gives the same options as one ``RuntimeSettings``."""
    if runtime is None:
        runtime = RuntimeSettings(
            checkpoint=None if checkpoint is None else str(checkpoint),
            device=device,
            dtype=dtype,
            sp_size=sp_size,
            cfg_parallel=cfg_parallel,
        )
    root = runtime.checkpoint if runtime.checkpoint is not None else ensure_tiny_checkpoint()
    device = runtime.device or defaults.default_device()
    torch_dtype = defaults.DTYPES[runtime.dtype or defaults.default_dtype(device)]
    return LongCatI2V.from_pretrained(root, device, torch_dtype, runtime.sp_size, runtime.cfg_parallel)

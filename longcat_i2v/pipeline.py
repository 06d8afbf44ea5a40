"""LongCatI2V: load a hub-layout checkpoint and generate a video from one image and a prompt.

``generate_video`` follows the original ``generate_i2v`` stage by stage; the stages are methods here (and
small functions in conditioning, schedule, denoise) so that continuation and refinement reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import conditioning, defaults, loading
from .denoise import StepCallback, denoise
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .options import keyword_defaults, settings_from_call
from .planner import Request
from .progress import Progress, ProgressFn
from .schedule import set_schedule
from .seeds import make_generator
from .settings import I2VSettings, RuntimeSettings, SamplingSettings
from .stages import PipelineStages
from .tiny import ensure_tiny_checkpoint

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


class LongCatI2V(PipelineStages):
    """LongCat-Video image-to-video, computing what the original ``generate_i2v`` computes."""

    @classmethod
    def from_pretrained(
        cls,
        checkpoint_dir: str | Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        sp_size: int = 1,
        cfg_parallel: bool = False,
        offload: str = "none",
        text_encoder_device: str | None = None,
        quantize: str | None = None,
        compile: bool = False,
        attention: str = "auto",
        shard_weights: bool = False,
        plan: Request | None = None,
    ) -> LongCatI2V:
        """Load a checkpoint in the original hub layout or FastVideo's. ``sp_size`` > 1 shards the DiT's sequence over
        that many ranks, and ``cfg_parallel`` runs the uncond/cond halves of CFG on two such groups, inside
        an initialized default process group of sp_size × (2 if cfg_parallel else 1) ranks.

        Memory and speed (each a ``RuntimeSettings`` field, described there): ``offload`` "none", "model",
        "group", "sequential" or "auto" (the planner's pick for the device's free memory, sized for ``plan``, by
        default the default generation); ``text_encoder_device``; ``quantize`` "fp8"/"int8" (weight-only DiT);
        ``compile`` (regional torch.compile); ``attention`` "auto", "sdpa", "flash", "flash3";
        ``shard_weights`` (FSDP2 over the sp ranks). Only ``quantize`` changes the numbers."""
        options = RuntimeSettings(
            sp_size=sp_size, cfg_parallel=cfg_parallel, offload=offload, text_encoder_device=text_encoder_device,
            quantize=quantize, compile=compile, attention=attention, shard_weights=shard_weights,
        )  # fmt: skip
        loaded = loading.load(checkpoint_dir, device, dtype, options, plan)
        return cls(loaded.components, device, loaded.parallel, loaded.placement, loaded.attention_kernel)

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
        progress: ProgressFn | None = None,
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
            progress: ``progress(Progress)`` at each phase and step (encoding, denoising with the latents,
                decoding); raising GenerationCancelled there stops.
        """
        # 1. Settings: the keyword arguments (or ``settings``), validated once.
        passed = {k: v for k, v in locals().items() if k in _I2V_KEYWORDS}
        settings = settings_from_call(I2VSettings, settings, passed, _I2V_DEFAULTS)
        image = image if image is not None else image_path
        if image is None:
            raise InvalidInputError("an input image is required (image= PIL image, file path or http(s) URL)")
        with self.exclusive():
            on_step = self.step_callback(callback, progress)
            return self._image_to_video(settings, load_image(image), generator, latents, on_step, progress)

    def _image_to_video(
        self,
        settings: I2VSettings,
        image,
        generator: torch.Generator | None,
        latents: torch.Tensor | None,
        on_step: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        self.report(progress, Progress("encoding", 0, 1))
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
                model, latents, self.components.scheduler, timesteps, settings.guidance, I2V_COND_LATENTS, on_step
            )
        # 7. Decode all frames, the conditioning frame included.
        frames = self.decode(latents, progress)
        used = settings.resolved().replace(seed=seed)
        cond_image = conditioning.pixels_to_image(pixels)
        return GenerationOutput(frames, latents, seed, cond_image, image.size, settings.fps, used)


_I2V_DEFAULTS = keyword_defaults(LongCatI2V.generate_video, I2VSettings)
_I2V_KEYWORDS = frozenset(_I2V_DEFAULTS)


def load_pipeline(
    checkpoint: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    sp_size: int = 1,
    cfg_parallel: bool = False,
    runtime: RuntimeSettings | None = None,
    plan: Request | None = None,
) -> LongCatI2V:
    """``from_pretrained`` with the defaults every front end uses: the built-in tiny checkpoint (made on first
    use) when ``checkpoint`` is None, the first GPU if there is one, and ``dtype`` by name (bfloat16 on CUDA,
    float32 elsewhere by default). ``runtime`` gives these and every other load option (offload, quantize,
    compile, attention, sharding) as one ``RuntimeSettings``; ``plan`` sizes ``offload="auto"``."""
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
    r = runtime
    return LongCatI2V.from_pretrained(
        root, device, torch_dtype, r.sp_size, r.cfg_parallel, offload=r.offload,
        text_encoder_device=r.text_encoder_device, quantize=r.quantize, compile=r.compile, attention=r.attention,
        shard_weights=r.shard_weights, plan=plan,
    )  # fmt: skip

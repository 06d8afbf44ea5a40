"""LongCatI2V: load a hub-layout checkpoint and generate a video from one image and a prompt (and refine it to
720p: ``refine`` and ``refine_segments`` come from ``refiner.Refiner``).

``generate_video`` follows the original ``generate_i2v`` stage by stage; the stages are methods here (and
small functions in conditioning, schedule, denoise) so that continuation and refinement reuse them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import conditioning, defaults, loading
from .chains import refine_options
from .denoise import StepCallback, denoise
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .long_video import LongVideoGeneration
from .options import keyword_defaults, settings_from_call
from .output import GenerationOutput
from .planner import Request
from .progress import Progress, ProgressFn
from .schedule import set_schedule
from .seeds import make_generator
from .settings import ContinuationSettings, I2VSettings, RefineSettings, RuntimeSettings, SamplingSettings
from .tiny import ensure_tiny_checkpoint
from .video_input import VideoClip, VideoLike, clip_to_pixels, load_clip

__all__ = ["GenerationOutput", "LongCatI2V", "load_pipeline"]

I2V_COND_LATENTS = 1  # image-to-video conditions on one latent frame: the image


class LongCatI2V(LongVideoGeneration):
    """LongCat-Video image-to-video, video continuation, long videos and the 720p refinement, computing what the
    original ``generate_i2v``, ``generate_vc`` and ``generate_refine`` compute (long videos: long_video.py;
    refinement: refiner.py; a generation then its refinement: chains.py)."""

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
        use_kv_cache: bool = True,
        latents: torch.Tensor | None = None,
        settings: I2VSettings | None = None,
        progress: ProgressFn | None = None,
        refine: bool = False,
        refine_settings: RefineSettings | None = None,
    ) -> GenerationOutput:
        """Generate ``num_frames`` frames that start from ``image`` (and with ``refine``, refine them to 720p).

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
            use_kv_cache: the image frame's keys, values and velocity computed once, not at every step (the
                same result, the conditioning tokens' share of each step saved; cache.py).
            callback: ``callback(step, total, latents)`` after each step; raising GenerationCancelled stops.
            latents: start from these [1, 16, T, H/8, W/8] latents instead of drawing the noise (the image's
                latent is still placed in frame 0, as the original's ``latents=`` does).
            settings: all of the above options as one ``I2VSettings``, instead of the keyword arguments.
            progress: ``progress(Progress)`` at each phase and step (encoding, denoising with the latents,
                decoding); raising GenerationCancelled there stops.
            refine: then ``refine`` the video conditioned on the image, as the original demo does: the output is
                the refined video (at ``fps`` × 2, or × 1 with spatial_refine_only), ``stage1`` the one refined.
            refine_settings: the refinement's options (default ``RefineSettings()``); with its prompt empty, the
                prompt and prompt length are this call's; with its seed None, the generator carries on.
        """
        # 1. Settings: the keyword arguments (or ``settings``), validated once.
        passed = {k: v for k, v in locals().items() if k in _I2V_KEYWORDS}
        settings = settings_from_call(I2VSettings, settings, passed, _I2V_DEFAULTS)
        image = image if image is not None else image_path
        if image is None:
            raise InvalidInputError("an input image is required (image= PIL image, file path or http(s) URL)")
        refine_with = refine_options(settings, refine_settings)
        image = load_image(image)
        with self.exclusive():
            if refine_with is None:
                on_step = self.step_callback(callback, progress)
                return self._image_to_video(settings, image, generator, latents, on_step, progress)
            return self._refined(settings, refine_with, image, generator, latents, callback, progress)

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
        # 6. Denoise: masked timesteps for the conditioning frame, CFG-zero over all frames, step only the noisy
        # ones; with the cache the image frame's keys, values and velocity are computed once (the same result).
        with self.lora_enabled(_lora(settings)):
            model = self.denoiser(text, text_mask, latents, I2V_COND_LATENTS, settings.cond_rope, settings.use_kv_cache)
            latents = denoise(
                model, latents, self.components.scheduler, timesteps, settings.guidance, I2V_COND_LATENTS, on_step
            )
        # 7. Decode all frames, the conditioning frame included.
        frames = self.decode(latents, progress)
        used = settings.resolved().replace(seed=seed)
        cond_image = conditioning.pixels_to_image(pixels)
        return GenerationOutput(frames, latents, seed, cond_image, image.size, settings.fps, used)

    # Video continuation ----------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate_continuation(
        self,
        prompt: str | None = None,
        video: VideoLike | VideoClip | None = None,
        negative_prompt: str | None = None,
        num_frames: int = defaults.NUM_FRAMES,
        num_cond_frames: int = defaults.NUM_COND_FRAMES,
        resolution: str = defaults.RESOLUTION,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        distill: bool = False,
        enhance_hf: bool | None = None,
        use_kv_cache: bool = True,
        offload_kv_cache: bool = False,
        cond_rope: str = defaults.COND_ROPE,
        max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH,
        callback: StepCallback | None = None,
        settings: ContinuationSettings | None = None,
        progress: ProgressFn | None = None,
        refine: bool = False,
        refine_settings: RefineSettings | None = None,
    ) -> GenerationOutput:
        """Continue ``video``: ``num_frames`` frames whose first ``num_cond_frames`` are its last frames
        re-decoded (as the original's ``generate_vc`` returns them), the rest new.

        Args:
            video: a video file (brought to 15 fps: every round(fps/15)-th frame), PIL images, or an array
                [F, H, W, 3] of uint8 or floats in [0, 1] (or ``video_input.load_clip``'s clip of one); its
                frame 0 picks the size bucket.
            num_cond_frames: 4k+1 frames, fewer than ``num_frames``, encoded to 1 + (n−1)/4 latents.
            enhance_hf: the original's high-frequency schedule (None: on unless ``distill``).
            use_kv_cache: the conditioning frames' keys/values once, the steps on the new frames only (the
                original's default; with CFG, guidance is then scaled over the new frames only, as there).
            offload_kv_cache: that cache in CPU memory, brought to the device block by block.
            refine, refine_settings: then refine the clip to 720p conditioned on the input's last
                ``num_cond_frames`` × 2 frames at 30 fps (× 1 with spatial_refine_only; the video must be a file,
                or a clip loaded with ``refine_keep``), as the original demo (chains.py): the output is the refined
                clip (its first frames those conditioning ones), ``stage1`` the one refined.
            The other arguments are ``generate_video``'s; ``settings``: all of them as ``ContinuationSettings``.
        """
        # 1. Settings, then the input clip: frame 0 and the last num_cond_frames frames at 15 fps.
        passed = {k: v for k, v in locals().items() if k in _VC_KEYWORDS}
        settings = settings_from_call(ContinuationSettings, settings, passed, _VC_DEFAULTS)
        refine_with = refine_options(settings, refine_settings)
        if video is None:
            raise InvalidInputError("an input video is required (video= file path, PIL images or frames array)")
        keep = 0 if refine_with is None else settings.num_cond_frames * refine_with.temporal_factor
        clip = video if isinstance(video, VideoClip) else load_clip(video, settings.num_cond_frames, refine_keep=keep)
        if len(clip.last) != settings.num_cond_frames:
            held = len(clip.last)
            raise InvalidInputError(f"the clip holds {held} frames, not num_cond_frames={settings.num_cond_frames}")
        with self.exclusive():
            if refine_with is not None:
                return self._refined_continuation(settings, refine_with, clip, generator, callback, progress)
            return self._continuation(settings, clip, generator, self.step_callback(callback, progress), progress)

    def _continuation(
        self,
        settings: ContinuationSettings,
        clip: VideoClip,
        generator: torch.Generator | None,
        on_step: StepCallback | None,
        progress: ProgressFn | None,
    ) -> GenerationOutput:
        self.report(progress, Progress("encoding", 0, 1))
        generator, seed = make_generator(settings.seed, generator, self.parallel, self.device)
        # 2. Size: the bucket closest to the video's frame 0, or the explicit size.
        height, width = conditioning.resolve_size(clip.first, settings.resolution, settings.height, settings.width)
        self.parallel.check_size(height, width)
        # 3. Prompt embeddings; 4. timesteps, with the enhance_hf tail when asked.
        text, text_mask = self.encode_text(
            settings.prompt, settings.negative_prompt, settings.use_cfg, settings.max_sequence_length
        )
        scheduler = self.components.scheduler
        timesteps = set_schedule(scheduler, settings.steps, settings.distill, self.device, settings.hf_tail)
        # 5. Latents in the DiT dtype, as the original: the noise, then the clip's posterior sample in front. The
        # original's cached path steps them in float32 (the scheduler's output), the uncached one in place.
        n = settings.num_cond_latents
        pixels = clip_to_pixels(clip.last, height, width)
        latents = self.prepare_latents(pixels, settings.num_frames, generator, dtype=self.dit.dtype)
        latents = latents.float() if settings.use_kv_cache else latents
        latents, text, text_mask = self.parallel.share(latents, text, text_mask)
        # 6. Denoise the frames after the conditioning ones; CFG-zero over what the model returns (with the cache
        # the new frames only, without it all frames: the original's two modes).
        with self.lora_enabled(_lora(settings)):
            model = self.denoiser(
                text, text_mask, latents, n, settings.cond_rope, settings.use_kv_cache, settings.offload_kv_cache,
                with_cond_velocity=False,
            )  # fmt: skip
            latents = denoise(model, latents, scheduler, timesteps, settings.guidance, n, on_step)
        # 7. Decode every frame, the conditioning ones included.
        frames = self.decode(latents, progress)
        used = settings.resolved().replace(seed=seed)
        cond_image = conditioning.pixels_to_image(pixels[:, :, -1:])
        return GenerationOutput(frames, latents.float(), seed, cond_image, clip.size, settings.fps, used)


def _lora(settings: SamplingSettings) -> str | None:
    """The LoRA a generation runs with: the distill one, or none."""
    return defaults.DISTILL_LORA_NAME if settings.distill else None


_I2V_DEFAULTS = keyword_defaults(LongCatI2V.generate_video, I2VSettings)
_I2V_KEYWORDS = frozenset(_I2V_DEFAULTS)
_VC_DEFAULTS = keyword_defaults(LongCatI2V.generate_continuation, ContinuationSettings)
_VC_KEYWORDS = frozenset(_VC_DEFAULTS)


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

"""One typed settings object per kind of generation, validated once.

Every user-facing option is a field of a settings dataclass, with its default (from ``defaults``), its rule
(type, bounds, choices, 4k+1, multiples) and its help text in the field's metadata. The CLI's arguments, the
demo's form and the eval harness's Hydra schema are generated from these classes, so a new option is added
here and nowhere else. ``validate`` refuses a bad value with a ``SettingsError`` that names the field and
what is allowed; each front end re-labels the field in its own terms (``--num-frames``, ``sampler.num_frames``,
"Number of frames").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from . import defaults
from .options import MAX_SEED, Settings, SettingsError, invalid, option

T = TypeVar("T", bound="SamplingSettings")
C = TypeVar("C", bound="ContinuationSettings")


@dataclass(frozen=True, kw_only=True)
class SamplingSettings(Settings):
    """What every kind of generation shares: the prompt, the size, the sampler and the seed."""

    prompt: str = option("", "what should happen in the video")
    negative_prompt: str | None = option(
        None,
        "what to avoid; used only with CFG (guidance > 1). None/empty: none (the API default, as the original's); "
        "the CLI, demo and harness pre-fill the original demo's",
        suggested=defaults.NEGATIVE_PROMPT,
    )
    resolution: str = option(
        defaults.RESOLUTION,
        "aspect bucket table; the bucket closest to the input's shape",
        choices=defaults.RESOLUTIONS,
    )
    height: int | None = option(
        None, "explicit height (with width) instead of the bucket", multiple_of=defaults.SIZE_MULTIPLE, maximum=4096
    )
    width: int | None = option(
        None, "explicit width (with height) instead of the bucket", multiple_of=defaults.SIZE_MULTIPLE, maximum=4096
    )
    num_inference_steps: int | None = option(
        None,
        f"denoising steps (default {defaults.STEPS}; {defaults.DISTILL_STEPS} with distill)",
        key="steps",
        minimum=1,
        maximum=1000,
    )
    guidance_scale: float | None = option(
        None,
        f"classifier-free guidance (CFG-zero) scale; CFG runs only above 1 (default {defaults.GUIDANCE}; "
        f"{defaults.DISTILL_GUIDANCE} with distill)",
        key="guidance",
        minimum=0,
    )
    seed: int | None = option(None, "random seed; None: drawn at random and reported", minimum=0, maximum=MAX_SEED)
    distill: bool = option(False, f"the 16-step distill LoRA ({defaults.DISTILL_LORA_NAME})")
    cond_rope: str = option(
        defaults.COND_ROPE,
        "'skip': no rotary embedding on the conditioning frames (an experiment; 'full' is the original)",
        choices=defaults.COND_ROPE_MODES,
    )
    max_sequence_length: int = option(
        defaults.MAX_SEQUENCE_LENGTH,
        "prompt tokens (padded/truncated to this length)",
        minimum=1,
        maximum=4096,
        front_ends=("cli", "eval"),
    )
    fps: int = option(defaults.FPS, "frame rate of the written mp4", minimum=1, maximum=defaults.MAX_FPS, output=True)
    refine: bool = option(
        False,
        "then refine it to 720p and (unless spatial_refine_only) 30 fps with the refinement LoRA (RefineSettings); "
        "continuations and long videos segment by segment, as the original demos",
        front_ends=("cli",),
    )

    def check_together(self) -> None:
        if (self.height is None) != (self.width is None):
            raise SettingsError(
                ("height", "width"), "give both {height} and {width}, or neither (then the resolution bucket decides)"
            )
        if self.distill and self.steps > defaults.DISTILL_GRID:
            raise invalid("num_inference_steps", self.steps, f"at most {defaults.DISTILL_GRID} with distill")

    @property
    def steps(self) -> int:
        """The number of denoising steps, the default resolved."""
        return defaults.steps_for(self.distill) if self.num_inference_steps is None else self.num_inference_steps

    @property
    def guidance(self) -> float:
        """The guidance scale, the default resolved."""
        return defaults.guidance_for(self.distill) if self.guidance_scale is None else float(self.guidance_scale)

    @property
    def use_cfg(self) -> bool:
        """Classifier-free guidance runs only with guidance > 1, as in the original."""
        return self.guidance > 1.0

    def resolved(self: T) -> T:
        """The same settings with steps and guidance written out (for "settings used" records)."""
        return self.replace(num_inference_steps=self.steps, guidance_scale=self.guidance)  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class I2VSettings(SamplingSettings):
    """Image-to-video: ``num_frames`` frames that start from the input image."""

    num_frames: int = option(defaults.NUM_FRAMES, "frames to generate, 4k+1", four_k_plus_one=True, maximum=1001)
    resize_to_input: bool = option(
        False, "resize the video back to the input image size (bicubic, even sides)", output=True, front_ends=("cli",)
    )
    use_kv_cache: bool = option(
        True,
        "compute the image frame's keys/values and velocity once instead of at every step (same result, faster)",
        key="kv_cache",
        front_ends=("cli", "eval"),
    )
    refine: bool = option(
        False,
        "then refine it to 720p and (unless spatial_refine_only) 30 fps with the refinement LoRA (RefineSettings)",
        front_ends=("cli", "demo"),  # the demo refines continuations and long videos with its Refine button
    )


@dataclass(frozen=True, kw_only=True)
class ContinuationSettings(SamplingSettings):
    """Video continuation: ``num_frames`` frames whose first ``num_cond_frames`` are the input video's last ones."""

    num_frames: int = option(defaults.NUM_FRAMES, "frames of the clip, conditioning frames included, 4k+1",
                             four_k_plus_one=True, maximum=1001)  # fmt: skip
    num_cond_frames: int = option(
        defaults.NUM_COND_FRAMES,
        "the input's last frames that condition the new ones, 4k+1 (the VAE encodes 1 + (n-1)/4 latents; with "
        "other counts the original silently drops the newest frames)",
        four_k_plus_one=True,
        maximum=1001,
    )
    enhance_hf: bool | None = option(
        None,
        "the original's high-frequency schedule: the shifted steps above t=500, then ten uniform steps 500, 450, "
        "..., 50 (50 steps make 56 DiT calls). None: on, unless distill (the original refuses both)",
    )
    use_kv_cache: bool = option(
        True,
        "compute the conditioning frames' keys/values once and run the steps on the new frames only (the "
        "original's default; with CFG it scales the guidance over the new frames only, so it differs from off)",
        key="kv_cache",
    )
    offload_kv_cache: bool = option(False, "keep that cache in CPU memory, bringing it to the device block by block")

    def check_together(self) -> None:
        super().check_together()
        if self.num_cond_frames >= self.num_frames:
            raise SettingsError(
                ("num_cond_frames", "num_frames"),
                f"{{num_cond_frames}}={self.num_cond_frames} is invalid: must be less than "
                f"{{num_frames}}={self.num_frames} (the clip holds the conditioning frames and the new ones)",
                self.num_cond_frames,
            )
        if self.distill and self.enhance_hf:
            raise SettingsError(
                ("enhance_hf", "distill"),
                "{enhance_hf} cannot be used with {distill} (the original refuses the combination); turn one off",
                True,
            )

    @property
    def hf_tail(self) -> bool:
        """Whether the enhance_hf schedule runs, the default resolved."""
        return not self.distill if self.enhance_hf is None else self.enhance_hf

    @property
    def num_cond_latents(self) -> int:
        """Latent frames the conditioning frames encode to."""
        return 1 + (self.num_cond_frames - 1) // 4

    def resolved(self: C) -> C:
        return super().resolved().replace(enhance_hf=self.hf_tail)


@dataclass(frozen=True, kw_only=True)
class LongVideoSettings(ContinuationSettings):
    """A long video: an image-to-video segment, then ``num_segments`` − 1 continuations, each of the previous one
    (the original's long-video and interactive demos). Every segment has ``num_frames`` frames; the video grows
    by ``num_frames − num_cond_frames`` per continuation."""

    prompt: tuple[str, ...] = option((), "one prompt for every segment, or one per segment")  # type: ignore[assignment]
    num_segments: int | None = option(
        None, "segments, the image-to-video one included; None: one per prompt", key="segments", minimum=1,
        maximum=10_000,
    )  # fmt: skip

    def check_together(self) -> None:
        super().check_together()
        if len(self.prompt) > 1 and self.num_segments is not None and len(self.prompt) != self.num_segments:
            raise SettingsError(
                ("prompt", "num_segments"),
                f"{len(self.prompt)} prompts for {{num_segments}}={self.num_segments} segments: give one {{prompt}} "
                f"for every segment or exactly {self.num_segments}",
                len(self.prompt),
            )

    @property
    def segments(self) -> int:
        """The number of segments, the default resolved."""
        return self.num_segments if self.num_segments is not None else max(1, len(self.prompt))

    @property
    def prompts(self) -> tuple[str, ...]:
        """The prompt of each segment ("" when none was given)."""
        return self.prompt if len(self.prompt) > 1 else (self.prompt[0] if self.prompt else "",) * self.segments

    @property
    def num_frames_total(self) -> int:
        """F + (S − 1)(F − num_cond_frames): the first segment whole, then each continuation's new frames."""
        return self.num_frames + (self.segments - 1) * (self.num_frames - self.num_cond_frames)


@dataclass(frozen=True, kw_only=True)
class RefineSettings(Settings):
    """The 720p refinement of a stage-1 video (``LongCatI2V.refine``): the refinement LoRA denoises the up-sampled
    video from t_thresh down. Keys are prefixed so the flags sit beside the image-to-video ones."""

    prompt: str = option("", "what the video shows (the long-video demo refines with an empty prompt)", front_ends=())
    num_inference_steps: int = option(
        defaults.REFINE_STEPS,
        "steps of the full schedule, of which those below t_thresh run (50 with 0.5: 5 DiT calls)",
        key="refine_steps",
        minimum=1,
        maximum=1000,
    )
    t_thresh: float = option(
        defaults.REFINE_T_THRESH,
        "in (0, 1]: how much noise is mixed into the up-sampled video's latents, and where the schedule starts",
        key="refine_t_thresh",
    )
    spatial_refine_only: bool = option(False, "720p only: keep the frame count (15 fps) instead of doubling it")
    num_cond_frames: int | None = option(
        None,
        "conditioning frames at the start (of the refined frame count); None: 1 with an image, 0 without; "
        "required with a video",
        minimum=0,
        maximum=1001,
        front_ends=(),
    )
    height: int | None = option(
        None,
        "explicit height (with width) instead of the 720p bucket of the stage-1 frames",
        key="refine_height",
        multiple_of=defaults.SIZE_MULTIPLE,
        maximum=4096,
    )
    width: int | None = option(
        None,
        "explicit width (with height) instead of the 720p bucket of the stage-1 frames",
        key="refine_width",
        multiple_of=defaults.SIZE_MULTIPLE,
        maximum=4096,
    )
    seed: int | None = option(
        None,
        "random seed of the refinement; None: after image-to-video its generator carries on (the original demo's), "
        "alone a random one",
        key="refine_seed",
        minimum=0,
        maximum=MAX_SEED,
    )
    rng: str = option(
        defaults.REFINE_RNG,
        "'generator': every draw from the generator; 'original': the up-sampled video's draws from torch's global "
        "RNG, as the original makes them",
        key="refine_rng",
        choices=defaults.REFINE_RNGS,
    )
    attention: str = option(
        defaults.REFINE_ATTENTION,
        "self-attention of the refinement: 'bsa' (block-sparse, the original's) or 'dense'",
        key="refine_attention",
        choices=defaults.REFINE_ATTENTIONS,
    )
    max_sequence_length: int = option(
        defaults.MAX_SEQUENCE_LENGTH, "prompt tokens (padded/truncated to this length)", minimum=1, maximum=4096,
        front_ends=(),
    )  # fmt: skip

    def check_together(self) -> None:
        if (self.height is None) != (self.width is None):
            raise SettingsError(
                ("height", "width"), "give both {height} and {width}, or neither (then the 720p bucket decides)"
            )
        if not 0 < self.t_thresh <= 1:
            raise invalid("t_thresh", self.t_thresh, "a number in (0, 1]")

    @property
    def temporal_factor(self) -> int:
        """Refined frames per stage-1 frame: 2 (15 → 30 fps), or 1 with spatial_refine_only."""
        return 1 if self.spatial_refine_only else 2


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings(Settings):
    """How the model is loaded and run: where, in what precision, on how many ranks."""

    checkpoint: str | None = option(
        None, "LongCat-Video checkpoint dir (hub or FastVideo layout); None: the built-in tiny one"
    )
    device: str | None = option(None, "torch device, e.g. cuda:1; None: the first GPU, else the CPU")
    dtype: str | None = option(
        None, "weights' dtype; None: bfloat16 on CUDA, float32 elsewhere", choices=defaults.DTYPE_NAMES
    )
    sp_size: int = option(1, "sequence-parallel ranks (under torchrun)", key="sp", minimum=1, front_ends=("cli",))
    cfg_parallel: bool = option(
        False, "run the uncond/cond halves of CFG on two rank groups (2 x sp ranks)", front_ends=("cli",)
    )
    allow_private_urls: bool = option(
        False, "let image URLs reach loopback, private and link-local addresses (refused by default)",
        front_ends=("cli",),
    )  # fmt: skip
    offload: str = option(
        "none",
        "where the weights wait while they do not compute: none (all on the GPU), model (each component on the GPU "
        "only while it works), group (DiT blocks streamed from pinned CPU memory one ahead), sequential (each layer "
        "on the GPU for its own forward; the least memory), auto (the planner's pick for this GPU's free memory); "
        "the same frames in every mode",
        choices=(*defaults.OFFLOAD_MODES, "auto"),
    )
    text_encoder_device: str | None = option(
        None, "keep and run the text encoder on this device (e.g. cpu); None: as the offload mode does (CPU for "
        "sequential)",
    )  # fmt: skip
    quantize: str | None = option(
        None, "weight-only DiT quantization through torchao (fp8: e4m3, int8); the one option that changes the numbers",
        choices=defaults.QUANT_MODES,
    )  # fmt: skip
    compile: bool = option(False, "regional torch.compile of the DiT blocks (the first generation compiles)")
    attention: str = option(
        "auto",
        "attention kernel: auto (FlashAttention-3 on Hopper, else flash-attn 2, when installed and bf16/fp16 on "
        "CUDA; else SDPA), sdpa, flash (flash-attn 2), flash3",
        choices=defaults.ATTENTION_KERNELS,
    )
    shard_weights: bool = option(
        False, "shard the DiT's and the text encoder's weights over the --sp ranks (FSDP2; each rank holds 1/sp)",
        front_ends=("cli", "eval"),
    )  # fmt: skip

    def check_together(self) -> None:
        for name in ("device", "text_encoder_device"):
            if getattr(self, name) is not None:
                _check_device(getattr(self, name), name)
        if self.shard_weights:  # (sp >= 2 is checked at load: the eval harness takes sp from its world size)
            clash = [f for f, unset in _NOT_WITH_SHARDING.items() if getattr(self, f) != unset]
            if clash:
                names = " and ".join("{" + f + "}" for f in clash)
                raise SettingsError(
                    ("shard_weights", *clash), f"{{shard_weights}} cannot be combined with {names} (not supported)"
                )


# The runtime options sharding is not combined with (untested together), and their values when not used.
_NOT_WITH_SHARDING = {"offload": "none", "text_encoder_device": None, "quantize": None, "compile": False}


def _check_device(device: str, name: str = "device") -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise invalid(name, device, "a torch device such as cpu, cuda or cuda:1") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise invalid(name, device, "a device this machine has (no CUDA device is available here; use cpu)")

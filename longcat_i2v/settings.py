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

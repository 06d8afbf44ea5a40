"""The one place that defines user-facing defaults; CLI, demo and eval read them from here. Torch is imported
only by what needs it (``DTYPES``, the default device), so reading the defaults stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

NUM_FRAMES = 93
NUM_COND_FRAMES = 13  # video continuation: the input's last frames that condition the new ones
RESOLUTION = "480p"
RESOLUTIONS = ("480p", "720p")
STEPS = 50
GUIDANCE = 4.0
DISTILL_STEPS = 16
DISTILL_GUIDANCE = 1.0
MAX_SEQUENCE_LENGTH = 512
FPS = 15
MAX_FPS = 120
CRF = 18
COND_ROPE_MODES = ("full", "skip")
COND_ROPE = "full"
DISTILL_LORA_NAME = "cfg_step_lora.safetensors"  # under lora/ (hub) or lora/distilled/ (FastVideo)
REFINEMENT_LORA_NAME = "refinement_lora.safetensors"  # under lora/ (hub) or lora/refinement/ (FastVideo)
REFINE_STEPS = 50  # of the full schedule; t_thresh keeps those below it (5 DiT calls with 0.5 and shift 12)
REFINE_T_THRESH = 0.5
REFINE_ATTENTION = "bsa"  # the demos' refinement: block-sparse self-attention
REFINE_ATTENTIONS = ("bsa", "dense")
REFINE_RNG = "generator"
# "generator": every draw from the generator; "original": the up-sampled video's posterior sample and the
# mixing noise from torch's global RNG, as the original draws them (for parity), the conditioning from the generator
REFINE_RNGS = ("generator", "original")

# The negative prompt of the original demo (run_demo_image_to_video.py).
NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
    "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
    "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
    "fused fingers, still picture, messy background, three legs, many people in the background, "
    "walking backwards"
)

# Input image limits: a decoded image above this many pixels is refused (decompression bombs).
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_BYTES = 50 * 1024 * 1024
URL_TIMEOUT_S = 20.0  # one deadline for the whole fetch of an image URL, redirects included
URL_MAX_REDIRECTS = 5
MAX_PROMPT_CHARS = 4000
# Input video limits (continuation): file size, decoded frames, pixels per frame.
MAX_VIDEO_BYTES = 2 * 1024**3
MAX_VIDEO_FRAMES = 20_000
MAX_VIDEO_FRAME_PIXELS = 7680 * 4320


def steps_for(distill: bool) -> int:
    """Default number of denoising steps: 16 with the distill LoRA, 50 otherwise."""
    return DISTILL_STEPS if distill else STEPS


def guidance_for(distill: bool) -> float:
    """Default guidance: 1.0 (no CFG) with the distill LoRA, 4.0 otherwise."""
    return DISTILL_GUIDANCE if distill else GUIDANCE


DTYPE_NAMES = ("float32", "bfloat16", "float16")
SIZE_MULTIPLE = 16  # image sides: VAE spatial factor 8 × DiT patch 2
DISTILL_GRID = 50  # the distill LoRA was trained on 50 evenly spaced timesteps
# Runtime choices (the modules that implement them import torch; the settings must not).
OFFLOAD_MODES = ("none", "model", "group", "sequential")  # cheapest (fastest) first; "auto" picks one
QUANT_MODES = ("fp8", "int8")
ATTENTION_KERNELS = ("auto", "sdpa", "flash", "flash3")


def __getattr__(name: str):
    if name == "DTYPES":  # {name: torch dtype}, built on first use
        import torch

        return {n: getattr(torch, n) for n in DTYPE_NAMES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_device() -> str:
    """The first GPU if there is one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> str:
    """bfloat16 on CUDA (as the original demo runs), float32 elsewhere."""
    import torch

    return "bfloat16" if torch.device(device).type == "cuda" else "float32"

"""Turn the web form's raw values into a checked GenerationRequest, with messages a non-programmer can act on.

Everything arriving here comes from a browser or an API client, so nothing is trusted: types, bounds and the
image are checked before the model sees them, and the image is only ever read from a local file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from longcat_i2v import defaults
from longcat_i2v.errors import ImageInputError, InvalidInputError

from .config import CUSTOM_SIZE, MAX_SEED, SIZE_MULTIPLE, DemoConfig

NOT_AN_IMAGE = "The uploaded file is not an image this demo can read. Please upload a PNG, JPEG or WebP picture."


@dataclass(frozen=True)
class GenerationRequest:
    """One checked generation: what the pipeline gets, plus the fps the mp4 is written at."""

    image: Image.Image
    prompt: str
    negative_prompt: str
    num_frames: int
    resolution: str
    height: int | None  # None: the resolution bucket decides
    width: int | None
    steps: int
    guidance: float
    seed: int | None  # None: the pipeline draws one and reports it
    distill: bool
    cond_rope: str
    fps: int

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``LongCatI2V.generate_video``."""
        return {
            "prompt": self.prompt,
            "image": self.image,
            "negative_prompt": self.negative_prompt or None,
            "num_frames": self.num_frames,
            "resolution": self.resolution if self.resolution != CUSTOM_SIZE else defaults.RESOLUTION,
            "height": self.height,
            "width": self.width,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "seed": self.seed,
            "distill": self.distill,
            "cond_rope": self.cond_rope,
        }


def load_image(path: str | Path | None, max_pixels: int) -> Image.Image:
    """Open an uploaded local file as an upright RGB image, refusing non-images and oversized pictures."""
    if path is None or path == "":
        raise ImageInputError("Please upload an image first: the video starts from it.")
    path = Path(path)
    if not path.is_file():
        raise ImageInputError("The uploaded image could not be found on the server. Please upload it again.")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageInputError(
                    f"The image is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are "
                    "accepted. Please upload a smaller image."
                )
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except ImageInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(NOT_AN_IMAGE) from exc
    if upright.width == 0 or upright.height == 0:
        raise ImageInputError(NOT_AN_IMAGE)
    return upright


def _whole(value: Any, label: str) -> int:
    """An integer from a form field that may send 5, 5.0 or "5"; anything else is refused by name."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{label} must be a whole number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{label} must be a whole number, got {value!r}.") from None
    if not math.isfinite(number) or number != int(number):
        raise InvalidInputError(f"{label} must be a whole number, got {value!r}.")
    return int(number)


def _in_range(value: int | float, low: int | float, high: int | float, label: str) -> None:
    if not low <= value <= high:
        raise InvalidInputError(f"{label} must be between {low} and {high}, got {value}.")


def _frames(value: Any, config: DemoConfig) -> int:
    frames = _whole(value, "Number of frames")
    if not config.min_frames <= frames <= config.max_frames or (frames - 1) % 4:
        raise InvalidInputError(
            f"Number of frames must be 4k+1 between {config.min_frames} and {config.max_frames} "
            f"({config.min_frames}, {config.min_frames + 4}, {config.min_frames + 8}, …), got {frames}."
        )
    return frames


def _size(width: Any, height: Any, config: DemoConfig) -> tuple[int, int]:
    if width is None or height is None:
        raise InvalidInputError("A custom size needs both a width and a height.")
    sides = (_whole(width, "Width"), _whole(height, "Height"))
    for label, side in zip(("Width", "Height"), sides, strict=True):
        if side % SIZE_MULTIPLE or not config.min_side <= side <= config.max_side:
            raise InvalidInputError(
                f"{label} must be a multiple of {SIZE_MULTIPLE} between {config.min_side} and {config.max_side} "
                f"pixels, got {side}."
            )
    if sides[0] * sides[1] > config.max_area:
        raise InvalidInputError(
            f"{sides[0]}×{sides[1]} is too large: at most {config.max_area:,} pixels per frame are allowed "
            "(the size of the 720p buckets)."
        )
    return sides


def _seed(value: Any) -> int | None:
    if value is None or value == "":
        return None
    seed = _whole(value, "Seed")
    if seed < 0:
        return None
    _in_range(seed, 0, MAX_SEED, "Seed")
    return seed


def _guidance(value: Any, config: DemoConfig) -> float:
    try:
        guidance = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Guidance must be a number, got {value!r}.") from None
    if not math.isfinite(guidance):
        raise InvalidInputError(f"Guidance must be a finite number, got {value!r}.")
    _in_range(guidance, 0.0, config.max_guidance, "Guidance")
    return guidance


def _text(value: Any, label: str, config: DemoConfig) -> str:
    text = "" if value is None else value
    if not isinstance(text, str):
        raise InvalidInputError(f"{label} must be text, got {type(value).__name__}.")
    if len(text) > config.max_prompt_chars:
        raise InvalidInputError(
            f"{label} is {len(text)} characters long; at most {config.max_prompt_chars} are allowed."
        )
    return text.strip()


def build_request(
    config: DemoConfig,
    image: str | Path | None,
    prompt: Any,
    negative_prompt: Any,
    resolution: Any,
    width: Any,
    height: Any,
    num_frames: Any,
    steps: Any,
    guidance: Any,
    seed: Any,
    distill: Any,
    skip_cond_rope: Any,
    fps: Any,
) -> GenerationRequest:
    """Check every form value against ``config``; raise InvalidInputError/ImageInputError naming the problem."""
    picture = load_image(image, config.max_image_pixels)
    if resolution not in config.resolution_choices:
        raise InvalidInputError(
            f"Resolution must be one of {', '.join(config.resolution_choices)}, got {resolution!r}."
        )
    width_height = _size(width, height, config) if resolution == CUSTOM_SIZE else (None, None)
    frames = _frames(num_frames, config)
    step_count = _whole(steps, "Steps")
    _in_range(step_count, 1, config.max_steps, "Steps")
    frame_rate = _whole(fps, "FPS")
    _in_range(frame_rate, 1, config.max_fps, "FPS")
    return GenerationRequest(
        image=picture,
        prompt=_text(prompt, "The prompt", config),
        negative_prompt=_text(negative_prompt, "The negative prompt", config),
        num_frames=frames,
        resolution=resolution,
        width=width_height[0],
        height=width_height[1],
        steps=step_count,
        guidance=_guidance(guidance, config),
        seed=_seed(seed),
        distill=bool(distill),
        cond_rope="skip" if skip_cond_rope else defaults.COND_ROPE,
        fps=frame_rate,
    )

"""Turn the web form's raw values into a checked GenerationRequest, with messages a non-programmer can act on.

Everything arriving here comes from a browser or an API client, so nothing is trusted: the image is read
from a local file only, each value is checked against the form's table (``fields``: the operator's caps) and
then by the core's settings (the method's rules), and a failure names the field by its label.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from longcat_i2v import LongCatI2V, defaults
from longcat_i2v.errors import ImageInputError, InvalidInputError
from longcat_i2v.options import Settings, SettingsError, field_specs
from longcat_i2v.progress import ProgressFn
from longcat_i2v.settings import I2VSettings, RefineSettings, SamplingSettings
from longcat_i2v.video import to_uint8

from .config import CUSTOM_SIZE, DemoConfig
from .fields import FormField, form_fields

FAR_TOO_LARGE = "The image has far too many pixels to process. Please upload a smaller picture."
NOT_AN_IMAGE = "The uploaded file is not an image this demo can read. Please upload a PNG, JPEG or WebP picture."


S = TypeVar("S", bound=Settings)


@dataclass(frozen=True)
class Produced:
    """What a job made, for the worker to write and the page to show (and to Extend or Refine later)."""

    frames: np.ndarray  # uint8 [F, H, W, 3]
    fps: int
    seed: int
    cond_image: np.ndarray  # uint8 [H, W, 3]: the input as the model saw it
    settings: dict[str, Any]  # the settings used (JSON-friendly)
    kind: str = "video"  # "video", "extended", "long video" or "refined"
    segments: tuple[tuple[int, int], ...] = ()  # each stage-1 segment's frames [start, stop); () once refined
    num_cond_frames: int = 0  # frames each segment after the first repeats from the one before
    image: Image.Image | None = None  # the input image, for Refine
    note: str = ""  # said after the summary, e.g. what a Cancel kept
    video: Path | None = None  # an mp4 of ``frames`` that the job wrote already


class FromSettings:
    """``steps`` and ``fps`` (what the worker shows before a job runs) of a request generating with ``settings``."""

    settings: SamplingSettings

    @property
    def steps(self) -> int:
        return self.settings.steps

    @property
    def fps(self) -> int:
        return self.settings.fps


@dataclass(frozen=True)
class GenerationRequest(FromSettings):
    """One checked generation: the upright RGB image and the settings (the fps of the mp4 included), and the
    refinement's when the settings ask for it."""

    image: Image.Image
    settings: I2VSettings
    refine_settings: RefineSettings | None = None

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``LongCatI2V.generate_video``."""
        refine = {"refine_settings": self.refine_settings} if self.settings.refine else {}
        return {"image": self.image, "settings": self.settings, **refine}

    def run(self, pipe: LongCatI2V, progress: ProgressFn, stem: Path) -> Produced:
        out = pipe.generate_video(**self.pipeline_kwargs(), progress=progress)
        frames = to_uint8(out.frames)
        used = out.settings.to_dict() if out.settings is not None else self.settings.to_dict()
        if out.refine_settings is None:
            return Produced(frames, out.fps, out.seed, to_uint8(out.cond_image), used, segments=((0, len(frames)),),
                            image=self.image)  # fmt: skip
        settings = {**used, "refine": out.refine_settings.to_dict()}
        return Produced(frames, out.fps, out.seed, to_uint8(out.cond_image), settings, kind="refined")


def load_image(source: str | Path | bytes | None, max_pixels: int) -> Image.Image:
    """Open an uploaded local file (or the bytes of a ``data:`` URL) as an upright RGB image, refusing non-images
    and oversized pictures. Decoding takes seconds for a big picture: call it off the event loop."""
    if source is None or source == "":
        raise ImageInputError("Please upload an image first: the video starts from it.")
    if isinstance(source, bytes):
        opened = io.BytesIO(source)
    else:
        opened = Path(source)
        if not opened.is_file():
            raise ImageInputError("The uploaded image could not be found on the server. Please upload it again.")
    try:
        with Image.open(opened) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageInputError(
                    f"The image is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are "
                    "accepted. Please upload a smaller image."
                )
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageInputError(FAR_TOO_LARGE) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(NOT_AN_IMAGE) from exc
    if upright.width == 0 or upright.height == 0:
        raise ImageInputError(NOT_AN_IMAGE)
    return upright


def _number(field: FormField, value: Any, whole: bool) -> int | float:
    """A number from a form field that may send 5, 5.0 or "5"; anything else is refused by the field's label."""
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool):
        raise InvalidInputError(f"{field.label} must be {kind}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{field.label} must be {kind}, got {value!r}.") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{field.label} must be a finite number, got {value!r}.")
    if whole and number != int(number):
        raise InvalidInputError(f"{field.label} must be {kind}, got {value!r}.")
    return int(number) if whole else number


def _form_value(field: FormField, value: Any, kind: type, config: DemoConfig) -> Any:
    """The field's value in the setting's type, within the form's caps."""
    if field.component == "checkbox":
        if not isinstance(value, bool):
            raise InvalidInputError(f"{field.label} must be on or off (true or false), got {value!r}.")
        return value
    if field.component == "radio":
        if value not in (field.choices or ()):
            raise InvalidInputError(f"{field.label} must be one of {', '.join(map(str, field.choices or ()))}, "
                                    f"got {value!r}.")  # fmt: skip
        return value
    if kind in (str, tuple):  # a list of text arrives as one text, one entry per line
        text = "" if value is None else value
        if not isinstance(text, str):
            raise InvalidInputError(f"{field.label} must be text, got {type(value).__name__}.")
        if len(text) > config.max_prompt_chars:
            raise InvalidInputError(
                f"{field.label} is {len(text)} characters long; at most {config.max_prompt_chars} are allowed."
            )
        return text.strip()
    if value is None or value == "":
        return None
    return _number(field, value, whole=kind is int)


def _check_caps(field: FormField, value: Any) -> None:
    if value is None or isinstance(value, bool | str):
        return
    low = -math.inf if field.minimum is None else field.minimum
    high = math.inf if field.maximum is None else field.maximum
    if not low <= value <= high:
        raise InvalidInputError(f"{field.label} must be between {field.minimum} and {field.maximum}, got {value}.")


def _seed(value: int | None) -> int | None:
    """The form's seed: empty or negative means "draw one"."""
    return None if value is None or value < 0 else value


def build_request(
    config: DemoConfig,
    image: str | Path | bytes | None,
    fields: tuple[FormField, ...] | None = None,
    settings_cls: type[I2VSettings] = I2VSettings,
    refine_form: Mapping[str, Any] | None = None,
    **values: Any,
) -> GenerationRequest:
    """Check the image and every form value (named as in ``fields``, default: the table for ``config``) into
    settings of type ``settings_cls``; with the Refine toggle on, also the Refine form's values (``refine_form``).
    Raise InvalidInputError/ImageInputError whose message names the field by its label."""
    picture = load_image(image, config.max_image_pixels)
    settings = check_form(config, settings_cls, fields, **values)
    refining = getattr(settings, "refine", False)
    refine_settings = check_form(config, RefineSettings, **(refine_form or {})) if refining else None
    return GenerationRequest(picture, settings, refine_settings)


def check_form(
    config: DemoConfig, settings_cls: type[S], fields: tuple[FormField, ...] | None = None, **values: Any
) -> S:
    """Settings of type ``settings_cls`` from the form values named as in ``fields`` (default: its table)."""
    table = [f for f in (fields or form_fields(config, settings_cls)) if f.setting is not None]
    unknown = set(values) - {f.name for f in table}
    if unknown:
        raise InvalidInputError(f"Unknown form field(s): {', '.join(sorted(unknown))}.")
    kinds = {s.name: s.type for s in field_specs(settings_cls)}
    chosen: dict[str, Any] = {}
    for field in table:
        value = _form_value(field, values.get(field.name, field.default), kinds[field.setting], config)
        value = _seed(value) if field.setting == "seed" else value
        _check_caps(field, value)
        chosen[field.setting] = field.to_setting(value) if field.to_setting else value
    if "resolution" in chosen:
        _custom_size(chosen, config)
    try:
        return settings_cls.from_dict(chosen, parse=True)
    except SettingsError as exc:
        raise InvalidInputError(_friendly(exc, {f.setting: f.label for f in table})) from None


def _custom_size(chosen: dict[str, Any], config: DemoConfig) -> None:
    """A custom size needs both sides and at most the largest bucket's area; 480p/720p ignore the size fields."""
    if chosen.get("resolution") != CUSTOM_SIZE:
        chosen["height"] = chosen["width"] = None
        return
    chosen["resolution"] = defaults.RESOLUTION
    width, height = chosen.get("width"), chosen.get("height")
    if width is None or height is None:
        raise InvalidInputError("A custom size needs both a width and a height.")
    if width * height > config.max_area:
        raise InvalidInputError(
            f"{width}×{height} is too large: at most {config.max_area:,} pixels per frame are allowed "
            "(the size of the largest bucket)."
        )


def _friendly(exc: SettingsError, labels: Mapping[str, str]) -> str:
    if exc.allowed is not None and len(exc.fields) == 1:
        return f"{labels.get(exc.fields[0], exc.fields[0])} must be {exc.allowed}, got {exc.value!r}."
    return exc.render(labels) + "."

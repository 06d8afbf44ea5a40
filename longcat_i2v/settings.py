"""One typed settings object per kind of generation, validated once.

Every user-facing option is a field of a settings dataclass, with its default (from ``defaults``), its rule
(type, bounds, choices, 4k+1, multiples) and its help text in the field's metadata. The CLI's arguments, the
demo's form and the eval harness's Hydra schema are generated from these classes, so a new option is added
here and nowhere else. ``validate`` refuses a bad value with a ``SettingsError`` that names the field and
what is allowed; each front end re-labels the field in its own terms (``--num-frames``, ``sampler.num_frames``,
"Number of frames").
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from . import defaults
from .conditioning import SIZE_MULTIPLE
from .errors import InvalidInputError
from .schedule import DISTILL_GRID

S = TypeVar("S", bound="Settings")
FRONT_ENDS = ("cli", "demo", "eval")
MAX_SEED = 2**63


@dataclass(frozen=True)
class Option:
    """The rule and the description of one setting (kept in the dataclass field's metadata)."""

    help: str
    key: str = ""  # the short name the front ends use (CLI flag, eval key, form field); default: the field name
    minimum: float | None = None
    maximum: float | None = None  # inclusive, except for the seed (below 2**63)
    choices: tuple[Any, ...] | None = None
    multiple_of: int | None = None
    four_k_plus_one: bool = False
    output: bool = False  # an option of the written video, not of the generation
    suggested: Any = None  # what front ends pre-fill where it differs from the API default (the negative prompt)
    front_ends: tuple[str, ...] = FRONT_ENDS


def option(default: Any, help: str, **rule: Any) -> Any:
    return field(default=default, metadata={"option": Option(help=help, **rule)})


class SettingsError(InvalidInputError):
    """A setting is invalid. ``fields`` name the settings involved; ``text`` is the message with each field
    written as ``{name}``, so front ends can say ``--num-frames`` or ``sampler.num_frames`` instead."""

    def __init__(
        self,
        fields: tuple[str, ...],
        text: str,
        value: Any = None,
        names: Mapping[str, str] | None = None,
        allowed: str | None = None,
    ) -> None:
        self.fields, self.text, self.value, self.allowed = fields, text, value, allowed
        super().__init__(self.render(names or {}))

    def render(self, names: Mapping[str, str]) -> str:
        return self.text.format(**{f: names.get(f, f) for f in self.fields})

    def relabel(self, names: Mapping[str, str]) -> SettingsError:
        """The same error with the fields called by a front end's names (``--num-frames``, ``sampler.steps``)."""
        return SettingsError(self.fields, self.text, self.value, names, self.allowed)


def _invalid(name: str, value: Any, allowed: str) -> SettingsError:
    return SettingsError((name,), f"{{{name}}}={_show(value)} is invalid: must be {allowed}", value, allowed=allowed)


def _show(value: Any) -> str:
    return repr(value).replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class FieldSpec:
    """A settings field as the front ends see it."""

    name: str
    type: type  # the non-None type: bool, int, float or str
    optional: bool
    default: Any
    option: Option

    @property
    def key(self) -> str:
        return self.option.key or self.name

    @property
    def initial(self) -> Any:
        """What a form or a flag starts with."""
        return self.default if self.option.suggested is None else self.option.suggested

    def allowed(self) -> str:
        """What the rule allows, in words: 'an integer >= 1', 'of the form 4k+1 (1, 5, 9, ..., 93)', ..."""
        o = self.option
        if o.choices is not None:
            return "one of " + ", ".join(str(c) for c in o.choices)
        if o.four_k_plus_one:
            return "of the form 4k+1 (1, 5, 9, ..., 93)"
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return "text"
        noun = {"int": "an integer", "float": "a finite number"}[self.type.__name__]
        if o.multiple_of:
            return f"a positive multiple of {o.multiple_of}" + (f" up to {_num(o.maximum)}" if o.maximum else "")
        if o.minimum is not None and o.maximum is not None:
            upper = f"< 2**{int(math.log2(o.maximum))}" if o.maximum == MAX_SEED else f"<= {_num(o.maximum)}"
            return f"{noun} >= {_num(o.minimum)} and {upper}"
        if o.minimum is not None:
            return f"{noun} >= {_num(o.minimum)}"
        return noun

    def check(self, value: Any) -> None:
        """Raise SettingsError unless ``value`` is of the field's type and within its rule."""
        if value is None:
            if not self.optional:
                raise _invalid(self.name, value, self.allowed())
            return
        if not _is_type(value, self.type):
            raise _invalid(self.name, value, self.allowed())
        o = self.option
        if o.choices is not None and value not in o.choices:
            raise _invalid(self.name, value, self.allowed())
        if self.type is str:
            _check_text(self.name, value)
            return
        bad = self.type is float and not math.isfinite(value)
        bad = bad or (o.four_k_plus_one and (value < 1 or (value - 1) % 4))
        bad = bad or (o.multiple_of is not None and (value <= 0 or value % o.multiple_of))
        bad = bad or (o.minimum is not None and value < o.minimum)
        if o.maximum is not None:
            bad = bad or (value >= o.maximum if o.maximum == MAX_SEED else value > o.maximum)
        if bad:
            raise _invalid(self.name, value, self.allowed())

    def parse(self, value: Any) -> Any:
        """A value from a form, a JSON file or a command line, in the field's type (checked by ``check``).
        Integers may arrive as 5.0 or "5"; booleans only as booleans or the words true/false; empty means
        None for optional fields."""
        if value is None or (self.optional and value == ""):
            return None
        if self.type is bool:
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            return value
        if self.type in (int, float) and not isinstance(value, bool):
            try:
                number = float(value) if isinstance(value, str) else value
            except ValueError:
                return value
            if self.type is int and isinstance(number, float) and number.is_integer():
                return int(number)
            if self.type is float and isinstance(number, int | float):
                return float(number)
            return number
        return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _is_type(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_text(name: str, text: str) -> None:
    """Text must be valid Unicode (no lone surrogates) and of a sane length, before any work starts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(name, text[:40], "valid Unicode text (it contains a lone surrogate)") from None
    if len(text) > defaults.MAX_PROMPT_CHARS:
        limit = defaults.MAX_PROMPT_CHARS
        raise SettingsError((name,), f"{{{name}}} is {len(text)} characters long; at most {limit} are allowed")


@cache
def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The settings fields of ``cls`` (every dataclass field with an Option), in declaration order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if "option" not in f.metadata:
            continue
        kind, optional = _unwrap(hints[f.name])
        specs.append(FieldSpec(f.name, kind, optional, f.default, f.metadata["option"]))
    return tuple(specs)


def _unwrap(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) != 1:
            raise TypeError(f"settings fields must be X or X | None, got {hint}")
        return kinds[0], True
    return hint, False


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of every settings type: validation at construction, plain-dict and JSON round trips."""

    def __post_init__(self) -> None:
        for spec in field_specs(type(self)):
            spec.check(getattr(self, spec.name))
        self.check_together()

    def check_together(self) -> None:
        """Rules that involve several fields (subclasses extend it)."""

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any], *, parse: bool = False) -> S:
        """Settings from a plain dict of field names (or their short keys); unknown names are refused. With
        ``parse``, values are first converted from the forms front ends send (see ``FieldSpec.parse``)."""
        specs = {s.name: s for s in field_specs(cls)}
        by_key = {s.key: s.name for s in specs.values()}
        values = {}
        for name, value in data.items():
            real = name if name in specs else by_key.get(name)
            if real is None:
                raise InvalidInputError(f"unknown setting {name!r} for {cls.__name__}; known: {', '.join(specs)}")
            values[real] = specs[real].parse(value) if parse else value
        return cls(**values)

    @classmethod
    def from_json(cls: type[S], path: str | Path) -> S:
        """Settings saved with ``to_json`` (or written by hand: a JSON object of field names)."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read settings file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"settings file {path} must hold a JSON object, found {type(data).__name__}")
        return cls.from_dict(data, parse=True)

    def to_dict(self) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in field_specs(type(self))}

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def replace(self: S, **changes: Any) -> S:
        return dataclasses.replace(self, **changes)

    def generation_kwargs(self) -> dict[str, Any]:
        """The fields that shape the generation (everything but the output options)."""
        return {s.name: getattr(self, s.name) for s in field_specs(type(self)) if not s.option.output}


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
        None, "explicit height (with width) instead of the bucket", multiple_of=SIZE_MULTIPLE, maximum=4096
    )
    width: int | None = option(
        None, "explicit width (with height) instead of the bucket", multiple_of=SIZE_MULTIPLE, maximum=4096
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
        if self.distill and self.steps > DISTILL_GRID:
            raise _invalid("num_inference_steps", self.steps, f"at most {DISTILL_GRID} with distill")

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

    def resolved(self: S) -> S:
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
        None, "weights' dtype; None: bfloat16 on CUDA, float32 elsewhere", choices=tuple(defaults.DTYPES)
    )
    sp_size: int = option(1, "sequence-parallel ranks (under torchrun)", key="sp", minimum=1, front_ends=("cli",))
    cfg_parallel: bool = option(
        False, "run the uncond/cond halves of CFG on two rank groups (2 x sp ranks)", front_ends=("cli",)
    )

    def check_together(self) -> None:
        if self.device is not None:
            _check_device(self.device)


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise _invalid("device", device, "a torch device such as cpu, cuda or cuda:1") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise _invalid("device", device, "a device this machine has (no CUDA device is available here; use cpu)")


def specs_for(cls: type, front_end: str) -> tuple[FieldSpec, ...]:
    """The fields a front end shows (``cli``, ``demo`` or ``eval``)."""
    return tuple(s for s in field_specs(cls) if front_end in s.option.front_ends)

"""The machinery of the settings types: a field's rule and help (``Option``), its check and parsing
(``FieldSpec``), the error that names it (``SettingsError``), and the ``Settings`` base with its dict and JSON
round trips. The settings types themselves are in ``settings``."""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import defaults
from .errors import InvalidInputError

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


def invalid(name: str, value: Any, allowed: str) -> SettingsError:
    return SettingsError((name,), f"{{{name}}}={_show(value)} is invalid: must be {allowed}", value, allowed=allowed)


def _show(value: Any) -> str:
    return repr(value).replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class FieldSpec:
    """A settings field as the front ends see it."""

    name: str
    type: type  # the non-None type: bool, int, float, str, or tuple for a list of ``item``
    optional: bool
    default: Any
    option: Option
    item: builtins.type | None = None  # the element type of a tuple field (str): e.g. one prompt per segment

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
        if self.type is tuple:
            return "a list of text"
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
                raise invalid(self.name, value, self.allowed())
            return
        if not _is_type(value, self.type):
            raise invalid(self.name, value, self.allowed())
        if self.type is tuple:
            for item in value:
                if self.item is None or not _is_type(item, self.item):
                    raise invalid(self.name, value, self.allowed())
                _check_text(self.name, item)
            return
        o = self.option
        if o.choices is not None and value not in o.choices:
            raise invalid(self.name, value, self.allowed())
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
            raise invalid(self.name, value, self.allowed())

    def parse(self, value: Any) -> Any:
        """A value from a form, a JSON file or a command line, in the field's type (checked by ``check``).
        Integers may arrive as 5.0 or "5"; booleans only as booleans or the words true/false; empty means
        None for optional fields; a list field takes a list (or one text, as a list of one)."""
        if value is None or (self.optional and value == ""):
            return None
        if self.type is tuple:
            return (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list | tuple) else value
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
        raise invalid(name, text[:40], "valid Unicode text (it contains a lone surrogate)") from None
    if len(text) > defaults.MAX_PROMPT_CHARS:
        limit = defaults.MAX_PROMPT_CHARS
        raise SettingsError((name,), f"{{{name}}} is {len(text)} characters long; at most {limit} are allowed")


_SPECS: dict[type, tuple[FieldSpec, ...]] = {}


def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The settings fields of ``cls`` (every dataclass field with an Option), in declaration order (computed
    once per class)."""
    if cls not in _SPECS:
        _SPECS[cls] = _read_specs(cls)
    return _SPECS[cls]


def _read_specs(cls: type) -> tuple[FieldSpec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if "option" not in f.metadata:
            continue
        kind, optional = _unwrap(hints[f.name])
        kind, item = _list_of(kind)
        specs.append(FieldSpec(f.name, kind, optional, f.default, f.metadata["option"], item))
    return tuple(specs)


def _list_of(hint: Any) -> tuple[type, type | None]:
    """``tuple[str, ...]`` → (tuple, str); any other hint → (hint, None)."""
    if typing.get_origin(hint) is not tuple:
        return hint, None
    args = typing.get_args(hint)
    if len(args) != 2 or args[1] is not Ellipsis or args[0] is not str:
        raise TypeError(f"list settings fields must be tuple[str, ...], got {hint}")
    return tuple, str


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
            if spec.type is tuple and isinstance(getattr(self, spec.name), list):  # frozen: stored as a tuple
                object.__setattr__(self, spec.name, tuple(getattr(self, spec.name)))
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
        try:
            return cls.from_dict(data, parse=True)
        except SettingsError as exc:
            raise exc.relabel({f: f"{path}: {f}" for f in exc.fields}) from None

    def to_dict(self) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in field_specs(type(self))}

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def replace(self: S, **changes: Any) -> S:
        return dataclasses.replace(self, **changes)

    def generation_kwargs(self) -> dict[str, Any]:
        """The fields that shape the generation (everything but the output options)."""
        return {s.name: getattr(self, s.name) for s in field_specs(type(self)) if not s.option.output}


def specs_for(cls: type, front_end: str) -> tuple[FieldSpec, ...]:
    """The fields a front end shows (``cli``, ``demo`` or ``eval``)."""
    return tuple(s for s in field_specs(cls) if front_end in s.option.front_ends)


def keyword_defaults(method, cls: type) -> dict[str, object]:
    """The keyword arguments of ``method`` that are fields of settings type ``cls``, with their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    params = inspect.signature(method).parameters
    return {n: p.default for n, p in params.items() if n in names}


def settings_from_call(cls, settings, passed: dict[str, object], keyword_defaults: dict[str, object]):
    """Settings from the keyword arguments, or ``settings`` itself; both at once only for the prompt."""
    if settings is None:
        empty = cls.__dataclass_fields__["prompt"].default  # no prompt: "" (or no prompts, for a list)
        return cls(**{k: (empty if k == "prompt" and v is None else v) for k, v in passed.items()})
    if not isinstance(settings, cls):
        raise InvalidInputError(f"settings must be a {cls.__name__}, got {type(settings).__name__}")
    extra = {k: v for k, v in passed.items() if k != "prompt" and v != keyword_defaults[k]}
    if extra:
        raise InvalidInputError(
            f"pass the options either as keyword arguments or in settings=, not both (got {', '.join(extra)})"
        )
    return settings if passed.get("prompt") is None else settings.replace(prompt=passed["prompt"])

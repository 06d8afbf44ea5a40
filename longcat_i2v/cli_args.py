"""Command-line options generated from the settings types: one flag per settings field (``--num-frames`` for
``num_frames``, ``--steps`` for ``num_inference_steps``), parsed and validated by the settings themselves, so a
new setting becomes a flag without touching the CLI.

Flags default to "not given"; the settings are built from a ``--settings`` JSON file (when given), then the
front end's starting values, then the flags given, and a bad value is reported under its flag's name before
any model is loaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import InvalidInputError
from .options import FieldSpec, Settings, SettingsError, specs_for
from .settings import RefineSettings, RuntimeSettings, SamplingSettings
from .tiny import SMALL_REFINE_SETTINGS

S = TypeVar("S", bound=Settings)


def flag(spec: FieldSpec) -> str:
    return "--" + spec.key.replace("_", "-")


def add_settings_arguments(
    parser: argparse.ArgumentParser,
    cls: type[Settings],
    skip: tuple[str, ...] = (),
    start: Mapping[str, Any] | None = None,
) -> None:
    """One flag per CLI-visible field of ``cls`` (minus ``skip``); values are parsed by ``settings_from_args``.
    ``start``: the front end's own starting values (as passed to ``settings_from_args``), shown as the defaults."""
    group = parser.add_argument_group(f"{cls.__name__} options")
    for spec in specs_for(cls, "cli"):
        if spec.name in skip:
            continue
        help_text = spec.option.help + _default_note(spec, (start or {}).get(spec.name, spec.initial))
        if spec.type is bool:
            group.add_argument(flag(spec), dest=spec.key, action=argparse.BooleanOptionalAction, help=help_text)
        elif spec.type is tuple:  # a list: each use of the flag adds one entry
            help_text += " (repeat the flag for several)"
            group.add_argument(flag(spec), dest=spec.key, action="append", help=help_text, metavar=_metavar(spec))
        else:
            choices = None if spec.option.choices is None else [str(c) for c in spec.option.choices]
            group.add_argument(flag(spec), dest=spec.key, choices=choices, help=help_text, metavar=_metavar(spec))


def _default_note(spec: FieldSpec, initial: Any) -> str:
    if initial in (None, False, "", ()) or spec.type is bool:
        return ""
    shown = f"{initial[:40]}..." if isinstance(initial, str) and len(initial) > 40 else initial
    return f" (default: {shown!r})" if isinstance(shown, str) else f" (default: {shown})"


def _metavar(spec: FieldSpec) -> str | None:
    return None if spec.option.choices else spec.key.upper()


def given(args: argparse.Namespace, cls: type[Settings]) -> dict[str, Any]:
    """The settings fields whose flags were given on the command line (each flag's value is stored under its key,
    so that fields of one name in two types, ``--steps`` and ``--refine-steps``, stay apart)."""
    return {s.name: getattr(args, s.key) for s in specs_for(cls, "cli") if getattr(args, s.key, None) is not None}


def settings_from_args(
    cls: type[S], args: argparse.Namespace, base: S | None = None, start: Mapping[str, Any] | None = None
) -> S:
    """``base`` (e.g. from a settings file) or the defaults, then ``start`` (front-end starting values for
    fields not in ``base``), then every flag given. A bad value raises SettingsError naming its flag."""
    values: dict[str, Any] = {s.name: s.initial for s in specs_for(cls, "cli")}
    values.update(start or {})
    if base is not None:
        values.update(base.to_dict())
    values.update(given(args, cls))
    try:
        return cls.from_dict(values, parse=True)
    except SettingsError as exc:
        raise exc.relabel(flag_names(cls)) from None


def flag_names(cls: type[Settings]) -> dict[str, str]:
    return {s.name: flag(s) for s in specs_for(cls, "cli")}


def refine_from_args(
    args: argparse.Namespace, settings: SamplingSettings, runtime: RuntimeSettings
) -> RefineSettings | None:
    """The refinement's settings when ``--refine`` is given, else None (its flags without it are refused); on the
    built-in tiny checkpoint it starts from the small refinement size unless a size is given."""
    flags = given(args, RefineSettings)
    if flags and not settings.refine:
        names = flag_names(RefineSettings)
        raise InvalidInputError(f"{', '.join(names[f] for f in flags)} only apply with --refine")
    if not settings.refine:
        return None
    small = runtime.checkpoint is None and not {"height", "width"} & set(flags)
    return settings_from_args(RefineSettings, args, None, SMALL_REFINE_SETTINGS if small else None)


G = TypeVar("G", bound=SamplingSettings)


def generation_settings(
    cls: type[G], args: argparse.Namespace, small: Mapping[str, Any]
) -> tuple[G, RefineSettings | None, RuntimeSettings]:
    """A command's generation, refinement and runtime settings from the flags (and --settings), checked before any
    model loads; the built-in tiny checkpoint starts from ``small`` (its size unless a size flag is given), so that
    a CPU answers in seconds."""
    runtime = settings_from_args(RuntimeSettings, args)
    base = cls.from_json(args.settings) if args.settings else None
    start = None
    if runtime.checkpoint is None and base is None:
        sized = {"resolution", "height", "width"} & set(given(args, cls))
        start = {k: v for k, v in small.items() if not (sized and k in ("height", "width"))}
    settings = settings_from_args(cls, args, base, start)
    if not settings.prompt:
        raise InvalidInputError('a prompt is required (--prompt, or "prompt" in the --settings file)')
    return settings, refine_from_args(args, settings, runtime), runtime

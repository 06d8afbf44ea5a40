"""Typed schema of the eval configs: a wrong type or an unknown choice fails when Hydra composes the config,
and ``validate`` catches out-of-range values before any model is loaded.

The ``sampler``, ``long``, ``refine`` and ``model`` groups are generated from the core's settings types
(``I2VSettings``, ``LongVideoSettings`` minus what the sampler has, ``RefineSettings``, ``RuntimeSettings``):
every generation option is a ``<group>.<key>`` here with the core's default and rule, and is checked by the
settings themselves. ``task`` picks the core method a job calls (``eval.engines``). The YAML files in
``conf/`` only name what differs.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field, make_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, OmegaConf

from longcat_i2v.options import FieldSpec, Settings, SettingsError, specs_for
from longcat_i2v.settings import I2VSettings, LongVideoSettings, RefineSettings, RuntimeSettings

BUILTIN_MANIFEST = Path(__file__).resolve().parent / "data" / "default" / "manifest.yaml"
PARITY_DIR = Path(__file__).resolve().parent / "parity" / "data"  # package data: the original's reference cases
ORIGINAL_REPO_ENV = "LONGCAT_ORIGINAL_REPO"

# Per item, not per setting: the prompt comes from the dataset, the seed is the top-level ``seed``.
PER_ITEM = ("prompt", "seed")
# Where the harness's model group starts, unlike the library (which picks the GPU and bfloat16 on CUDA).
MODEL_START = {"checkpoint": MISSING, "device": "cpu", "dtype": "float32"}
PerceptualBackend = Enum("PerceptualBackend", {b: b for b in ("auto", "lpips", "stlpips", "none")})
PerceptualNet = Enum("PerceptualNet", {n: n for n in ("alex", "vgg")})
FlowPreset = Enum("FlowPreset", {p: p for p in ("ultrafast", "fast", "medium")})
LoggerName = Enum("LoggerName", {n: n for n in ("none", "local", "wandb")})
ParityMode = Enum("ParityMode", {m: m for m in ("none", "reference", "live")})
Engine = Enum("Engine", {e: e for e in ("native", "fastvideo")})
# What a job generates: image-to-video, a long video (generate_long_video), or image-to-video refined to 720p.
Task = Enum("Task", {t: t for t in ("i2v", "long", "refine")})
I2V_NAMES = tuple(f.name for f in dataclasses.fields(I2VSettings))


class ConfigError(ValueError):
    """A config value is out of range or inconsistent with another; the message names the key."""


def _choice_enum(spec: FieldSpec) -> type[Enum]:
    """An Enum of the field's choices, so that Hydra refuses a wrong choice when composing."""
    return Enum(spec.key.title().replace("_", ""), {str(c): c for c in spec.option.choices or ()})  # type: ignore


def schema(name: str, cls: type[Settings], skip: tuple[str, ...] = (), start: dict[str, Any] | None = None) -> type:
    """A Hydra structured-config dataclass with one key per eval-visible field of settings type ``cls``."""
    start = start or {}
    entries = []
    for spec in specs_for(cls, "eval"):
        if spec.name in skip:
            continue
        default = start.get(spec.name, spec.initial)
        if spec.type is tuple:  # a list of text: a mutable default needs a factory
            entries.append((spec.key, list[spec.item], field(default_factory=functools.partial(list, default))))
            continue
        kind: Any = _choice_enum(spec) if spec.option.choices else spec.type
        if spec.option.choices and default not in (None, MISSING):
            default = kind[str(default)]
        hint = Optional[kind] if spec.optional else kind  # noqa: UP045 - OmegaConf needs typing.Optional here
        entries.append((spec.key, hint, field(default=default)))
    return make_dataclass(name, entries)


ModelConfig = schema("ModelConfig", RuntimeSettings, start=MODEL_START)
SamplerConfig = schema("SamplerConfig", I2VSettings, skip=PER_ITEM)
# task=long: what a long video adds to the sampler's settings (segments, conditioning frames, ...).
LongConfig = schema("LongConfig", LongVideoSettings, skip=I2V_NAMES)
# task=refine: the refinement's settings.
RefineConfig = schema("RefineConfig", RefineSettings)


@dataclass
class DatasetConfig:
    name: str = "default"
    manifest: str | None = MISSING  # null: the built-in set in eval/data/default (dataset=default)
    limit: int | None = None  # evaluate only the first N items
    enabled: bool = True  # false: no generation on the dataset (e.g. a parity-only run)


@dataclass
class MetricsConfig:
    fidelity: bool = True
    temporal: bool = True
    perceptual: PerceptualBackend = PerceptualBackend["auto"]
    perceptual_net: PerceptualNet = PerceptualNet["alex"]
    flow_preset: FlowPreset = FlowPreset["medium"]


@dataclass
class LoggerConfig:
    name: LoggerName = LoggerName["local"]
    project: str = "longcat-i2v-eval"
    entity: str | None = None
    mode: str | None = None  # wandb: online/offline/disabled; None: $WANDB_MODE, else online if logged in
    save_media: bool = True  # mp4 and first-frame comparison per item
    fps: int = II("sampler.fps")  # the setting's own (one place: I2VSettings.fps)
    tags: list[str] = field(default_factory=list)


@dataclass
class ParityConfig:
    mode: ParityMode = ParityMode["none"]
    cases_dir: str = str(PARITY_DIR / "cases")
    checkpoint: str = str(PARITY_DIR / "checkpoint")
    cases: list[str] = field(default_factory=lambda: ["i2v_small_cfg", "i2v_small_distill"])
    original_repo: str | None = None  # live mode: a checkout of meituan-longcat/LongCat-Video


@dataclass
class EvalConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    long: LongConfig = field(default_factory=LongConfig)  # used with task=long
    refine: RefineConfig = field(default_factory=RefineConfig)  # used with task=refine
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    parity: ParityConfig = field(default_factory=ParityConfig)
    engine: Engine = Engine["native"]  # fastvideo: FastVideo 0.2.1's pipeline (the fastvideo extra), same inputs
    task: Task = Task["i2v"]  # long: generate_long_video; refine: generate_video(refine=True)
    seed: int = 0


def register() -> None:
    """Make the schema known to Hydra as ``eval_schema`` (conf/config.yaml lists it first in its defaults)."""
    ConfigStore.instance().store(name="eval_schema", node=EvalConfig)


def _fail(key: str, value: object, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def validate(cfg) -> None:
    """Check ranges and combinations that types alone cannot, naming the key, the value and what is allowed."""
    missing = OmegaConf.missing_keys(cfg)
    if missing:
        raise ConfigError(f"required values not given: {', '.join(sorted(missing))}; set them as key=value overrides")
    sampler_settings(cfg.sampler)
    runtime_settings(cfg.model)
    if cfg.seed < 0:
        _fail("seed", cfg.seed, "must be >= 0")
    if cfg.dataset.limit is not None and cfg.dataset.limit < 1:
        _fail("dataset.limit", cfg.dataset.limit, "must be >= 1 (or null for all items)")
    if cfg.dataset.manifest and not Path(cfg.dataset.manifest).is_file():
        _fail("dataset.manifest", cfg.dataset.manifest, "no such file (a .yaml/.yml/.jsonl manifest)")
    if cfg.model.checkpoint is not None and not Path(cfg.model.checkpoint).is_dir():
        _fail(
            "model.checkpoint",
            cfg.model.checkpoint,
            "no such directory (a LongCat-Video checkpoint, hub or FastVideo layout)",
        )
    if cfg.logger.mode not in (None, "online", "offline", "disabled"):
        _fail("logger.mode", cfg.logger.mode, "must be online, offline, disabled or null")
    _validate_parity(cfg)
    _validate_engine(cfg)
    _validate_task(cfg)


def _validate_task(cfg) -> None:
    task = cfg.task.name
    if task == "long" and long_settings(cfg).segments < 2:
        _fail("long.segments", cfg.long.segments, "task=long needs at least 2 segments (seams and drift need two)")
    if task == "refine":
        refine_settings(cfg)
    if task != "i2v" and cfg.engine.name != "native":
        _fail("engine", cfg.engine.name, f"task={task} runs on our pipeline only; use engine=native")
    if task != "i2v" and cfg.parity.mode.name == "live":
        _fail("parity", "live", "live parity compares image-to-video steps; use task=i2v (or parity=reference)")


def _validate_engine(cfg) -> None:
    if cfg.engine.name != "fastvideo":
        return
    import importlib.util

    if importlib.util.find_spec("fastvideo") is None:
        raise ConfigError(
            "engine=fastvideo needs FastVideo: pip install -c constraints.txt -e '.[fastvideo]' && "
            "pip install -c constraints.txt --no-deps fastvideo==0.2.1"
        )
    if cfg.model.dtype.name not in ("float32", "bfloat16"):
        _fail("model.dtype", cfg.model.dtype.name, "engine=fastvideo runs float32 or bfloat16")
    if cfg.parity.mode.name == "live":
        _fail("parity", "live", "live parity compares our per-step latents; use engine=native (or parity=reference)")
    if cfg.sampler.cond_rope.name != "full":
        _fail("sampler.cond_rope", cfg.sampler.cond_rope.name, "FastVideo has no RoPE skipping; use full")


def _validate_parity(cfg) -> None:
    p = cfg.parity
    if p.mode.name == "reference":
        for case in p.cases:
            if not (Path(p.cases_dir) / f"{case}.json").is_file():
                _fail("parity.cases", case, f"no {case}.json in parity.cases_dir={p.cases_dir}")
        if not Path(p.checkpoint).is_dir():
            _fail("parity.checkpoint", p.checkpoint, "no such directory")
    if p.mode.name == "live":
        repo = original_repo(cfg)
        if repo is None:
            raise ConfigError(f"parity=live needs parity.original_repo=/path/to/LongCat-Video or ${ORIGINAL_REPO_ENV}")
        if not (Path(repo) / "longcat_video" / "pipeline_longcat_video.py").is_file():
            _fail("parity.original_repo", repo, "not a LongCat-Video checkout (no longcat_video/pipeline_*.py)")
        if cfg.sampler.cond_rope.name != "full":
            _fail("sampler.cond_rope", cfg.sampler.cond_rope.name, "the original has no RoPE skipping; use full")


def settings_from_config(cls: type[Settings], group: str, node, skip: tuple[str, ...] = ()) -> Any:
    """A config group as settings of type ``cls``; a bad value raises ConfigError naming its ``group.key``."""
    values = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    assert isinstance(values, dict)
    try:
        return cls.from_dict({k: v for k, v in values.items() if k not in skip})
    except SettingsError as exc:
        raise ConfigError(str(exc.relabel({s.name: f"{group}.{s.key}" for s in specs_for(cls, "eval")}))) from None


def sampler_settings(sampler) -> I2VSettings:
    """The sampler group as the core's settings (checked by them; a bad value names its ``sampler.`` key)."""
    return settings_from_config(I2VSettings, "sampler", sampler)


def long_settings(cfg) -> LongVideoSettings:
    """task=long: the sampler group's settings with the long group's (checked by the core's LongVideoSettings; a
    bad value names its ``long.`` or ``sampler.`` key)."""
    names = {f.name for f in dataclasses.fields(LongVideoSettings)}
    shared = {k: v for k, v in sampler_settings(cfg.sampler).to_dict().items() if k in names and k != "prompt"}
    own = OmegaConf.to_container(cfg.long, resolve=True, enum_to_str=True)
    assert isinstance(own, dict)
    try:
        return LongVideoSettings.from_dict({**shared, **own})
    except SettingsError as exc:
        group = {s.name: "sampler" if s.name in I2V_NAMES else "long" for s in specs_for(LongVideoSettings, "eval")}
        labels = {s.name: f"{group[s.name]}.{s.key}" for s in specs_for(LongVideoSettings, "eval")}
        raise ConfigError(str(exc.relabel(labels))) from None


def refine_settings(cfg) -> RefineSettings:
    """task=refine: the refine group as the core's RefineSettings."""
    return settings_from_config(RefineSettings, "refine", cfg.refine)


def runtime_settings(model) -> RuntimeSettings:
    """The model group as the core's runtime settings (a missing checkpoint stays unset: checked above)."""
    return settings_from_config(RuntimeSettings, "model", model)


def original_repo(cfg) -> str | None:
    """The original LongCat-Video checkout for live parity: the config key, else the environment variable."""
    return cfg.parity.original_repo or os.environ.get(ORIGINAL_REPO_ENV) or None

"""Typed schema of the eval configs: a wrong type or an unknown choice fails when Hydra composes the config,
and ``validate`` catches out-of-range values before any model is loaded.

Defaults come from ``longcat_i2v.defaults``; the YAML files in ``conf/`` only name what differs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from longcat_i2v import defaults

BUILTIN_MANIFEST = Path(__file__).resolve().parent / "data" / "default" / "manifest.yaml"
PARITY_DIR = Path(__file__).resolve().parent / "parity" / "data"  # package data: the original's reference cases
ORIGINAL_REPO_ENV = "LONGCAT_ORIGINAL_REPO"

# Enums built from the core's tuples, so the allowed values are named once (in longcat_i2v.defaults).
CondRope = Enum("CondRope", {m: m for m in defaults.COND_ROPE_MODES})
Resolution = Enum("Resolution", {r: r for r in defaults.RESOLUTIONS})
DType = Enum("DType", {d: d for d in defaults.DTYPE_NAMES})
PerceptualBackend = Enum("PerceptualBackend", {b: b for b in ("auto", "lpips", "stlpips", "none")})
PerceptualNet = Enum("PerceptualNet", {n: n for n in ("alex", "vgg")})
FlowPreset = Enum("FlowPreset", {p: p for p in ("ultrafast", "fast", "medium")})
LoggerName = Enum("LoggerName", {n: n for n in ("none", "local", "wandb")})
ParityMode = Enum("ParityMode", {m: m for m in ("none", "reference", "live")})
Engine = Enum("Engine", {e: e for e in ("native", "fastvideo")})


class ConfigError(ValueError):
    """A config value is out of range or inconsistent with another; the message names the key."""


@dataclass
class ModelConfig:
    checkpoint: str | None = MISSING  # null: the built-in tiny random-weight checkpoint (model=tiny)
    device: str = "cpu"
    dtype: DType = DType["float32"]


@dataclass
class SamplerConfig:
    steps: int | None = None  # None: defaults.steps_for(distill)
    guidance: float | None = None  # None: defaults.guidance_for(distill)
    distill: bool = False
    cond_rope: CondRope = CondRope[defaults.COND_ROPE]
    num_frames: int = defaults.NUM_FRAMES
    resolution: Resolution = Resolution[defaults.RESOLUTION]
    height: int | None = None  # both height and width, or neither (then the resolution bucket decides)
    width: int | None = None
    negative_prompt: str | None = defaults.NEGATIVE_PROMPT
    max_sequence_length: int = defaults.MAX_SEQUENCE_LENGTH


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
    fps: int = defaults.FPS
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
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    parity: ParityConfig = field(default_factory=ParityConfig)
    engine: Engine = Engine["native"]  # fastvideo: FastVideo 0.2.1's pipeline (the fastvideo extra), same inputs
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
    s = cfg.sampler
    if s.num_frames < 1 or (s.num_frames - 1) % 4:
        _fail("sampler.num_frames", s.num_frames, "must be 4k+1 (1, 5, 9, ..., 93)")
    if s.steps is not None and s.steps < 1:
        _fail("sampler.steps", s.steps, "must be an integer >= 1 (or null for the default)")
    if s.guidance is not None and (not math.isfinite(s.guidance) or s.guidance < 0):
        _fail("sampler.guidance", s.guidance, "must be a finite number >= 0 (or null for the default)")
    if (s.height is None) != (s.width is None):
        raise ConfigError("sampler.height and sampler.width must be given together, or both null")
    for key in ("height", "width"):
        value = getattr(s, key)
        if value is not None and (value <= 0 or value % 16):
            _fail(f"sampler.{key}", value, "must be a positive multiple of 16")
    if s.max_sequence_length < 1:
        _fail("sampler.max_sequence_length", s.max_sequence_length, "must be >= 1")
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
    if cfg.model.device.startswith("cuda") and not _cuda_available():
        _fail("model.device", cfg.model.device, "no CUDA device is available here; use model.device=cpu")
    if not 1 <= cfg.logger.fps <= 120:
        _fail("logger.fps", cfg.logger.fps, "must be between 1 and 120")
    if cfg.logger.mode not in (None, "online", "offline", "disabled"):
        _fail("logger.mode", cfg.logger.mode, "must be online, offline, disabled or null")
    _validate_parity(cfg)
    _validate_engine(cfg)


def _cuda_available() -> bool:
    import torch  # here, not at the top: composing the config (``--help``, tab completion) needs no torch

    return torch.cuda.is_available()


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


def original_repo(cfg) -> str | None:
    """The original LongCat-Video checkout for live parity: the config key, else the environment variable."""
    return cfg.parity.original_repo or os.environ.get(ORIGINAL_REPO_ENV) or None

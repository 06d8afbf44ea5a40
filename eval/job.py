"""One eval job (one point of a sweep): generate every dataset item with the job's settings, score it,
optionally check parity with the original, log, and write ``result.json`` for the aggregate step."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from longcat_i2v import LongCatI2V, defaults, load_pipeline

from .config import ConfigError, original_repo, validate
from .dataset import Item, load_manifest
from .engines import Engine, FastVideoPeer, NativeEngine
from .loggers import Logger, make_logger
from .metrics import load_perceptual
from .metrics.parity import abs_diff
from .records import RESULT_FILE
from .scoring import Scorer

RESULT_SCHEMA = 1


def generation_request(sampler) -> dict:
    """``generate_video`` keyword arguments for the sampler config, with steps/guidance resolved."""
    return {
        "negative_prompt": sampler.negative_prompt,
        "num_frames": sampler.num_frames,
        "resolution": sampler.resolution.name,
        "height": sampler.height,
        "width": sampler.width,
        "num_inference_steps": defaults.steps_for(sampler.distill) if sampler.steps is None else sampler.steps,
        "guidance_scale": defaults.guidance_for(sampler.distill) if sampler.guidance is None else sampler.guidance,
        "distill": sampler.distill,
        "cond_rope": sampler.cond_rope.name,
        "max_sequence_length": sampler.max_sequence_length,
    }


def _mean(values: list[float]) -> float | None:
    """Mean of the finite values; inf if any is +inf (PSNR of a perfect match); None if there are none."""
    if any(v == math.inf for v in values):
        return math.inf
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def make_engine(cfg, pipe: LongCatI2V, checkpoint: Path, distill: bool) -> Engine:
    """The job's engine: ours on ``pipe``, or FastVideo's pipeline on the same checkpoint."""
    if cfg.engine.name == "fastvideo":
        return FastVideoPeer(str(checkpoint), cfg.model.dtype.name, distill)
    return NativeEngine(pipe)


def evaluate_items(
    cfg, pipe: LongCatI2V, items: list[Item], scorer: Scorer, logger: Logger, run_name: str
) -> tuple[list[dict], list[dict]]:
    """Generate and score each item; with ``engine=fastvideo`` also measure how far FastVideo is from ours;
    with ``parity=live`` also run the original and compare per step."""
    request = generation_request(cfg.sampler)
    original = None
    if cfg.parity.mode.name == "live":
        from .parity.live import compare_live, run_original
        from .parity.original import OriginalPipeline

        original = OriginalPipeline(original_repo(cfg), pipe.checkpoint_dir, cfg.model.device)
    engine = make_engine(cfg, pipe, pipe.checkpoint_dir, request["distill"])
    native = NativeEngine(pipe)
    rows, parity = [], []
    bar = tqdm(total=len(items) * request["num_inference_steps"], desc=run_name, unit="step", leave=False)
    try:
        for index, item in enumerate(items):
            start = time.perf_counter()
            run = engine.generate(
                str(item.image), item.prompt, request, cfg.seed, lambda _: bar.update(1), keep_steps=bool(original)
            )
            seconds = time.perf_counter() - start
            scored = scorer.score(run.frames, run.cond_image)
            scores = scored.values
            num_frames, height, width = run.frames.shape[:3]
            row = {"item": item.id, "height": height, "width": width, "num_frames": num_frames, **scores}
            row["curves"] = scored.curves
            row.update(generation_s=seconds, step_s=run.seconds_per_step)
            if engine.name != native.name:
                ours = native.generate(str(item.image), item.prompt, request, cfg.seed, lambda _: None, False)
                row.update(_prefixed("vs_native_frames", abs_diff(run.frames, ours.frames)))
                row.update(_prefixed("vs_native_latents", abs_diff(run.latents, ours.latents)))
                row["native_step_s"] = ours.seconds_per_step
            rows.append(row)
            logger.log_item(index, item.id, scores, run.frames, run.cond_image)
            if original is not None:
                ref_steps, ref_frames = run_original(original, str(item.image), item.prompt, request, cfg.seed)
                parity.append(compare_live(item.id, run.steps, run.frames, ref_steps, ref_frames))
    finally:
        bar.close()
        engine.close()
    return rows, parity


def _prefixed(prefix: str, diff: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in diff.items()}


def reference_parity(cfg, pipe: LongCatI2V | None) -> list[dict]:
    """Run the stored cases of the original on the parity checkpoint with the job's engine (reusing ``pipe`` if
    it is that checkpoint)."""
    from .parity.reference import run_case

    checkpoint = Path(cfg.parity.checkpoint).resolve()
    if cfg.engine.name == "native" and (pipe is None or Path(pipe.checkpoint_dir).resolve() != checkpoint):
        pipe = LongCatI2V.from_pretrained(checkpoint, device="cpu", dtype=torch.float32)

    def engine_for(distill: bool) -> Engine:
        return make_engine(cfg, pipe, checkpoint, distill)

    cases = tqdm(cfg.parity.cases, desc="parity", leave=False)
    return [run_case(engine_for, cfg.parity.cases_dir, name) for name in cases]


def summarize(rows: list[dict], parity: list[dict]) -> dict[str, float | None]:
    """Job-level numbers: the mean of each item metric, and the worst parity differences."""
    keys = [k for k in (rows[0] if rows else {}) if k not in ("item", "height", "width", "num_frames", "curves")]
    summary: dict[str, float | None] = {k: _mean([r[k] for r in rows]) for k in keys}
    if parity:
        summary["parity_latents_max_abs"] = max(
            [p["final_latents"]["max_abs"] for p in parity] + [s["max_abs"] for p in parity for s in p["steps"]]
        )
        videos = [p["video"]["max_abs"] for p in parity if "video" in p]
        summary["parity_video_max_abs"] = max(videos) if videos else None
        summary["parity_within_tolerance"] = float(all(p["within_tolerance"] for p in parity))
    return summary


def run_job(cfg, job_dir: Path, overrides: list[str], run_name: str, group: str | None) -> dict:
    """Evaluate one setting and write ``job_dir/result.json``; returns the result."""
    validate(cfg)
    items = load_manifest(cfg.dataset.manifest, cfg.dataset.limit) if cfg.dataset.enabled else []
    if not items and cfg.parity.mode.name != "reference":
        raise ConfigError("nothing to evaluate: dataset.enabled=false needs parity=reference")
    m = cfg.metrics
    perceptual = (
        load_perceptual(m.perceptual.name, m.perceptual_net.name) if items and (m.fidelity or m.temporal) else None
    )
    scorer = Scorer(perceptual, m.fidelity, m.temporal, m.flow_preset.name)
    job_dir.mkdir(parents=True, exist_ok=True)
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    logger = make_logger(cfg.logger, job_dir, run_name, group, config)
    try:
        m = cfg.model
        pipe = load_pipeline(m.checkpoint, m.device, m.dtype.name) if items else None
        rows, parity = evaluate_items(cfg, pipe, items, scorer, logger, run_name) if items else ([], [])
        if cfg.parity.mode.name == "reference":
            parity += reference_parity(cfg, pipe)
        result = {
            "schema": RESULT_SCHEMA,
            "run_name": run_name,
            "overrides": list(overrides),
            "seed": cfg.seed,
            "settings": {
                **generation_request(cfg.sampler),
                "checkpoint": str(pipe.checkpoint_dir) if pipe else None,
                "dtype": cfg.model.dtype.name,
                "engine": cfg.engine.name,
                "dataset": cfg.dataset.name,
            },
            "perceptual_backend": perceptual.name if perceptual else None,
            "metric_versions": scorer.versions if items else {},
            "items": rows,
            "summary": summarize(rows, parity),
            "parity": parity,
            "config": config,
        }
        (job_dir / RESULT_FILE).write_text(json.dumps(result, indent=2))
        logger.log_result(result)
    finally:
        logger.finish()
    return result

"""One eval job (one point of a sweep): generate every dataset item with the job's settings, score it,
optionally check parity with the original, log, and write ``result.json`` for the aggregate step (the files a
job leaves, and how a re-run treats them: ``eval.records``)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm

from longcat_i2v import LongCatI2V

from . import ranks, records
from .config import ConfigError, original_repo, runtime_settings, validate
from .dataset import Item, load_manifest
from .engines import Engine, EngineRun, FastVideoPeer, NativeEngine
from .loggers import Logger, NullLogger, make_logger
from .metrics import load_perceptual
from .metrics.parity import abs_diff
from .provenance import checkpoint_id, code_version
from .records import RESULT_FILE
from .scoring import Scorer
from .tasks import generation_request, scored_fps, steps_per_item, task_record, task_request
from .workers import Placement, cached_pipeline

RESULT_SCHEMA = 1


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


def score_item(item: Item, run: EngineRun, seconds: float, scorer: Scorer, compare) -> tuple[dict, dict]:
    """(the item's row: size, scores, curves, generation and step time, what ``compare`` adds; the scores)."""
    if run.long is not None:
        scored = scorer.score_long(run.frames, run.cond_image, run.long)
    elif run.stage1 is not None:
        scored = scorer.score_refined(run.frames, run.cond_image, run.stage1)
    else:
        scored = scorer.score(run.frames, run.cond_image)
    scores = scored.values
    num_frames, height, width = run.frames.shape[:3]
    row = {"item": item.id, "height": height, "width": width, "num_frames": num_frames, **scores}
    row["curves"] = scored.curves
    if scored.segments:
        row["segments"] = scored.segments
    row.update(generation_s=seconds, step_s=run.seconds_per_step)
    row.update(compare(item, run))
    return row, scores


def evaluate_items(
    cfg,
    pipe: LongCatI2V,
    items: list[Item],
    scorer: Scorer,
    logger: Logger,
    run_name: str,
    on_row: Callable[[dict], None] = lambda row: None,
    device: str | None = None,
) -> tuple[list[dict], list[dict]]:
    """Generate and score each item, handing each row to ``on_row`` as soon as it is scored; with
    ``engine=fastvideo`` also measure how far FastVideo is from ours; with ``parity=live`` also run the original
    and compare per step. Under torchrun every rank generates and rank 0 alone scores (eval.ranks)."""
    device = device or cfg.model.device
    main = ranks.is_main_rank()
    request = task_request(cfg)
    original = None
    if cfg.parity.mode.name == "live":
        from .parity.live import compare_live, run_original
        from .parity.original import OriginalPipeline

        original = OriginalPipeline(original_repo(cfg), pipe.checkpoint_dir, device)
    engine = make_engine(cfg, pipe, pipe.checkpoint_dir, request["distill"])
    native = NativeEngine(pipe)

    def compare(item: Item, run: EngineRun) -> dict:
        if engine.name == native.name:
            return {}
        ours = native.generate(str(item.image), item.prompt, request, cfg.seed, lambda _: None, False)
        return {
            **_prefixed("vs_native_frames", abs_diff(run.frames, ours.frames)),
            **_prefixed("vs_native_latents", abs_diff(run.latents, ours.latents)),
            "native_step_s": ours.seconds_per_step,
        }

    rows, parity = [], []
    total = len(items) * steps_per_item(request)
    bar = tqdm(total=total, desc=run_name, unit="step", leave=False, disable=not main)
    try:
        for index, item in enumerate(items):
            start = time.perf_counter()
            run = engine.generate(
                str(item.image), item.prompt, request, cfg.seed, lambda _: bar.update(1), keep_steps=bool(original)
            )
            seconds = time.perf_counter() - start
            if main:
                try:
                    row, scores = score_item(item, run, seconds, scorer, compare)
                    rows.append(row)
                    on_row(row)
                    logger.log_item(index, item.id, scores, run.frames, run.cond_image)
                    if original is not None:
                        ref_steps, ref_frames = run_original(original, str(item.image), item.prompt, request, cfg.seed)
                        parity.append(compare_live(item.id, run.steps, run.frames, ref_steps, ref_frames))
                except Exception:
                    ranks.agree(False, device)
                    raise
            if not ranks.agree(True, device):
                raise ranks.RankFailed(f"rank 0 failed on item {item.id}; its failure.json says why")
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
        pipe = cached_pipeline(str(checkpoint), "cpu", "float32")

    def engine_for(distill: bool) -> Engine:
        return make_engine(cfg, pipe, checkpoint, distill)

    cases = tqdm(cfg.parity.cases, desc="parity", leave=False)
    return [run_case(engine_for, cfg.parity.cases_dir, name) for name in cases]


def summarize(rows: list[dict], parity: list[dict]) -> dict[str, float | None]:
    """Job-level numbers: the mean of each item metric, and the worst parity differences."""
    skip = ("item", "height", "width", "num_frames", "curves", "segments")
    keys = list(dict.fromkeys(k for r in rows for k in r if k not in skip))
    summary: dict[str, float | None] = {k: _mean([r[k] for r in rows if k in r]) for k in keys}
    if parity:
        summary["parity_latents_max_abs"] = max(
            [p["final_latents"]["max_abs"] for p in parity] + [s["max_abs"] for p in parity for s in p["steps"]]
        )
        videos = [p["video"]["max_abs"] for p in parity if "video" in p]
        summary["parity_video_max_abs"] = max(videos) if videos else None
        summary["parity_within_tolerance"] = float(all(p["within_tolerance"] for p in parity))
    return summary


def _rank_placement(cfg, job_dir: Path, placement: Placement) -> Placement:
    """Under torchrun: this rank's device, once the job is known to be one that can run over all ranks."""
    if ranks.world_size() == 1:
        return placement
    if cfg.engine.name != "native" or cfg.parity.mode.name == "live":
        raise ConfigError("under torchrun (sequence parallel) use engine=native and parity=none or parity=reference")
    device = ranks.join(placement.device)
    folder = "job folders; pass hydra.run.dir (or hydra.sweep.dir) explicitly, the default is named by the clock"
    ranks.same_everywhere(str(job_dir.resolve()), folder)
    return Placement(device, placement.contended)


def run_job(
    cfg, job_dir: Path, overrides: list[str], run_name: str, group: str | None, placement: Placement | None = None
) -> dict:
    """Evaluate one setting and write ``job_dir/result.json``; returns the result. Each item's row is appended
    to ``items.jsonl`` as it finishes. ``placement``: the device and whether other jobs may share it (default:
    ``model.device``, this job alone on it). Under torchrun the job runs sequence parallel over all ranks, and
    only rank 0 writes."""
    validate(cfg)
    placement = _rank_placement(cfg, job_dir, placement or Placement(cfg.model.device, contended=False))
    main = ranks.is_main_rank()
    items = load_manifest(cfg.dataset.manifest, cfg.dataset.limit) if cfg.dataset.enabled else []
    if not items and cfg.parity.mode.name != "reference":
        raise ConfigError("nothing to evaluate: dataset.enabled=false needs parity=reference")
    m = cfg.metrics
    scored = main and items and (m.fidelity or m.temporal)
    perceptual = load_perceptual(m.perceptual.name, m.perceptual_net.name) if scored else None
    scorer = Scorer(perceptual, m.fidelity, m.temporal, m.flow_preset.name, scored_fps(cfg), cfg.task.name)
    config = job_config(cfg)
    if main:
        records.start_items(job_dir)
    logger = make_logger(cfg.logger, job_dir, run_name, group, config) if main else NullLogger()
    try:
        m = cfg.model
        runtime = runtime_settings(m)
        world = ranks.world_size()
        pipe = cached_pipeline(m.checkpoint, placement.device, m.dtype.name, world, runtime) if items else None
        on_row = functools.partial(records.append_item, job_dir)
        rows, parity = (
            evaluate_items(cfg, pipe, items, scorer, logger, run_name, on_row, placement.device) if items else ([], [])
        )
        if cfg.parity.mode.name == "reference" and main:
            parity += reference_parity(cfg, pipe)
        checkpoint = pipe.checkpoint_dir if pipe else (cfg.parity.checkpoint if parity else None)
        result = {
            "schema": RESULT_SCHEMA,
            "run_name": run_name,
            "overrides": list(overrides),
            "seed": cfg.seed,
            "code_version": code_version(),
            "checkpoint_id": checkpoint_id(checkpoint) if checkpoint else None,
            "device": placement.device,
            "sp": ranks.world_size(),
            "contended": placement.contended,
            "settings": {
                **generation_request(cfg.sampler),
                **task_record(cfg),
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
        if main:
            records.write_json(job_dir / RESULT_FILE, result)
        logger.log_result(result)
    finally:
        logger.finish()
    return result


def job_config(cfg) -> dict:
    """The job's config as result.json stores it (what a resumed sweep compares)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def run_or_skip(
    cfg, job_dir: Path, overrides: list[str], run_name: str, group: str | None, placement: Placement | None = None
) -> str:
    """``run_job`` unless ``job_dir`` already holds this job's result: "skipped" or "done". A result of another
    config there is refused (records.ResumeError), never overwritten."""
    if records.finished_result(job_dir, job_config(cfg), overrides) is not None:
        return "skipped"
    records.clear_failure(job_dir)
    run_job(cfg, job_dir, overrides, run_name, group, placement)
    return "done"

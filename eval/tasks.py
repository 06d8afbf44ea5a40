"""What each ``task`` asks of the core and records: ``i2v`` calls ``generate_video``; ``refine`` calls
``generate_video(refine=True, refine_settings=...)`` (the refined video is scored, and against its stage 1);
``long`` calls ``generate_long_video(settings=...)`` (scored per segment, for drift and at its seams). The
settings come from the config groups generated from the core's settings types (``eval.config``)."""

from __future__ import annotations

from .config import PER_ITEM, long_settings, refine_settings, sampler_settings

LONG_KEYS = ("num_cond_frames", "enhance_hf", "offload_kv_cache")  # what long adds to i2v's (and its segments)


def generation_request(sampler) -> dict:
    """``generate_video`` keyword arguments for the sampler config, with steps/guidance resolved (the prompt and
    the seed come per item; ``refine`` is the task's choice)."""
    settings = sampler_settings(sampler).resolved()
    return {k: v for k, v in settings.generation_kwargs().items() if k not in (*PER_ITEM, "refine")}


def task_request(cfg) -> dict:
    """The engine's request: ``generation_request``, plus ``refine``/``refine_settings`` for task=refine, or the
    ``long`` LongVideoSettings (without prompt and seed, which come per item) for task=long."""
    request = generation_request(cfg.sampler)
    if cfg.task.name == "refine":
        request.update(refine=True, refine_settings=refine_settings(cfg))
    elif cfg.task.name == "long":
        request["long"] = long_settings(cfg)
    return request


def task_record(cfg) -> dict:
    """The task's resolved settings as result.json records them (what the aggregate groups by): the task, and
    the long video's or the refinement's own settings as ``long.<name>`` / ``refine.<name>``."""
    record: dict = {"task": cfg.task.name}
    if cfg.task.name == "long":
        settings = long_settings(cfg).resolved()
        record.update({f"long.{k}": getattr(settings, k) for k in LONG_KEYS})
        record["long.num_segments"] = settings.segments
    elif cfg.task.name == "refine":
        record.update({f"refine.{k}": v for k, v in refine_settings(cfg).to_dict().items() if k != "prompt"})
    return record


def scored_fps(cfg) -> int:
    """The frame rate of the video a job scores: the sampler's, doubled by a refinement that doubles frames."""
    factor = refine_settings(cfg).temporal_factor if cfg.task.name == "refine" else 1
    return cfg.sampler.fps * factor


def steps_per_item(request: dict) -> int:
    """Denoising steps per item for the progress bar (a long video runs them per segment; the refinement's own
    steps and the continuations' enhance_hf tail are not counted)."""
    long = request.get("long")
    return request["num_inference_steps"] * (long.segments if long is not None else 1)

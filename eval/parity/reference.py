"""Reference parity: re-run the stored cases of the original LongCat-Video (eval/parity/data/cases) with our
pipeline on the parity checkpoint and measure how far the latents (per step and final) and frames are.

Each case's json holds its inputs, seed, explicit size and tolerances; the safetensors file holds the
original's ``latents_step{i}``, ``final_latents`` and ``video`` (the 480p case: ``final_latents`` and
selected uint8 frames only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from longcat_i2v.options import field_specs
from longcat_i2v.settings import I2VSettings
from longcat_i2v.video import to_uint8

from ..engines import Engine
from ..metrics.parity import abs_diff, per_step_diffs


def load_case(cases_dir: str | Path, name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The case's json parameters and its reference tensors."""
    cases_dir = Path(cases_dir)
    case = json.loads((cases_dir / f"{name}.json").read_text())
    return case, load_file(str(cases_dir / f"{name}.safetensors"))


def _ref_steps(tensors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    steps = []
    while f"latents_step{len(steps)}" in tensors:
        steps.append(tensors[f"latents_step{len(steps)}"])
    return steps


def compare(
    case: dict, tensors: dict[str, torch.Tensor], steps: list[torch.Tensor], latents: torch.Tensor, frames: np.ndarray
) -> dict:
    """Differences of one run against a case's reference tensors, and whether they are within its tolerances."""
    tol = case.get("tolerance", {})
    result: dict = {"case": case["name"], "final_latents": abs_diff(latents, tensors["final_latents"])}
    ref_steps = _ref_steps(tensors)
    result["steps"] = per_step_diffs(steps, ref_steps) if ref_steps and steps else []
    checks = [result["final_latents"]["max_abs"] <= tol.get("latents_atol", 1e-3)]
    checks += [s["max_abs"] <= tol.get("latents_atol", 1e-3) for s in result["steps"]]
    if "video" in tensors:
        result["video"] = abs_diff(frames, tensors["video"][0])
        checks.append(result["video"]["max_abs"] <= tol.get("video_atol", 1e-3))
    if "video_uint8_sel" in tensors:
        ours = to_uint8(frames)[case.get("video_uint8_sel_frames") or [0, 4, 8]].astype(np.int16)
        result["video_uint8"] = abs_diff(ours, tensors["video_uint8_sel"].to(torch.int16))
        checks.append(result["video_uint8"]["max_abs"] <= tol.get("uint8_max_level_diff", 1))
    result["within_tolerance"] = all(checks)
    return result


# The case json's names for settings fields where they differ (the original's argument names).
CASE_NAMES = {"use_distill": "distill"}


def case_settings(case: dict) -> I2VSettings:
    """The case's generation settings (explicit size: the small cases were made with a tiny bucket table)."""
    fields = {s.name for s in field_specs(I2VSettings)} - {"prompt", "seed"}
    values = {CASE_NAMES.get(k, k): v for k, v in case.items()}
    return I2VSettings(**{k: v for k, v in values.items() if k in fields})


def case_request(case: dict) -> dict:
    """The case's settings as ``generate_video`` keyword arguments, steps and guidance resolved."""
    return {k: v for k, v in case_settings(case).resolved().generation_kwargs().items() if k not in ("prompt", "seed")}


def run_case(engine_for: Callable[[bool], Engine], cases_dir: str | Path, name: str) -> dict:
    """Generate the case with the original's inputs and seed on ``engine_for(distill)`` and compare with its
    stored outputs (per step too, when the engine reports its steps)."""
    case, tensors = load_case(cases_dir, name)
    engine = engine_for(case["use_distill"])
    try:
        run = engine.generate(
            str(Path(cases_dir) / case["input_image"]),
            case["prompt"],
            case_request(case),
            case["seed"],
            on_step=lambda latents: None,
            keep_steps=True,
        )
    finally:
        engine.close()
    return {"mode": "reference", "engine": engine.name, **compare(case, tensors, run.steps, run.latents, run.frames)}

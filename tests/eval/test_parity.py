"""Parity with the original LongCat-Video: the stored reference cases through ``eval.run parity=reference``,
and the live mode when a checkout of the original is available."""

from __future__ import annotations

import json
import os

import pytest
import torch

from eval.parity.reference import compare, load_case
from tests.conftest import PARITY

from .conftest import SMOKE, run_eval

CASES = PARITY / "cases"


def test_reference_cases_match_through_eval_run(tmp_path):
    run_eval(["parity=reference", "dataset=none", "logger=none", f"hydra.run.dir={tmp_path}"])
    result = json.loads((tmp_path / "result.json").read_text())
    by_case = {p["case"]: p for p in result["parity"]}
    assert set(by_case) == {"i2v_small_cfg", "i2v_small_distill"}
    assert [len(by_case[c]["steps"]) for c in ("i2v_small_cfg", "i2v_small_distill")] == [4, 16]
    for p in by_case.values():
        assert p["within_tolerance"] is True
        assert max(s["max_abs"] for s in p["steps"]) < 1e-3
        assert p["video"]["max_abs"] < 1e-3
    assert result["summary"]["parity_within_tolerance"] == 1.0
    assert result["items"] == []


def test_reference_comparison_flags_a_deviation():
    case, tensors = load_case(CASES, "i2v_small_cfg")
    steps = [tensors[f"latents_step{i}"].clone() for i in range(4)]
    frames = tensors["video"][0].numpy()
    exact = compare(case, tensors, steps, tensors["final_latents"], frames)
    assert exact["within_tolerance"] and exact["final_latents"]["max_abs"] == 0.0
    steps[2] = steps[2] + 0.01
    off = compare(case, tensors, steps, tensors["final_latents"], frames)
    assert not off["within_tolerance"]
    assert off["steps"][2]["max_abs"] == pytest.approx(0.01, rel=1e-3) and off["steps"][1]["max_abs"] == 0.0


ORIGINAL = os.environ.get("LONGCAT_ORIGINAL_REPO")


@pytest.mark.skipif(not ORIGINAL, reason="set LONGCAT_ORIGINAL_REPO to a LongCat-Video checkout to run live parity")
@pytest.mark.parametrize("sampler", [[], ["sampler.distill=true"]], ids=["cfg", "distill"])
def test_live_parity_against_the_original_checkout(tmp_path, sampler):
    run_eval(
        [
            *SMOKE,
            *sampler,
            "parity=live",
            f"parity.original_repo={ORIGINAL}",
            "metrics=fast",
            "logger=none",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    result = json.loads((tmp_path / "result.json").read_text())
    (entry,) = result["parity"]
    assert entry["mode"] == "live" and entry["case"] == "hills_sunset"
    assert len(entry["steps"]) == result["settings"]["num_inference_steps"]
    assert entry["within_tolerance"], entry
    assert torch.isfinite(torch.tensor([s["max_abs"] for s in entry["steps"]])).all()

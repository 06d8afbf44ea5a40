"""engine=native|fastvideo through Hydra: the FastVideo row sits beside ours with its speed, its distance from
our frames and its parity with the original's references."""

from __future__ import annotations

import importlib.util
import json
import math

import pandas as pd
import pytest

from .conftest import SMOKE, run_eval

# Not importorskip: importing fastvideo here would import torchvision before longcat_i2v's op shim.
needs_fastvideo = pytest.mark.skipif(importlib.util.find_spec("fastvideo") is None, reason="fastvideo not installed")


def test_native_job_records_step_time_and_engine(tmp_path):
    run_eval([*SMOKE, "sampler.steps=3", f"hydra.run.dir={tmp_path}"])
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["settings"]["engine"] == "native"
    assert result["summary"]["step_s"] > 0
    assert not any(k.startswith("vs_native") for k in result["summary"])


@pytest.mark.fastvideo
@needs_fastvideo
def test_fastvideo_beside_native_in_one_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    run_eval(["-m", *SMOKE, "parity=reference", "engine=native,fastvideo", f"hydra.sweep.dir={sweep}"])
    results = {
        json.loads(p.read_text())["settings"]["engine"]: json.loads(p.read_text()) for p in sweep.glob("*/result.json")
    }
    assert set(results) == {"native", "fastvideo"}
    fv = results["fastvideo"]["summary"]
    # FastVideo starts from our latents; in fp32 only its bf16 rounding of the DiT inputs separates it from us
    assert 0 < fv["vs_native_frames_max_abs"] < 0.05
    assert fv["step_s"] > 0 and fv["native_step_s"] > 0
    assert {p["engine"] for p in results["fastvideo"]["parity"]} == {"fastvideo"}
    assert results["native"]["summary"]["parity_within_tolerance"] == 1.0
    assert fv["parity_latents_max_abs"] > results["native"]["summary"]["parity_latents_max_abs"]

    table = pd.read_csv(sweep / "aggregate" / "results.csv").set_index("engine")
    assert set(table.index) == {"native", "fastvideo"}
    assert math.isfinite(table.loc["fastvideo", "vs_native_frames_max_abs_mean"])
    assert math.isfinite(table.loc["native", "step_s_mean"]) and math.isfinite(table.loc["fastvideo", "step_s_mean"])


@pytest.mark.fastvideo
@needs_fastvideo
def test_fastvideo_refuses_what_it_cannot_do(tmp_path):
    proc = run_eval([*SMOKE, "engine=fastvideo", "sampler.cond_rope=skip", f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode != 0
    assert "FastVideo has no RoPE skipping" in proc.stderr + proc.stdout

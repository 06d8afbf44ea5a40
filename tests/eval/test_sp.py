"""A sequence-parallel job: ``torchrun --nproc_per_node=2 -m eval.run`` on CPU (gloo) with the tiny checkpoint
scores what one process scores, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eval import job
from tests.helpers import free_port

from .conftest import REPO, SMOKE, compose_eval

ARGS = [*SMOKE, "metrics=fast", "logger=none"]


@pytest.mark.slow
def test_a_job_under_torchrun_runs_over_two_ranks_and_scores_as_one_process(tmp_path):
    out = tmp_path / "sp2"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master-port={free_port()}"]
    proc = subprocess.run(
        [*torchrun, "-m", "eval.run", *ARGS, f"hydra.run.dir={out}"],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sp = json.loads((out / "result.json").read_text())
    assert sp["sp"] == 2 and sp["device"] == "cpu"
    assert len((out / "items.jsonl").read_text().splitlines()) == 1  # rank 0 alone wrote it

    single = job.run_job(compose_eval(ARGS), tmp_path / "sp1", [], "sp1", None)
    assert single["sp"] == 1
    (ours,), (theirs,) = single["items"], sp["items"]
    for key in ("vae_roundtrip_psnr", "vae_roundtrip_ssim", "warping_error", "consecutive_ssim", "flicker"):
        assert theirs[key] == pytest.approx(ours[key], rel=1e-3), key  # the frames agree to ~1e-5

"""The harness's command line starts light: ``--help`` and tab completion compose the config without loading
the model code or the metrics, and the ``longcat-i2v-eval`` console script is the same Hydra app."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import REPO

PROBE = """
import contextlib, io, runpy, sys
sys.argv = ["longcat-i2v-eval", *sys.argv[1:]]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        runpy.run_module("eval.run", run_name="__main__")
    except SystemExit:
        pass
heavy = ("torch", "eval.job", "eval.metrics", "torchmetrics", "cv2", "wandb", "diffusers", "transformers", "lpips")
print(out.getvalue())
print("IMPORTED:", " ".join(m for m in heavy if m in sys.modules))
"""


def probe(*args: str, env: dict | None = None) -> tuple[str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text, _, imported = proc.stdout.rpartition("IMPORTED:")
    return text, set(imported.split())


def test_help_composes_the_config_without_torch_the_model_code_or_the_metrics():
    text, imported = probe("--help")
    assert "longcat-i2v-eval is powered by Hydra" in text and "sampler: default, distill, tiny" in text
    assert imported == set(), imported


def test_tab_completion_works_through_the_console_script_entry():
    scripts = (REPO / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n[")[0]
    assert re.search(r'^longcat-i2v-eval = "eval.run:main"', scripts, re.M)
    line = "longcat-i2v-eval samp"
    text, imported = probe("-sc", "query=bash", env={"COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert "sampler=" in text.split()
    assert "eval.job" not in imported

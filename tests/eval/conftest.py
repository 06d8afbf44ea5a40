"""Helpers for the eval harness tests: run ``python -m eval.run`` for real (through Hydra) in a subprocess,
and constructed videos whose metric values are known."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[2]
# A seconds-long job: tiny checkpoint, one image, 5 frames at 64x64, 2 steps.
SMOKE = ["sampler=tiny", "dataset.limit=1"]


def run_eval(args: list[str], env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m eval.run ARGS`` from the repository root; fails the test with its output if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "eval.run", *args],
        cwd=REPO,
        env={**os.environ, "HYDRA_FULL_ERROR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        output = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
        pytest.fail(f"eval.run {args} exited {proc.returncode}\n{output}")
    return proc


def compose_eval(overrides: list[str], hydra_config: bool = False):
    """The eval config Hydra composes for these overrides, in this process (no job runs)."""
    import eval.run  # noqa: F401 - registers the schema and the ${gpu_count:} resolver

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra_config)


def texture(height: int = 96, width: int = 192, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture in [0, 1], float32 [H, W, 3] (trackable by optical flow)."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    return (smooth - smooth.min()) / (smooth.max() - smooth.min())


def panning_clip(frames: int = 9, shift: int = 2, size: int = 64) -> np.ndarray:
    """A camera pan: a window sliding ``shift`` pixels right per frame over one texture, [F, size, size, 3]."""
    tex = texture(size, size + shift * frames)
    return np.stack([tex[:, shift * i : shift * i + size] for i in range(frames)])


def with_flicker(clip: np.ndarray, amount: float = 0.1) -> np.ndarray:
    """The same clip with every other frame brightened by ``amount``."""
    out = clip.copy()
    out[1::2] = np.clip(out[1::2] + amount, 0, 1)
    return out


def hard_cut(frames: int = 8, at: int = 4, size: int = 64) -> np.ndarray:
    """A pan that cuts to a different, still texture after frame ``at - 1``."""
    pan = panning_clip(frames=at, size=size)
    other = texture(size, size, seed=11)
    return np.concatenate([pan, np.stack([other] * (frames - at))])


def drifting(clip: np.ndarray, seed: int = 9) -> np.ndarray:
    """``clip`` blended progressively into another texture: frame 0 unchanged, the last frame all the other."""
    other = texture(*clip.shape[1:3], seed=seed)
    weight = np.linspace(0, 1, len(clip), dtype=np.float32)[:, None, None, None]
    return (1 - weight) * clip + weight * other

"""What a result was computed with, so that two results can be told apart later: the code version and the
checkpoint's identity."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "longcat-i2v"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
DIT_CONFIGS = ("dit/config.json", "transformer/config.json")  # the hub layout, FastVideo's


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.cache
def code_version() -> str:
    """``git describe --always --dirty`` of this checkout (``-dirty``: uncommitted changes were present), or
    ``<package version>`` when the code is not a git checkout of its own (an installed wheel)."""
    top = _git("rev-parse", "--show-toplevel")
    if top and Path(top).resolve() == REPO_ROOT:
        described = _git("describe", "--always", "--dirty")
        if described:
            return described
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def checkpoint_id(checkpoint_dir: str | Path) -> str:
    """``<folder name>:<first 16 hex of sha256(DiT config.json)>:<total bytes of the weight files>``: cheap (no
    weight is read) and different for another model, another DiT config, or weights of another size (a
    truncated or re-quantized copy)."""
    root = Path(checkpoint_dir)
    config = next((root / c for c in DIT_CONFIGS if (root / c).is_file()), None)
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:16] if config else "no-dit-config"
    weights = sum(p.stat().st_size for p in root.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    return f"{root.resolve().name}:{digest}:{weights}"

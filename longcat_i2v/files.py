"""The files of a checkpoint directory: JSON configs and the DiT's safetensors files (single or sharded).

Kept apart from ``checkpoint`` (which builds models) so that the layout mapping and the lazy weight reader
can use them without importing the model code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import CheckpointError

SINGLE_FILE = "diffusion_pytorch_model.safetensors"
INDEX_FILE = "diffusion_pytorch_model.safetensors.index.json"


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"missing file: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"malformed JSON in {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def dit_weight_files(dit_dir: Path) -> list[Path]:
    """The DiT's safetensors files: the single file, or every shard named by the index."""
    if (dit_dir / SINGLE_FILE).is_file():
        return [dit_dir / SINGLE_FILE]
    if (dit_dir / INDEX_FILE).is_file():
        index = read_json(dit_dir / INDEX_FILE)
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{dit_dir / INDEX_FILE} has no 'weight_map'")
        files = [dit_dir / name for name in sorted(set(weight_map.values()))]
        absent = [f.name for f in files if not f.is_file()]
        if absent:
            raise CheckpointError(f"{dit_dir}: shard(s) named in {INDEX_FILE} are missing: {', '.join(absent)}")
        return files
    shards = sorted(dit_dir.glob("*.safetensors"))
    if not shards:
        raise CheckpointError(f"no DiT weights in {dit_dir} (expected {SINGLE_FILE} or {INDEX_FILE} with shards)")
    return shards


def check_safetensors(folder: Path) -> None:
    """Every safetensors file in ``folder`` opens: its header parses and the file is as long as the header says
    (a truncated download fails here, named, before a library reports it without the file's name)."""
    from safetensors import safe_open

    for file in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt") as handle:
                handle.keys()
        except Exception as exc:  # safetensors raises several types for a truncated/corrupt file
            raise CheckpointError(f"{file} is not a readable safetensors file (truncated or damaged): {exc}") from exc

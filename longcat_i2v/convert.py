"""``longcat-i2v convert``: write a checkpoint in the other layout (hub ↔ FastVideo), atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .checkpoint import check_layout
from .errors import CheckpointError
from .files import read_json
from .layouts import (
    DIT_DIR,
    FASTVIDEO,
    HUB,
    LAYOUTS,
    SHARED_COMPONENTS,
    convert_dit_config,
    detect_layout,
    lora_files,
    lora_path,
    lora_to_fastvideo,
    lora_to_hub,
    model_index,
)
from .lora import read_lora_file
from .weights import MAX_SHARD_BYTES, DiTWeights, write_dit_weights


def _write_json_like(source: Path, target: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, ending in a newline when ``source`` does (round trips stay byte-equal)."""
    newline = "\n" if source.is_file() and source.read_bytes().endswith(b"\n") else ""
    target.write_text(json.dumps(data, indent=2) + newline)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def convert_checkpoint(
    src: str | Path, dst: str | Path, to: str | None = None, max_shard_bytes: int = MAX_SHARD_BYTES, link: bool = False
) -> Path:
    """Write the checkpoint at ``src`` to the new directory ``dst`` in layout ``to`` (default: the other one).
    VAE, text encoder, tokenizer and scheduler are copied as they are (hard-linked with ``link``, where the
    file system allows); the DiT and LoRA files are mapped through ``MODULES``. Written atomically: ``dst``
    appears only when complete."""
    from safetensors.torch import save_file

    src, dst = check_layout(src), Path(dst).expanduser()
    layout = detect_layout(src)
    to = to or (FASTVIDEO if layout == HUB else HUB)
    if to not in LAYOUTS:
        raise CheckpointError(f"unknown layout {to!r}; allowed: {', '.join(LAYOUTS)}")
    if to == layout:
        raise CheckpointError(f"{src} is already in the {to} layout")
    if dst.exists():
        raise CheckpointError(f"{dst} already exists; choose a new directory for the converted checkpoint")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=dst.parent))
    try:
        for name in SHARED_COMPONENTS:
            shutil.copytree(src / name, tmp / name, copy_function=_link_or_copy if link else shutil.copy2)
        dit_src, dit_dst = src / DIT_DIR[layout], tmp / DIT_DIR[to]
        dit_dst.mkdir()
        _write_json_like(
            dit_src / "config.json", dit_dst / "config.json", convert_dit_config(read_json(dit_src / "config.json"), to)
        )
        write_dit_weights(DiTWeights(dit_src, layout, to), dit_dst, max_shard_bytes)
        for name, path in lora_files(src, layout).items():
            state = read_lora_file(path)
            out = lora_to_fastvideo(state, str(path)) if to == FASTVIDEO else lora_to_hub(state, str(path))
            target = lora_path(tmp, to, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_file(out, str(target))
        index = read_json(src / "model_index.json") if (src / "model_index.json").is_file() else {}
        _write_json_like(src / "model_index.json", tmp / "model_index.json", model_index(index, to))
        tmp.rename(dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst

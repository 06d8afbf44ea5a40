"""Lazy reading and sharded writing of DiT safetensors in either layout (see ``layouts``): a tensor is
read only when asked for, under the names of the target layout, so a 13.6B DiT never sits in memory twice."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .errors import CheckpointError
from .files import dit_weight_files
from .layouts import HUB, check_split, plan

WEIGHTS_NAME = "diffusion_pytorch_model"
MAX_SHARD_BYTES = 5 * 2**30
_DTYPE_BYTES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class DiTWeights:
    """The DiT tensors of a ``dit_dir`` in layout ``src``, named as in layout ``to`` and read lazily: a split
    part is read as a row slice of its fused tensor, a fused tensor as the concatenation of its parts."""

    def __init__(self, dit_dir: Path, src: str, to: str = HUB) -> None:
        from safetensors import safe_open

        self._handles, self._file, self._shape, self._dtype = {}, {}, {}, {}
        self.metadata: dict[str, str] | None = None  # the first file's header metadata, kept when rewriting
        for file in dit_weight_files(dit_dir):
            try:
                handle = safe_open(str(file), framework="pt", device="cpu")
                for key in handle.keys():
                    part = handle.get_slice(key)
                    self._file[key], self._shape[key], self._dtype[key] = file, part.get_shape(), part.get_dtype()
            except Exception as exc:  # safetensors raises several types for a truncated/corrupt file
                raise CheckpointError(f"cannot read DiT weights {file}: {exc}") from exc
            self._handles[file] = handle
            self.metadata = self.metadata or handle.metadata()
        source = f"DiT weights in {dit_dir}"
        self.pieces = plan(self._file, src, to, source)
        check_split(self.pieces, self._shape, source)

    def keys(self) -> list[str]:
        return list(self.pieces)

    def origin(self, key: str) -> str:
        """Where ``key`` comes from, for messages: ``file:key`` of each piece."""
        return ", ".join(f"{self._file[k].name}:{k}" for k, _, _ in self.pieces[key])

    def shape(self, key: str) -> list[int]:
        pieces = self.pieces[key]
        rows = sum(self._shape[k][0] // n for k, _, n in pieces)
        return [rows, *self._shape[pieces[0][0]][1:]]

    def nbytes(self, key: str) -> int:
        return math.prod(self.shape(key)) * _DTYPE_BYTES.get(self._dtype[self.pieces[key][0][0]], 4)

    def read(self, key: str) -> torch.Tensor:
        parts = []
        for name, j, n in self.pieces[key]:
            handle = self._handles[self._file[name]]
            if n == 1:
                parts.append(handle.get_tensor(name))
            else:
                rows = self._shape[name][0] // n
                parts.append(handle.get_slice(name)[j * rows : (j + 1) * rows])
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def write_dit_weights(weights: DiTWeights, out_dir: Path, max_shard_bytes: int = MAX_SHARD_BYTES) -> list[Path]:
    """Save ``weights`` as one safetensors file, or as shards with a diffusers-style index when larger
    than ``max_shard_bytes``; only one shard is in memory at a time."""
    from safetensors.torch import save_file

    shards: list[list[str]] = [[]]
    size = 0
    for key in sorted(weights.keys()):
        if shards[-1] and size + weights.nbytes(key) > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += weights.nbytes(key)
    if len(shards) == 1:
        names = [f"{WEIGHTS_NAME}.safetensors"]
    else:
        names = [f"{WEIGHTS_NAME}-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    for name, keys in zip(names, shards, strict=True):
        save_file({k: weights.read(k).contiguous() for k in keys}, str(out_dir / name), metadata=weights.metadata)
    if len(shards) > 1:
        index = {"metadata": {"total_size": sum(weights.nbytes(k) for k in weights.keys())},
                 "weight_map": {k: name for name, keys in zip(names, shards, strict=True) for k in keys}}  # fmt: skip
        (out_dir / f"{WEIGHTS_NAME}.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return [out_dir / n for n in names]

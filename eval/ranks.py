"""Sequence-parallel jobs: ``torchrun --nproc_per_node=N -m eval.run ...`` runs every job over N ranks (sp=N,
NCCL on CUDA with one GPU per rank, gloo on CPU). All ranks generate together; rank 0 alone scores, logs and
writes the job's files. After each item the ranks agree that rank 0 is still well, so that a failure there
fails the job on every rank instead of leaving the others waiting in the next generation."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from longcat_i2v import parallel
from longcat_i2v.errors import ParallelConfigError


class RankFailed(RuntimeError):
    """Another rank (rank 0, which scores) failed; this rank stops the job too."""


def world_size() -> int:
    """Ranks of the torchrun job this process belongs to (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_rank() -> bool:
    """Rank 0 (or no torchrun): the process that writes files. Known before the process group exists."""
    return int(os.environ.get("RANK", "0")) == 0


def join(device: str) -> str:
    """Join the torchrun job's process group (once per process); returns this rank's device."""
    return parallel.init_process_group(world_size(), device)


def same_everywhere(value: str, what: str) -> None:
    """Refuse, on every rank, values that differ between ranks (e.g. output folders named by the clock)."""
    if world_size() == 1:
        return
    values: list[str | None] = [None] * world_size()
    dist.all_gather_object(values, value)
    if len(set(values)) > 1:
        raise ParallelConfigError(f"the ranks got different {what}: {sorted(set(map(str, values)))}")


def agree(ok: bool, device: str) -> bool:
    """True only if ``ok`` is true on every rank (a no-op outside torchrun)."""
    if world_size() == 1:
        return ok
    flag = torch.tensor([int(ok)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())

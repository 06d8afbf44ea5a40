"""Weights sharded over the sequence-parallel ranks with torch's FSDP2 (``fully_shard``): each rank keeps 1/N of
every DiT and text-encoder weight, and a unit's weights are all-gathered just before it runs and freed after.

Units: every DiT block (its float32 adaLN modulation a unit of its own: FSDP2 all-gathers a unit in one flat
buffer and requires one dtype per unit), each embedder and the final layer; every umT5 block, its embedding and
its final norm. Each unit is its own FSDP root with ``reshard_after_forward=True`` (a root would otherwise keep
its weights gathered after its forward, which training wants and inference does not), so a unit gathers on its
own forward however the pass was entered. The VAE (0.25 GB) is not sharded.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from .errors import ParallelConfigError


def mesh_for(group: dist.ProcessGroup | None, device: torch.device) -> DeviceMesh:
    """The 1-D device mesh of a sequence-parallel group (None: the default group)."""
    group = group if group is not None else dist.group.WORLD
    if group is None:
        raise ParallelConfigError("weight sharding needs an initialized default process group (torchrun)")
    return DeviceMesh.from_group(group, device.type)


def _units(module: nn.Module, blocks: nn.Module) -> Iterator[nn.Module]:
    """Every block, then every other child of ``module`` that holds weights."""
    yield from blocks.children()
    for child in module.children():
        if child is not blocks and any(True for _ in child.parameters()):
            yield child


def shard_module(unit: nn.Module, mesh: DeviceMesh) -> None:
    """``fully_shard`` ``unit``; parts of it in another dtype than most of its weights become units first."""
    sizes: dict[torch.dtype, int] = {}
    for p in unit.parameters():
        sizes[p.dtype] = sizes.get(p.dtype, 0) + p.numel()
    _split_dtypes(unit, max(sizes, key=sizes.__getitem__), mesh)
    fully_shard(unit, mesh=mesh, reshard_after_forward=True)


def _split_dtypes(module: nn.Module, dtype: torch.dtype, mesh: DeviceMesh) -> None:
    own = {p.dtype for p in module.parameters(recurse=False)}
    if own - {dtype}:
        raise ParallelConfigError(
            f"cannot shard {type(module).__name__}: its own weights are {sorted(map(str, own))}, its unit's {dtype}"
        )
    for child in module.children():
        dtypes = {p.dtype for p in child.parameters()}
        if dtype not in dtypes and dtypes:
            shard_module(child, mesh)
        elif dtypes - {dtype}:
            _split_dtypes(child, dtype, mesh)


def shard_dit(dit: nn.Module, mesh: DeviceMesh) -> None:
    for unit in _units(dit, dit.get_submodule("blocks")):
        shard_module(unit, mesh)


def shard_text_encoder(text_encoder: nn.Module, mesh: DeviceMesh) -> None:
    """umT5's encoder stack: its blocks, then its embedding (shared with the model's) and final norm."""
    stack = text_encoder.get_submodule("encoder")
    for unit in _units(stack, stack.get_submodule("block")):
        shard_module(unit, mesh)


def local_bytes(module: nn.Module) -> int:
    """Bytes of ``module``'s parameters held by this rank: a sharded weight's local shard, others whole."""
    total = 0
    for p in module.parameters():
        local = p.to_local() if isinstance(p, DTensor) else p
        total += local.numel() * local.element_size()
    return total

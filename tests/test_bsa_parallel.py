"""Block-sparse attention under sequence parallel (2 gloo processes) equals one process: Ulysses hands the
attention the full sequence tile by tile, and BSA must still cut the (T, H, W) grid into the same blocks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from longcat_i2v import bsa
from longcat_i2v.checkpoint import load_dit
from tests.conftest import PARITY_CKPT, load_case
from tests.helpers import free_port

ATTENTION = {
    # the parity case's grid 8x16x16: tiles of 16x8 patches, whole 4x4 block columns on each rank
    "aligned": bsa.BlockSparse(kernel="sdpa"),
    # 8x16x12: tiles of 16x6 patches, so blocks straddle the two tiles; 0.75 keeps 3 (cond) / 6 (noise) per row
    "straddling": bsa.BlockSparse(bsa.BSAParams(0.75, None, (4, 4, 4), (4, 4, 4)), kernel="sdpa"),
}


def _inputs(name: str) -> tuple[torch.Tensor, ...]:
    _, t = load_case("dit_bsa_cond4")
    x = t["hidden_states"] if name == "aligned" else t["hidden_states"][..., :24]
    return x, t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"]


def _run(dit: torch.nn.Module, sp=None) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {name: dit(*_inputs(name), num_cond_latents=4, attention=a, sp=sp) for name, a in ATTENTION.items()}


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    from longcat_i2v.parallel import setup_parallel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        dit = load_dit(PARITY_CKPT / "dit")
        sp = setup_parallel(dit.config.num_heads, world).sp
        torch.save(_run(dit, sp), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def sp_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("sp_bsa")
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


@pytest.fixture(scope="module")
def single_process():
    dit = load_dit(PARITY_CKPT / "dit")
    with torch.no_grad():
        dense = {name: dit(*_inputs(name), num_cond_latents=4) for name in ATTENTION}
    return _run(dit), dense


@pytest.mark.parametrize("name", list(ATTENTION))
def test_sp2_bsa_matches_single_process(sp_outputs, single_process, name):
    single, dense = single_process[0][name], single_process[1][name]
    assert (single - dense).abs().max() > 0.1  # the runs compared are block-sparse
    for rank in range(2):
        diff = (sp_outputs[rank][name] - single).abs().max()
        assert diff <= 1e-5, f"rank {rank}: {diff}"

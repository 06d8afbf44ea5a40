"""Sequence parallel over 2 CPU processes (gloo): same frames as one process, and each rank really
computes only its half of the tokens."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from longcat_i2v import LongCatI2V
from longcat_i2v.errors import ParallelConfigError
from longcat_i2v.parallel import choose_split, setup_parallel, tile_splits
from tests.helpers import free_port

IMG = Image.fromarray((np.random.RandomState(5).rand(60, 90, 3) * 255).astype(np.uint8))
# 64x96 pixels → 4x6 token grid, 3 latent frames: 72 tokens, 36 per rank.
RUNS = {
    "cfg_full": {"guidance_scale": 4.0, "cond_rope": "full"},
    "cfg_skip": {"guidance_scale": 4.0, "cond_rope": "skip"},
    "distill": {"distill": True, "num_inference_steps": 2},
}
COMMON = {"num_frames": 9, "height": 64, "width": 96, "num_inference_steps": 3, "seed": 21}


def _worker(rank: int, world: int, port: int, ckpt: str, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pipe = LongCatI2V.from_pretrained(ckpt, sp_size=world)
        shapes: dict[str, list] = {"qkv": [], "ffn": [], "cross_q": [], "attn": []}
        block = pipe.dit.blocks[0]
        block.attn.qkv.register_forward_hook(lambda m, i, o: shapes["qkv"].append(tuple(i[0].shape)))
        block.ffn.w1.register_forward_hook(lambda m, i, o: shapes["ffn"].append(tuple(i[0].shape)))
        block.cross_attn.q_linear.register_forward_hook(lambda m, i, o: shapes["cross_q"].append(tuple(i[0].shape)))
        inner = pipe.parallel.sp.attention

        def recording(q, k, v):
            shapes["attn"].append((tuple(q.shape), tuple(k.shape)))
            return inner(q, k, v)

        pipe.parallel.sp.attention = recording
        results = {name: pipe.generate_video("a fox runs", image=IMG, **{**COMMON, **kw}) for name, kw in RUNS.items()}
        recorded = {k: list(v) for k, v in shapes.items()}  # before the extra run below, which has fewer frames
        random_run = pipe.generate_video(
            "a fox runs", image=IMG, num_frames=5, height=64, width=96, num_inference_steps=1
        )
        frames = {k: torch.from_numpy(v.frames) for k, v in results.items()}
        torch.save({"frames": frames, "shapes": recorded, "seed": random_run.seed}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def sp_results(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("sp")
    mp.spawn(_worker, args=(2, free_port(), str(tiny_ckpt), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


@pytest.mark.parametrize("name", list(RUNS))
def test_sp2_matches_single_process(sp_results, tiny_pipe, name):
    single = tiny_pipe.generate_video("a fox runs", image=IMG, **{**COMMON, **RUNS[name]})
    for rank in range(2):
        diff = np.abs(sp_results[rank]["frames"][name].numpy() - single.frames).max()
        assert diff <= 1e-5, f"rank {rank}: {diff}"


def test_each_rank_computes_half_the_tokens(sp_results):
    """With the I2V cache (the default): one pass over the image frame's 24 tokens, then the steps over the 48
    noisy ones, each rank holding half of either."""
    tokens, cond, heads, head_dim = 72, 24, 4, 32
    for result in sp_results:
        shapes = result["shapes"]
        assert {s[1] for s in shapes["qkv"]} == {cond // 2, (tokens - cond) // 2}  # [B, 12 | 24, C]: local shards
        assert {s[1] for s in shapes["ffn"]} == {cond // 2, (tokens - cond) // 2}
        assert all(s[1] == (tokens - cond) // 2 for s in shapes["cross_q"])  # noisy tokens only
        # Ulysses: attention sees heads/2 heads over the full sequence (cond part: 24 tokens; noisy: 48 + all 72 keys)
        seen = {(q[1], q[2], k[2]) for q, k in shapes["attn"]}
        assert seen == {(heads // 2, 24, 24), (heads // 2, 48, 72)}
        assert all(q[3] == head_dim for q, _ in shapes["attn"])


def test_random_seed_is_shared_by_all_ranks(sp_results):
    assert sp_results[0]["seed"] == sp_results[1]["seed"]


def test_tiling_choices_and_errors(tiny_pipe):
    assert tile_splits(4)[0] == (2, 2) and tile_splits(2)[0] == (1, 2) and tile_splits(8)[0] == (2, 4)
    assert choose_split(2, 30, 52) == (1, 2)
    assert choose_split(4, 30, 52) == (2, 2)
    assert choose_split(2, 4, 5) == (2, 1)
    with pytest.raises(ParallelConfigError, match="3x5 token grid .* 2 equal tiles"):
        choose_split(2, 3, 5)
    with pytest.raises(ParallelConfigError, match="initialized torch.distributed process group"):
        setup_parallel(tiny_pipe.dit.config.num_heads, 2)
    with pytest.raises(ParallelConfigError, match="sp_size must be an integer"):
        setup_parallel(tiny_pipe.dit.config.num_heads, 0)


def _cfg_worker(rank: int, world: int, port: int, ckpt: str, out_dir: str, sp_size: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pipe = LongCatI2V.from_pretrained(ckpt, sp_size=sp_size, cfg_parallel=True)
        batches: list[int] = []
        pipe.dit.blocks[0].attn.qkv.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
        out = pipe.generate_video("a fox runs", image=IMG, **{**COMMON, **RUNS["cfg_skip"]})
        torch.save({"frames": torch.from_numpy(out.frames), "batches": batches}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("sp_size", [1, 2])
def test_cfg_parallel_matches_single_process(tiny_ckpt, tiny_pipe, tmp_path, sp_size):
    """CFG halves on two rank groups (with and without SP inside each): same frames, batch 1 per rank."""
    world = 2 * sp_size
    mp.spawn(_cfg_worker, args=(world, free_port(), str(tiny_ckpt), str(tmp_path), sp_size), nprocs=world)
    single = tiny_pipe.generate_video("a fox runs", image=IMG, **{**COMMON, **RUNS["cfg_skip"]})
    for rank in range(world):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert np.abs(result["frames"].numpy() - single.frames).max() <= 1e-5
        assert set(result["batches"]) == {1}  # each rank runs one half of the CFG batch


def test_world_size_must_match(tiny_pipe):
    with pytest.raises(ParallelConfigError, match="cfg_parallel.*initialized"):
        setup_parallel(tiny_pipe.dit.config.num_heads, 1, cfg_parallel=True)

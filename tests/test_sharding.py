"""Weights sharded with FSDP2 over 2 CPU processes (gloo) under --sp 2: the frames of one process, and each rank
holds half of the DiT's and the text encoder's parameter bytes, one block gathered whole while it runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from longcat_i2v import LongCatI2V
from longcat_i2v.sharding import local_bytes
from tests.helpers import free_port

IMG = Image.fromarray((np.random.RandomState(5).rand(60, 90, 3) * 255).astype(np.uint8))
RUNS = {"cfg": {"guidance_scale": 4.0}, "distill": {"distill": True}}
COMMON = {"num_frames": 5, "height": 64, "width": 96, "num_inference_steps": 2, "seed": 21}


def _worker(rank: int, world: int, port: int, ckpt: str, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pipe = LongCatI2V.from_pretrained(ckpt, sp_size=world, shard_weights=True)
        blocks = list(pipe.dit.blocks)
        during: list[int] = []
        blocks[1].register_forward_pre_hook(lambda m, i: during.append(local_bytes(pipe.dit)))  # after its unshard
        frames = {k: pipe.generate_video("a fox runs", image=IMG, **COMMON, **kw).frames for k, kw in RUNS.items()}
        held = {"dit": local_bytes(pipe.dit), "text": local_bytes(pipe.components.text_encoder), "during": during}
        torch.save({"frames": frames, "bytes": held}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_sharded_weights_give_the_frames_of_one_process_with_half_the_bytes(tiny_ckpt, tiny_pipe, tmp_path):
    mp.spawn(_worker, args=(2, free_port(), str(tiny_ckpt), str(tmp_path)), nprocs=2, join=True)
    full_dit, full_text = local_bytes(tiny_pipe.dit), local_bytes(tiny_pipe.components.text_encoder)
    block = local_bytes(tiny_pipe.dit.blocks[1])
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        for name, kw in RUNS.items():
            single = tiny_pipe.generate_video("a fox runs", image=IMG, **COMMON, **kw).frames
            assert np.abs(result["frames"][name] - single).max() <= 1e-5, (rank, name)
        held = result["bytes"]
        assert 0.45 < held["dit"] / full_dit < 0.55 and 0.45 < held["text"] / full_text < 0.55, (rank, held)
        # Inside block 1's forward its weights are gathered (the rest stays sharded): half plus half a block.
        assert all(abs(b - (held["dit"] + block / 2)) <= 0.02 * full_dit for b in held["during"]), held

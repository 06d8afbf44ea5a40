"""Continuation and long video under sequence parallel and CFG-parallel (2 gloo ranks): the K/V cache sharded like
the tokens, the same frames as one process."""

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
from tests.helpers import free_port

IMG = Image.fromarray((np.random.RandomState(2).rand(40, 60, 3) * 255).astype(np.uint8))
VIDEO = (np.random.RandomState(3).rand(7, 32, 48, 3) * 255).astype(np.uint8)
# 32x48 pixels: a 2x3 token grid per latent frame, split 2x1 over two ranks.
SMALL = {"num_frames": 9, "num_cond_frames": 5, "height": 32, "width": 48, "num_inference_steps": 2, "seed": 5}
RUNS = {
    "vc_cache": ("vc", {"guidance_scale": 4.0}),
    "vc_nocache": ("vc", {"guidance_scale": 4.0, "use_kv_cache": False}),
    "long": ("long", {"guidance_scale": 4.0, "cond_rope": "skip"}),
}


def generate(pipe: LongCatI2V, name: str) -> np.ndarray:
    kind, changes = RUNS[name]
    if kind == "vc":
        return pipe.generate_continuation("a fox runs", video=VIDEO, **SMALL, **changes).frames
    return pipe.generate_long_video(IMG, ["a fox runs", "it stops"], **SMALL, **changes).frames


def _worker(rank: int, world: int, port: int, ckpt: str, out_dir: str, cfg_parallel: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pipe = LongCatI2V.from_pretrained(ckpt, sp_size=1 if cfg_parallel else world, cfg_parallel=cfg_parallel)
        cached: list[int] = []  # the conditioning tokens each cache holds on this rank
        fill = pipe.dit.cache_conditioning

        def recording(cond_latents, cache, **kwargs):
            velocity = fill(cond_latents, cache, **kwargs)
            cached.append(cache.blocks[0][0].shape[2])
            return velocity

        pipe.dit.cache_conditioning = recording
        names = ["vc_cache"] if cfg_parallel else list(RUNS)
        frames = {name: torch.from_numpy(np.asarray(generate(pipe, name))) for name in names}
        torch.save({"frames": frames, "cached": cached}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("cfg_parallel", [False, True])
def test_two_ranks_match_one_process(tiny_ckpt, tiny_pipe, tmp_path, cfg_parallel):
    mp.spawn(_worker, args=(2, free_port(), str(tiny_ckpt), str(tmp_path), cfg_parallel), nprocs=2)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name in results[0]["frames"]:
        single = generate(tiny_pipe, name)
        for result in results:
            ours = result["frames"][name].numpy()
            if name == "long":  # uint8 frames: a 1e-6 difference may flip a truncated level
                assert np.abs(ours.astype(np.int16) - single.astype(np.int16)).max() <= 1
            else:
                assert np.abs(ours - single).max() <= 1e-5, name
    # 6 tokens per latent frame: each rank caches its tile's half under SP (continuation: 2 latents → 6; the long
    # video's I2V frame: 3, then its continuation: 6), the whole 12 with CFG-parallel alone.
    for result in results:
        assert result["cached"] == ([12] if cfg_parallel else [6, 3, 6])

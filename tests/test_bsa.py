"""Block-sparse attention on constructed inputs: the token regrouping, the gating's selection worked out by
hand, the kernels against each other and against dense attention, and the errors."""

from __future__ import annotations

import math

import pytest
import torch

from longcat_i2v import bsa
from longcat_i2v.attention import attend
from longcat_i2v.dit import DiTConfig, LongCatDiT
from longcat_i2v.errors import InvalidInputError
from tests.conftest import load_case

CUBE = (4, 4, 4)
pytestmark = pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")


def params(sparsity: float | None = 0.9375, cdf: float | None = None) -> bsa.BSAParams:
    return bsa.BSAParams(sparsity=sparsity, cdf_threshold=cdf, chunk_3d_shape_q=CUBE, chunk_3d_shape_k=CUBE)


def qkv(sq: int, sk: int, heads: int = 2, d: int = 32, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, heads, s, d, generator=g) for s in (sq, sk, sk))


def test_block_order_by_hand():
    # a 1x2x4 frame in 1x2x2 chunks: rows [0 1 2 3] / [4 5 6 7] → chunk (0,1,4,5), then chunk (2,3,6,7)
    assert bsa.block_order((1, 2, 4), (1, 2, 2)).tolist() == [0, 1, 4, 5, 2, 3, 6, 7]
    # chunks along t come first in chunk order, and t is the slowest index inside a chunk
    assert bsa.block_order((2, 1, 2), (2, 1, 1)).tolist() == [0, 2, 1, 3]


def test_tile_order_by_hand():
    # 2 frames of 2x4 cut into 1x2 tiles: tile 0 holds columns 0-1 of both frames, then tile 1 columns 2-3
    assert bsa.tile_order((2, 2, 4), (1, 2)).tolist() == [0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15]


@pytest.mark.parametrize("tiles", [(1, 1), (1, 2), (2, 1), (2, 3)])
def test_regrouping_round_trip_and_tiled_sequence(tiles):
    grid = (8, 12, 24)
    x = torch.randn(1, 2, math.prod(grid), 3)
    raster_blocks = x[:, :, bsa.block_order(grid, CUBE)]
    sequence = x[:, :, bsa.tile_order(grid, tiles)]  # what Ulysses hands the attention under SP
    order = bsa.sequence_block_order(grid, CUBE, tiles)
    assert torch.equal(sequence[:, :, order], raster_blocks)
    back = torch.empty_like(sequence).index_copy_(2, order, sequence[:, :, order])
    assert torch.equal(back, sequence)
    assert sorted(order.tolist()) == list(range(math.prod(grid)))


def test_gating_top_k_by_hand():
    """Scores q_mean·k_mean are written by hand; topk keeps int((1 − sparsity)·nk), rounded down."""
    e0 = torch.zeros(16)
    e0[0] = 1.0
    q_mean = torch.stack([e0, -e0])[None, None]  # two query blocks
    k_mean = torch.stack([0.1 * e0, 0.9 * e0, -0.5 * e0, 0.3 * e0])[None, None]  # scores ±(.1, .9, -.5, .3)
    indices, counts = bsa.select_blocks(q_mean, k_mean, params(sparsity=0.5))
    mask = bsa.block_mask(indices, counts, 4)
    assert mask[0, 0].tolist() == [[False, True, False, True], [True, False, True, False]]
    assert counts.tolist() == [[[2, 2]]]
    # 0.9375 of 31 blocks keeps int(1.9375) = 1; of 15 blocks, none
    assert bsa.select_blocks(q_mean, torch.randn(1, 1, 31, 16), params())[1].unique().tolist() == [1]
    assert bsa.select_blocks(q_mean, torch.randn(1, 1, 15, 16), params())[1].unique().tolist() == [0]


def test_gating_takes_block_means_in_block_order():
    """Blocks are 4x4x4 cubes of the raster grid: a key cube made to align with the query wins."""
    grid = (4, 8, 8)  # 4 cubes: (h, w) quadrants
    q = torch.zeros(1, 1, 256, 16)
    k = torch.zeros(1, 1, 256, 16)
    raster = torch.arange(256).view(4, 8, 8)
    q[0, 0, raster[:, :4, :4].flatten(), 0] = 1.0  # query cube 0 points along e0
    k[0, 0, raster[:, 4:, :4].flatten(), 0] = 2.0  # key cube 2 (lower left) too
    k[0, 0, raster[:, 4:, 4:].flatten(), 0] = 1.0  # key cube 3 less so
    qb, kb = q[:, :, bsa.block_order(grid, CUBE)], k[:, :, bsa.block_order(grid, CUBE)]
    indices, counts = bsa.select_blocks(bsa.block_means(qb, 64), bsa.block_means(kb, 64), params(sparsity=0.5))
    assert bsa.block_mask(indices, counts, 4)[0, 0, 0].tolist() == [False, False, True, True]


def test_gating_cdf_threshold_by_hand():
    """score = 4·ln(w) with d = 16 makes softmax(score/√d) = w; sorted .5, .25, .15, .1: cumulative .5, .75, .9, 1."""
    w = torch.tensor([0.1, 0.5, 0.15, 0.25])
    e0 = torch.zeros(16)
    e0[0] = 1.0
    q_mean = e0[None, None, None]
    k_mean = (4 * torch.log(w))[None, None, :, None] * e0

    def selected(sparsity: float | None, cdf: float) -> list[bool]:
        indices, counts = bsa.select_blocks(q_mean, k_mean, params(sparsity, cdf))
        return bsa.block_mask(indices, counts, 4)[0, 0, 0].tolist()

    assert selected(None, 0.8) == [False, True, False, True]
    assert selected(None, 0.95) == [False, True, True, True]
    assert selected(None, 0.4) == [False] * 4  # the first block alone crosses: nothing is kept
    assert selected(0.5, 0.4) == [False, True, False, True]  # with sparsity too: max(0, top 2)
    assert selected(0.75, 0.8) == [False, True, False, True]  # max(2, top 1)


# The DiT's two calls on the parity case's grid (cond→cond, noise→all): the compiled kernels are shared.
KERNEL_SHAPES = [((4, 16, 16), (4, 16, 16)), ((4, 16, 16), (8, 16, 16))]


@pytest.mark.parametrize("grid_q, grid_k", KERNEL_SHAPES)
def test_flex_kernels_match_masked_sdpa(grid_q, grid_k):
    q, k, v = qkv(math.prod(grid_q), math.prod(grid_k), heads=4)
    p = params()
    ref = bsa.block_sparse_attention(q, k, v, grid_q[1:], p, "sdpa")
    for kernel in ("flex", "flex_eager"):
        torch.testing.assert_close(bsa.block_sparse_attention(q, k, v, grid_q[1:], p, kernel), ref, atol=1e-5, rtol=0)
    # and the reference is block-sparse: a query of the first block sees exactly its selected key blocks
    qb, kb = q[:, :, bsa.block_order(grid_q, CUBE)], k[:, :, bsa.block_order(grid_k, CUBE)]
    vb = v[:, :, bsa.block_order(grid_k, CUBE)]
    indices, counts = bsa.select_blocks(bsa.block_means(qb, 64), bsa.block_means(kb, 64), p)
    keep = torch.cat([torch.arange(64 * i, 64 * i + 64) for i in sorted(indices[0, 0, 0].tolist())])
    first = attend(qb[:, :1, :64], kb[:, :1, keep], vb[:, :1, keep])
    torch.testing.assert_close(ref[:, :1, bsa.block_order(grid_q, CUBE)[:64]], first, atol=1e-6, rtol=0)


# The compiled kernel is exercised above on the DiT's shapes; each new shape would cost a compilation.
@pytest.mark.parametrize("kernel", ["flex_eager", "sdpa"])
def test_sparsity_zero_is_dense_attention(kernel):
    q, k, v = qkv(256, 512)
    out = bsa.block_sparse_attention(q, k, v, (8, 8), params(sparsity=0.0), kernel)
    torch.testing.assert_close(out, attend(q, k, v), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kernel", ["flex_eager", "sdpa"])
def test_query_blocks_selecting_nothing_output_zeros(kernel):
    # top-k: 0.9375 of 8 kv blocks keeps none, so every row is zero
    q, k, v = qkv(256, 512)
    assert torch.equal(bsa.block_sparse_attention(q, k, v, (8, 8), params(), kernel), torch.zeros_like(q))
    # cdf: query block 0 is peaked on key block 0 (its weight alone crosses 0.6: zeros), block 1 is flat
    q = torch.zeros(1, 1, 128, 16)
    q[0, 0, :64, 0] = 50.0
    k = torch.randn(1, 1, 256, 16, generator=torch.Generator().manual_seed(3)) * 0.01
    k[0, 0, :64, 0] += 1.0
    v = torch.randn(1, 1, 256, 16, generator=torch.Generator().manual_seed(4))
    order = bsa.block_order((4, 4, 8), CUBE)  # 2 query blocks and 4 key blocks of 4x4x4 tokens
    korder = bsa.block_order((8, 4, 8), CUBE)
    q_raster = torch.empty_like(q).index_copy_(2, order, q)
    k_raster, v_raster = (torch.empty_like(x).index_copy_(2, korder, x) for x in (k, v))
    out = bsa.block_sparse_attention(q_raster, k_raster, v_raster, (4, 8), params(None, 0.6), kernel)[:, :, order]
    assert torch.equal(out[:, :, :64], torch.zeros(1, 1, 64, 16))
    flat = out[:, :, 64:]  # q = 0: weights 1/4 each, so 2 of the 4 key blocks are kept
    assert flat.abs().max() > 0 and torch.isfinite(flat).all()


def test_bsa_params_from_config():
    raw = {
        "hidden_size": 128,
        "num_heads": 4,
        "enable_bsa": True,
        "cp_split_hw": [1, 1],
        "bsa_params": {"sparsity": 0.9375, "chunk_3d_shape_q": [4, 4, 4], "chunk_3d_shape_k": [4, 4, 4]},
    }
    cfg = DiTConfig.from_dict(raw)
    assert cfg.bsa_params == params()
    assert DiTConfig.from_dict({**raw, "bsa_params": None}).bsa_params is None
    # a missing key takes the original flash_attn_bsa_3d's default
    assert DiTConfig.from_dict({**raw, "bsa_params": {}}).bsa_params == bsa.BSAParams(0.875, None, (4, 4, 8), (4, 4, 8))
    with pytest.raises(InvalidInputError, match=r"unknown keys \['sparsty'\]"):
        bsa.BSAParams.from_dict({"sparsty": 0.9})
    with pytest.raises(InvalidInputError, match="sparsity must be a number in"):
        bsa.BSAParams(sparsity=1.5)
    with pytest.raises(InvalidInputError, match="both are null"):
        bsa.BSAParams(sparsity=None)
    with pytest.raises(InvalidInputError, match="chunk_3d_shape_q must be three positive integers"):
        bsa.BSAParams(chunk_3d_shape_q=(4, 4))


def test_errors_name_the_value():
    q, k, v = qkv(3 * 64, 3 * 64)
    with pytest.raises(InvalidInputError, match=r"grid .* 3x8x8 into 4x4x4 chunks.*multiple of 4 latent frames"):
        bsa.block_sparse_attention(q, k, v, (8, 8), params())
    q, k, v = qkv(256, 256, d=24)
    with pytest.raises(InvalidInputError, match=r"head_dim in \(16, 32, 64, 128, 256\).* got 24"):
        bsa.block_sparse_attention(q, k, v, (8, 8), params())
    with pytest.raises(InvalidInputError, match="BSA kernel must be one of"):
        bsa.BlockSparse(kernel="triton")
    with pytest.raises(InvalidInputError, match=r"attention must be one of \('dense', 'bsa'\).* got 'sparse'"):
        bsa.attention_mode("sparse")


def test_dit_refuses_bsa_it_cannot_run(parity_pipe):
    """Before any work: a grid BSA cannot block, a checkpoint without bsa_params, an unknown mode."""
    _, t = load_case("dit_cond1")  # latents 4x6x8: patch grid 4x3x4, so the cond call's grid is 1x3x4
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])
    with pytest.raises(InvalidInputError, match=r"grid .* 1x3x4 into 4x4x4 chunks"):
        parity_pipe.dit(*args, num_cond_latents=1, attention="bsa")
    cfg = DiTConfig(hidden_size=64, depth=1, num_heads=2, caption_channels=64, adaln_tembed_dim=64)
    with pytest.raises(InvalidInputError, match="attention='bsa' needs bsa_params in the DiT's config.json"):
        LongCatDiT(cfg)(*args, num_cond_latents=1, attention="bsa")
    with pytest.raises(InvalidInputError, match="attention must be one of"):
        parity_pipe.dit(*args, num_cond_latents=1, attention="flash")

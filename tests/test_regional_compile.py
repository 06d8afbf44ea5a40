"""Regional compile gives eager's output on the parity DiT (2 blocks), also after a change of size that moves the
conditioning split (which torch's automatic dynamic shapes fail to compile).

Slow: two inductor compiles on CPU, about 95 s on the shared 2-core machine with a cold inductor cache (14 s
warm)."""

import pytest
import torch

from longcat_i2v.checkpoint import load_dit
from longcat_i2v.regional_compile import compile_blocks
from tests.conftest import PARITY_CKPT, load_case


@pytest.mark.slow
def test_compiled_blocks_match_eager_one_graph_per_size():
    torch._dynamo.reset()
    counters = torch._dynamo.utils.counters
    counters.clear()
    _, t = load_case("dit_cond1")
    eager, compiled = load_dit(PARITY_CKPT / "dit"), compile_blocks(load_dit(PARITY_CKPT / "dit"))
    g = torch.Generator().manual_seed(0)
    for frames, h, w in [(4, 6, 8), (4, 8, 12)]:  # 12 then 24 conditioning tokens
        args = (torch.randn(2, 16, frames, h, w, generator=g), torch.full((2, frames), 500.0),
                t["encoder_hidden_states"], t["encoder_attention_mask"])  # fmt: skip
        with torch.no_grad():
            torch.testing.assert_close(compiled(*args, num_cond_latents=1), eager(*args, num_cond_latents=1),
                                       atol=1e-5, rtol=1e-5)  # fmt: skip
    assert counters["stats"]["unique_graphs"] == 2  # one graph per size, shared by both blocks
    assert not counters["graph_break"]

"""Regional compile gives eager's output on the parity DiT (2 blocks: compiling on CPU takes tens of seconds)."""

import pytest
import torch

from longcat_i2v.checkpoint import load_dit
from longcat_i2v.regional_compile import compile_blocks
from tests.conftest import PARITY_CKPT, load_case


@pytest.mark.slow
def test_compiled_blocks_match_eager_and_compile_once():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    meta, t = load_case("dit_cond1")
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])
    dit = load_dit(PARITY_CKPT / "dit")
    with torch.no_grad():
        eager = dit(*args, num_cond_latents=meta["num_cond_latents"])
        compile_blocks(dit)
        compiled = dit(*args, num_cond_latents=meta["num_cond_latents"])
    torch.testing.assert_close(compiled, eager, atol=1e-5, rtol=1e-5)
    counters = torch._dynamo.utils.counters
    assert counters["stats"]["unique_graphs"] == 1  # one graph serves both blocks
    assert not counters["graph_break"]

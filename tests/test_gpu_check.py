"""bench/gpu_check.py: its FLOP count against torch's counter, and the --small run of every code path on CPU
(the real run needs a GPU; see docs/perf.md)."""

import json

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from bench import gpu_check
from longcat_i2v.checkpoint import load_dit
from tests.conftest import PARITY_CKPT, load_case


def test_dit_flops_match_torch_flop_counter():
    meta, t = load_case("dit_cond1")  # [2, 16, 4, 6, 8]: 4 x 3 x 4 = 48 tokens, 12 of the conditioning frame
    dit = load_dit(PARITY_CKPT / "dit")
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])
    # The math kernel: its matmuls are what the counter sees (it skips CPU flash attention).
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        dit(*args, num_cond_latents=meta["num_cond_latents"])
    text_tokens = t["encoder_hidden_states"].shape[2]
    assert gpu_check.dit_flops(dit.config, 48, 12, text_tokens, 2, 4) == counter.get_total_flops()


def test_small_run_covers_every_part_and_writes_json(tmp_path, capsys):
    out = tmp_path / "check.json"
    record = gpu_check.main(["--small", "--out", str(out), "--steps", "1"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert set(record["stages"]) == {"text", "encode", "denoise", "decode"}
    for stage in record["stages"].values():
        assert stage["peak_bytes"] > 0 and 2 / 3 < stage["estimate_bytes"] / stage["peak_bytes"] < 1.5
    assert [(r["attention"], r["compile"]) for r in record["steps"]] == [("sdpa", False), ("sdpa", True)]
    assert all(r["s_per_step"] > 0 and r["tflops"] > 0 for r in record["steps"])
    assert set(record["budgets"]) == {"24 GiB none", "48 GiB none", "24 GiB model", "48 GiB model"}
    assert record["skipped"] == []
    table = capsys.readouterr().out
    assert "denoise" in table and "s/step" in table and "not enforced (no CUDA)" in table

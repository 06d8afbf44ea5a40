"""How far weight-only fp8/int8 moves the DiT, and what it saves (needs the quant extra).

    python -m bench.quant_error [--tokens 3x8x8] [--skip-block]

1. The parity checkpoint's DiT on the dit_cond1 inputs: relative L2 error of each mode against the same model
   unquantized, for a bf16 and a float32 model, and against float32 (bf16 itself is printed for scale).
2. One real-width block (hidden 4096, 32 heads, SwiGLU 11008) with random weights (torch's default init) on a
   small grid, bf16 (slow on CPUs without bf16 matmul units: about a minute per forward here): the error of the
   block's update (output − input; the residual would hide it) against bf16 and float32, and the bytes.
Prints the numbers; no assertion (tests/test_quant.py holds the bounds).
"""

from __future__ import annotations

import argparse
import copy

import torch

from longcat_i2v.checkpoint import load_dit
from longcat_i2v.dit import FP32_MODULES, Block, DiTConfig
from longcat_i2v.quant import QUANT_MODES, parameter_bytes, quantize_dit, relative_error
from longcat_i2v.rope import rope_cos_sin
from tests.conftest import PARITY_CKPT, load_case


def parity_dit() -> None:
    meta, t = load_case("dit_cond1")
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])

    def run(dtype: torch.dtype, mode: str | None = None) -> tuple[torch.Tensor, int]:
        dit = load_dit(PARITY_CKPT / "dit", dtype=dtype)
        if mode:
            quantize_dit(dit, mode)
        with torch.no_grad():
            return dit(*args, num_cond_latents=meta["num_cond_latents"]), parameter_bytes(dit)

    f32, _ = run(torch.float32)
    print("parity DiT (hidden 128, 2 blocks), dit_cond1 inputs; relative L2 error")
    for dtype in (torch.bfloat16, torch.float32):
        ref, ref_bytes = run(dtype)
        name = str(dtype).removeprefix("torch.")
        if dtype == torch.bfloat16:
            print(f"  bf16 vs float32: {relative_error(ref, f32):.4f}")
        for mode in QUANT_MODES:
            out, n = run(dtype, mode)
            errors = f"vs {name} {relative_error(out, ref):.4f}, vs float32 {relative_error(out, f32):.4f}"
            print(f"  {mode} ({name} model): {errors}; parameters {ref_bytes:,} -> {n:,} bytes ({n / ref_bytes:.2f}x)")


def real_block(grid: tuple[int, int, int]) -> None:
    cfg = DiTConfig()
    torch.manual_seed(0)
    holder = torch.nn.Module()
    holder.blocks = torch.nn.ModuleList([Block(cfg).eval().requires_grad_(False)])
    n = grid[0] * grid[1] * grid[2]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, n, cfg.hidden_size, generator=g)
    text = torch.randn(2, 64, cfg.hidden_size, generator=g)
    temb = torch.randn(2, grid[0], cfg.adaln_tembed_dim, generator=g)
    cos, sin = rope_cos_sin(grid, cfg.hidden_size // cfg.num_heads, 1)

    def update(model: torch.nn.Module, dtype: torch.dtype) -> torch.Tensor:
        with torch.no_grad():
            xin = x.to(dtype)
            out = model.blocks[0](xin, text.to(dtype), None, temb, (cos, sin), grid[1] * grid[2], None)
        return (out - xin).float()

    def bf16() -> torch.nn.Module:
        model = copy.deepcopy(holder)
        for name, p in model.named_parameters():
            if not any(pattern in name for pattern in FP32_MODULES):
                p.data = p.data.to(torch.bfloat16)
        return model

    f32 = update(holder, torch.float32)
    ref_model = bf16()
    ref = update(ref_model, torch.bfloat16)
    ref_bytes = parameter_bytes(ref_model)
    print(f"real-width block (hidden 4096), {n} tokens x 2, bf16; relative L2 error of the block's update")
    print(f"  bf16 vs float32: {relative_error(ref, f32):.4f}; parameters {ref_bytes:,} bytes")
    for mode in QUANT_MODES:
        model = quantize_dit(bf16(), mode)
        out = update(model, torch.bfloat16)
        nbytes = parameter_bytes(model)
        print(f"  {mode}: vs bf16 {relative_error(out, ref):.4f}, vs float32 {relative_error(out, f32):.4f}; "
              f"parameters {nbytes:,} bytes ({nbytes / ref_bytes:.2f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="3x8x8", help="latent-token grid TxHxW of the real-width block")
    parser.add_argument("--skip-block", action="store_true")
    args = parser.parse_args()
    parity_dit()
    if not args.skip_block:
        real_block(tuple(int(v) for v in args.tokens.split("x")))


if __name__ == "__main__":
    main()

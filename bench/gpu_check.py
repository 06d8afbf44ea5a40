"""GPU check: the real 13.6B DiT, umT5-XXL and the Wan VAE with random weights, built directly in bf16 on the GPU,
timed and measured at 480x832x93 with CFG in a few minutes on one H100/H200.

    python -m bench.gpu_check [--out gpu_check.json] [--steps 2] [--no-compile] [--peak-tflops 989]
    python -m bench.gpu_check --small      # the same code paths at a tiny size, on CPU, in seconds

Reports s/step (SDPA vs flash-attn when installed; regional torch.compile off/on), peak memory per stage next to
the planner's estimate, whether 24 and 48 GiB budgets hold for a denoising step (enforced with
``torch.cuda.set_per_process_memory_fraction``) with everything resident ("none") or the DiT alone ("model"),
and the achieved fraction of the GPU's bf16 peak FLOP/s (DiT FLOPs counted analytically). Writes the JSON and
prints a table; it edits no file of the project (copy the numbers into docs/perf.md by hand).

Weights are random: modules are built on the meta device and materialized one block (or layer) at a time on
the target device, then drawn there (matrices ~ N(0, 1/fan_in), norm gains 1, biases 0.1·N) — no CPU copy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import torch
from torch import nn

import longcat_i2v.attention as attention_module
from longcat_i2v.dit import FP32_MODULES, DiTConfig, LongCatDiT
from longcat_i2v.planner import (
    GIB,
    TextEncoderShape,
    dit_activation_bytes,
    text_activation_bytes,
    tokens,
    vae_decode_bytes,
    vae_encode_bytes,
)
from longcat_i2v.regional_compile import compile_blocks
from longcat_i2v.tensor_memory import TensorMemory

# Dense bf16 tensor-core peaks (vendor data sheets), by a substring of torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0}
BUDGETS_GIB = (24, 48)


@dataclass(frozen=True)
class Setup:
    dit: DiTConfig
    text: TextEncoderShape
    vae_base_dim: int
    height: int
    width: int
    num_frames: int
    text_tokens: int


REAL = Setup(DiTConfig(), TextEncoderShape(), 96, 480, 832, 93, 512)
SMALL = Setup(
    DiTConfig(hidden_size=128, depth=2, num_heads=4, caption_channels=64, adaln_tembed_dim=64),
    TextEncoderShape(vocab_size=320, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
    8, 64, 96, 5, 32,
)  # fmt: skip


def dit_flops(cfg: DiTConfig, n_tokens: int, cond_tokens: int, text_tokens: int, batch: int, frames: int) -> int:
    """FLOPs (2 per multiply-add) of one DiT forward: the matmuls, the patch embedding, and attention with the
    conditioning split (conditioning queries see conditioning keys, the others see all; cross-attention leaves
    the conditioning tokens out)."""
    c, f, n, nc, L = cfg.hidden_size, cfg.ffn_hidden, n_tokens, cond_tokens, text_tokens
    nn_ = n - nc
    patch = cfg.in_channels * cfg.patch_size[1] * cfg.patch_size[2]
    out = cfg.patch_size[1] * cfg.patch_size[2] * cfg.out_channels
    block = (
        2 * n * c * 4 * c  # qkv, proj
        + 4 * c * (nc * nc + nn_ * n)  # q·kᵀ and p·v of self-attention
        + 2 * nn_ * c * 2 * c
        + 2 * L * c * 2 * c  # cross q, proj; k, v of the text
        + 4 * c * nn_ * L  # cross-attention
        + 2 * n * c * 3 * f  # SwiGLU
        + 2 * frames * cfg.adaln_tembed_dim * 6 * c  # adaLN
    )
    t_embed = 2 * frames * (cfg.frequency_embedding_size + cfg.adaln_tembed_dim) * cfg.adaln_tembed_dim
    outer = 2 * n * patch * c + 2 * L * (cfg.caption_channels + c) * c + t_embed
    outer += 2 * frames * cfg.adaln_tembed_dim * 2 * c + 2 * n * c * out
    return batch * (cfg.depth * block + outer)


@torch.no_grad()
def draw_(named: Iterable[tuple[str, nn.Parameter]], gen: torch.Generator) -> None:
    """Draw parameters in place on their own device: matrices ~ N(0, 1/fan_in), norm gains 1, biases 0.1·N."""
    for name, p in named:
        if "norm" in name:
            p.fill_(1.0)
        elif p.dim() >= 2:
            p.normal_(0.0, p[0].numel() ** -0.5, generator=gen)
        else:
            p.normal_(0.0, 0.1, generator=gen)


def materialize_(model: nn.Module, parts: list[nn.Module], device: torch.device, gen: torch.Generator) -> None:
    """Meta → ``device``: each of ``parts`` (blocks, layers) in turn, then every module still holding meta tensors
    (its own parameters only), so that no more than one part is ever allocated twice."""
    for part in parts:
        part.to_empty(device=device)
        draw_(part.named_parameters(), gen)
    for prefix, module in model.named_modules():
        if any(p.is_meta for p in module.parameters(recurse=False)):
            module.to_empty(device=device, recurse=False)
            draw_(((f"{prefix}.{n}", p) for n, p in module.named_parameters(recurse=False)), gen)


def build(setup: Setup, device: torch.device, dtype: torch.dtype, gen: torch.Generator):
    # Imported here, after longcat_i2v (whose compat module must run before transformers/diffusers).
    from diffusers import AutoencoderKLWan
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device("meta"):
        dit = LongCatDiT(setup.dit).to(dtype)
        for name, p in dit.named_parameters():
            if any(pattern in name for pattern in FP32_MODULES):
                p.data = p.data.float()
        t = setup.text
        text = UMT5EncoderModel(UMT5Config(
            vocab_size=t.vocab_size, d_model=t.d_model, d_kv=t.d_kv, d_ff=t.d_ff, num_layers=t.num_layers,
            num_heads=t.num_heads, relative_attention_num_buckets=t.relative_attention_num_buckets,
            feed_forward_proj="gated-gelu", is_encoder_decoder=False, use_cache=False, tie_word_embeddings=False,
        )).to(dtype)  # fmt: skip
        vae = AutoencoderKLWan(base_dim=setup.vae_base_dim).to(dtype)
    materialize_(dit, list(dit.blocks), device, gen)
    materialize_(text, list(text.encoder.block), device, gen)
    materialize_(vae, [], device, gen)
    return dit.eval(), text.eval(), vae.eval()


class Meter:
    """Seconds and peak bytes of a call: CUDA's allocator statistics, or TensorMemory on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, fn: Callable[[], object]) -> tuple[float, int]:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            start = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            return time.perf_counter() - start, torch.cuda.max_memory_allocated() - base
        with TensorMemory() as mem:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start, mem.peak


def budget_holds(budget_gib: float, run: Callable[[], object]) -> bool | None:
    """Does ``run`` fit when this process may use only ``budget_gib``? None off CUDA (not enforceable)."""
    if not torch.cuda.is_available():
        return None
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, budget_gib * GIB / total))
    try:
        run()
        torch.cuda.synchronize()
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="tiny sizes on the CPU: checks the code paths")
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--steps", type=int, default=2, help="timed DiT steps per variant (after one warm-up)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--compile-backend", help="torch.compile backend (default inductor; eager with --small)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (default: from its name)")
    parser.add_argument("--time-limit", type=float, default=420, help="seconds; later parts are skipped after it")
    args = parser.parse_args(argv)
    setup = SMALL if args.small else REAL
    device = torch.device("cpu" if args.small or not torch.cuda.is_available() else "cuda")
    dtype, started = torch.bfloat16, time.perf_counter()
    gen = torch.Generator(device).manual_seed(0)
    dit, text_encoder, vae = build(setup, device, dtype, gen)
    measure = Meter(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    peak_tflops = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    record: dict = {"date": datetime.date.today().isoformat(), "device": name, "torch": torch.__version__,
                    "small": args.small, "setup": asdict(setup), "stages": {}, "steps": [], "budgets": {},
                    "skipped": []}  # fmt: skip

    def in_time(part: str) -> bool:
        if time.perf_counter() - started <= args.time_limit:
            return True
        record["skipped"].append(part)
        return False

    s, cfg = setup, setup.dit
    latent_t, lh, lw = (s.num_frames - 1) // 4 + 1, s.height // 8, s.width // 8
    n_tokens, cond = tokens(latent_t, s.height, s.width), tokens(1, s.height, s.width)
    ids = torch.randint(0, s.text.vocab_size, (2, s.text_tokens), device=device, generator=gen)
    mask = torch.ones_like(ids)
    mask[0, s.text_tokens // 4 :] = 0  # a shorter negative prompt
    latents = torch.randn(2, 16, latent_t, lh, lw, device=device, generator=gen)
    timestep = torch.full((2, latent_t), 700.0, device=device)
    image = torch.randn(1, 3, 1, s.height, s.width, device=device, dtype=dtype, generator=gen)
    with torch.no_grad():
        text = text_encoder(ids, attention_mask=mask).last_hidden_state[:, None]

    def step():
        with torch.no_grad():
            return dit(latents, timestep, text, mask, num_cond_latents=1)

    def decode():  # as the pipeline decodes: the VAE, then float frames in [0, 1]
        with torch.no_grad():
            return (vae.decode(latents[:1].to(dtype), return_dict=False)[0].float() / 2 + 0.5).clamp(0, 1)

    estimates = {
        "text": text_activation_bytes(s.text, 2, s.text_tokens),
        "encode": vae_encode_bytes(s.vae_base_dim, s.height, s.width),
        "denoise": dit_activation_bytes(cfg, n_tokens, 2),
        "decode": vae_decode_bytes(s.vae_base_dim, s.height, s.width, 1 + 4 * (latent_t - 1)),
    }
    runs = {
        "text": lambda: text_encoder(ids, attention_mask=mask),
        "encode": lambda: vae.encode(image),
        "denoise": step,
        "decode": decode,
    }
    for stage, run in runs.items():
        with torch.no_grad():
            seconds, peak = measure(run)
        record["stages"][stage] = {"seconds": seconds, "peak_bytes": peak, "estimate_bytes": estimates[stage]}

    flops = dit_flops(cfg, n_tokens, cond, s.text_tokens, 2, latent_t)
    hopper = torch.cuda.is_available() and torch.cuda.get_device_capability()[0] == 9
    backends = ["sdpa"] + [k for k in ("flash", "flash3") if attention_module.installed(k) and (k == "flash" or hopper)]
    compiled = [False] if args.no_compile else [False, True]
    for use_compile in compiled:
        if use_compile:
            backend = args.compile_backend or ("eager" if args.small else "inductor")
            compile_blocks(dit, backend=backend)
        for backend_name in backends:
            if not in_time(f"steps {backend_name} compile={use_compile}"):
                continue
            with attention_module.using_kernel(backend_name):
                first, _ = measure(step)  # warm-up (and the compile)
                times, peaks = zip(*(measure(step) for _ in range(args.steps)), strict=True)
            sec = statistics.median(times)
            record["steps"].append({
                "attention": backend_name, "compile": use_compile, "first_s": first, "s_per_step": sec,
                "peak_bytes": max(peaks), "tflops": flops / sec / 1e12,
                "fraction_of_peak": flops / sec / 1e12 / peak_tflops if peak_tflops else None,
            })  # fmt: skip

    for mode in ("none", "model"):
        if mode == "model":
            text_encoder.to("cpu")  # only the DiT on the GPU while it works
            vae.to("cpu")
        for budget in BUDGETS_GIB:
            if in_time(f"budget {budget} GiB {mode}"):
                record["budgets"][f"{budget} GiB {mode}"] = budget_holds(budget, step)
    record["dit_flops_per_step"] = flops
    record["peak_tflops"] = peak_tflops
    record["seconds"] = time.perf_counter() - started
    with open(args.out, "w") as fh:
        json.dump(record, fh, indent=2)
    print(table(record))
    return record


def table(record: dict) -> str:
    s = record["setup"]
    unit, scale = ("MiB", 2**20) if record["small"] else ("GiB", GIB)
    lines = [f"{record['device']} ({record['date']}, torch {record['torch']}): {s['height']}x{s['width']}x"
             f"{s['num_frames']}, CFG batch 2, bf16; {record['seconds']:.0f} s in all", "",
             f"{'stage':<9}{'seconds':>9}{'peak ' + unit:>10}{'planner':>9}"]  # fmt: skip
    for stage, v in record["stages"].items():
        peak, estimate = v["peak_bytes"] / scale, v["estimate_bytes"] / scale
        lines.append(f"{stage:<9}{v['seconds']:>9.2f}{peak:>10.2f}{estimate:>9.2f}")
    head = f"{'attention':<11}{'compile':>8}{'first s':>9}{'s/step':>9}{'peak ' + unit:>10}{'TFLOP/s':>9}{'of peak':>8}"
    lines += ["", head]
    for r in record["steps"]:
        frac = f"{r['fraction_of_peak']:.0%}" if r["fraction_of_peak"] is not None else "-"
        peak = r["peak_bytes"] / scale
        lines.append(f"{r['attention']:<11}{'on' if r['compile'] else 'off':>8}{r['first_s']:>9.2f}"
                     f"{r['s_per_step']:>9.2f}{peak:>10.2f}{r['tflops']:>9.1f}{frac:>8}")  # fmt: skip
    lines.append("")
    verdict = {True: "holds", False: "out of memory", None: "not enforced (no CUDA)"}
    lines += [f"denoising step within {k}: {verdict[v]}" for k, v in record["budgets"].items()]
    lines += [f"skipped (time limit): {part}" for part in record["skipped"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

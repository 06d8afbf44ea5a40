"""The load options as RuntimeSettings fields: they reach the CLI and the eval schema, load_pipeline applies them,
bad ones and bad combinations are refused by name; the attention kernel is chosen and reported in one place;
no host synchronization inside the step loop (CUDA only)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v import attention, load_pipeline
from longcat_i2v.cli import build_parser
from longcat_i2v.cli_args import settings_from_args
from longcat_i2v.errors import InvalidInputError, MissingDependencyError, ParallelConfigError
from longcat_i2v.options import SettingsError
from longcat_i2v.settings import RuntimeSettings

IMG = Image.fromarray((np.random.RandomState(4).rand(60, 90, 3) * 255).astype(np.uint8))
OPTIONS = ("offload", "text_encoder_device", "quantize", "compile", "attention", "shard_weights")


def test_options_reach_the_cli_and_the_eval_schema():
    argv = ["generate", "--image", "x.png", "--prompt", "p", "--offload", "group", "--quantize", "int8", "--compile",
            "--attention", "sdpa", "--text-encoder-device", "cpu"]  # fmt: skip
    runtime = settings_from_args(RuntimeSettings, build_parser().parse_args(argv))
    assert (runtime.offload, runtime.quantize, runtime.compile, runtime.attention, runtime.text_encoder_device) == (
        "group", "int8", True, "sdpa", "cpu"
    )  # fmt: skip
    pytest.importorskip("hydra")
    from eval.config import ModelConfig

    assert set(OPTIONS) <= {f.name for f in dataclasses.fields(ModelConfig)}


def test_bad_values_and_combinations_are_refused_by_name(tiny_ckpt):
    with pytest.raises(SettingsError, match="offload='fast' is invalid: must be one of none, model, group"):
        RuntimeSettings(offload="fast")
    with pytest.raises(SettingsError, match="text_encoder_device='gpu9' is invalid"):
        RuntimeSettings(text_encoder_device="gpu9")
    with pytest.raises(SettingsError, match="shard_weights cannot be combined with offload and quantize"):
        RuntimeSettings(sp_size=2, shard_weights=True, offload="group", quantize="fp8")
    with pytest.raises(ParallelConfigError, match="shard_weights .* sp_size >= 2"):
        load_pipeline(runtime=RuntimeSettings(checkpoint=str(tiny_ckpt), shard_weights=True))


def test_load_pipeline_applies_the_options(tiny_ckpt):
    pytest.importorskip("torchao")
    root = str(tiny_ckpt)
    quantized = load_pipeline(runtime=RuntimeSettings(checkpoint=root, quantize="int8"))
    streamed = load_pipeline(runtime=RuntimeSettings(checkpoint=root, quantize="int8", offload="sequential"))
    assert streamed.offload == "sequential" and streamed.placement.text_device == torch.device("cpu")
    weight = quantized.dit.blocks[0].ffn.w1.weight
    assert hasattr(weight, "__tensor_flatten__")  # a torchao quantized tensor
    kw = {"num_frames": 5, "height": 64, "width": 96, "num_inference_steps": 1, "seed": 2}
    a, b = (p.generate_video("a fox runs", image=IMG, **kw).frames for p in (quantized, streamed))
    assert np.array_equal(a, b)  # quantized weights stream like any other
    compiled = load_pipeline(runtime=RuntimeSettings(checkpoint=root, compile=True))
    assert all(block._compiled_call_impl is not None for block in compiled.dit.blocks)
    assert load_pipeline(runtime=RuntimeSettings(checkpoint=root, offload="auto")).offload == "none"  # a CPU


def test_attention_kernel_is_resolved_and_reported(tiny_pipe, monkeypatch):
    assert attention.resolve_kernel("auto", "cpu", torch.float32) == "sdpa"
    assert tiny_pipe.attention_kernel == "sdpa" and "attention sdpa" in tiny_pipe.describe()
    with pytest.raises(InvalidInputError, match="attention='xformers' is invalid: must be one of auto, sdpa"):
        attention.resolve_kernel("xformers", "cpu", torch.bfloat16)
    if not attention.installed("flash3"):
        with pytest.raises(MissingDependencyError, match="attention='flash3' needs FlashAttention-3"):
            attention.resolve_kernel("flash3", "cpu", torch.bfloat16)
    monkeypatch.setattr(attention, "installed", lambda kernel: True)
    with pytest.raises(InvalidInputError, match="attention='flash' runs on CUDA in bfloat16/float16, .* cpu"):
        attention.resolve_kernel("flash", "cpu", torch.bfloat16)
    assert attention.resolve_kernel("auto", "cpu", torch.bfloat16) == "sdpa"  # installed, but not on a CPU


def test_a_generation_runs_with_its_pipelines_kernel(tiny_pipe, monkeypatch):
    with monkeypatch.context() as patch:  # a stand-in flash-attn, only to select it (never called on a CPU)
        patch.setattr(attention.importlib, "import_module", lambda name: type("Flash", (), {"flash_attn_func": None}))
        outside = attention.using_kernel("flash")
        outside.__enter__()
    seen = []
    handle = tiny_pipe.dit.blocks[0].register_forward_pre_hook(lambda m, a: seen.append(attention.current_kernel()))
    try:
        tiny_pipe.generate_video("a fox runs", image=IMG, num_frames=5, height=64, width=96, num_inference_steps=1)
        after = attention.current_kernel()
    finally:
        handle.remove()
        outside.__exit__(None, None, None)
    assert set(seen) == {"sdpa"} and after == "flash"  # the pipeline's kernel inside, the caller's restored


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host-device synchronization is a CUDA matter")
@pytest.mark.parametrize("offload", ["none", "group"])
def test_no_host_sync_after_the_first_step(tiny_ckpt, offload):
    pipe = load_pipeline(runtime=RuntimeSettings(checkpoint=str(tiny_ckpt), device="cuda", offload=offload))

    def on_step(step: int, total: int, latents: torch.Tensor) -> None:
        # Step 0 checks the output for NaN and the scheduler finds its index (both once, on purpose).
        torch.cuda.set_sync_debug_mode("error" if step < total - 1 else "default")

    try:
        pipe.generate_video("a fox runs", image=IMG, num_frames=5, height=64, width=96, num_inference_steps=4,
                            guidance_scale=4.0, callback=on_step)  # fmt: skip
    finally:
        torch.cuda.set_sync_debug_mode("default")

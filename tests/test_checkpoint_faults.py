"""Damaged checkpoints: every malformed file or config value is a CheckpointError naming the file (and the key);
non-finite weights name the component and the tensor; a non-finite model output is a NonFiniteError."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from longcat_i2v.checkpoint import load_components, load_dit
from longcat_i2v.convert import convert_checkpoint
from longcat_i2v.errors import CheckpointError, NonFiniteError
from longcat_i2v.finite import check_finite_output, check_finite_weights, is_finite

DIT_WEIGHTS = "dit/diffusion_pytorch_model.safetensors"
VAE_WEIGHTS = "vae/diffusion_pytorch_model.safetensors"
TEXT_WEIGHTS = "text_encoder/model.safetensors"


@pytest.fixture()
def ckpt(tiny_ckpt, tmp_path) -> Path:
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, dst)
    return dst


def truncate(file: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = (root / file).read_bytes()
        (root / file).write_bytes(data[: int(len(data) * keep)])

    return damage


def overwrite(file: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / file).write_text(text)


def set_value(file: str, key: str, value: object) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        config = json.loads((root / file).read_text())
        config[key] = value
        (root / file).write_text(json.dumps(config))

    return damage


def poison(file: str, key: str, value: float) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        state = load_file(str(root / file))
        state[key] = state[key].clone()
        state[key].view(-1)[1] = value
        save_file(state, str(root / file))

    return damage


CASES = {
    "text encoder truncated": (truncate(TEXT_WEIGHTS), "text_encoder/model.safetensors is not a readable safetensors"),
    "text encoder header cut": (truncate(TEXT_WEIGHTS, 0.0), "text_encoder/model.safetensors is not a readable"),
    "VAE truncated": (truncate(VAE_WEIGHTS, 0.9), "vae/diffusion_pytorch_model.safetensors is not a readable"),
    "tokenizer.json corrupt": (overwrite("tokenizer/tokenizer.json", "{ broken"), "malformed JSON in .*tokenizer.json"),
    "tokenizer.json empty": (overwrite("tokenizer/tokenizer.json", "{}"), "cannot load tokenizer from .*tokenizer"),
    "model_index.json malformed": (overwrite("model_index.json", '{"a": '), "malformed JSON in .*model_index.json"),
    "model_index.json a list": (overwrite("model_index.json", "[]"), "model_index.json must hold a JSON object"),
    "num_heads -4": (set_value("dit/config.json", "num_heads", -4), "dit/config.json: 'num_heads' must be a positive"),
    "num_heads 0": (set_value("dit/config.json", "num_heads", 0), "'num_heads' must be a positive integer, got 0"),
    "num_heads true": (set_value("dit/config.json", "num_heads", True), "'num_heads' must be a positive integer"),
    "num_heads 4.0": (set_value("dit/config.json", "num_heads", 4.0), "'num_heads' must be a positive integer"),
    "hidden_size text": (set_value("dit/config.json", "hidden_size", "128"), "'hidden_size' must be a positive"),
    "depth 0": (set_value("dit/config.json", "depth", 0), "'depth' must be a positive integer, got 0"),
    "mlp_ratio -1": (set_value("dit/config.json", "mlp_ratio", -1), "'mlp_ratio' must be a positive integer"),
    "patch_size 2": (set_value("dit/config.json", "patch_size", 2), "'patch_size' must be a list of 3 positive"),
    "patch_size [2,2,2]": (set_value("dit/config.json", "patch_size", [2, 2, 2]), "'patch_size' must be \\[1, h, w\\]"),
    "zero_pad text": (set_value("dit/config.json", "text_tokens_zero_pad", "yes"), "'text_tokens_zero_pad' must be"),
    "hidden % heads": (set_value("dit/config.json", "num_heads", 3), "'hidden_size' 128 is not divisible by 'num_h"),
    "head_dim 4": (set_value("dit/config.json", "num_heads", 32), "= 4 must be a multiple of 8"),
    "VAE z_dim -1": (set_value("vae/config.json", "z_dim", -1), "vae/config.json: 'z_dim' must be a positive integer"),
    "VAE std 0": (set_value("vae/config.json", "latents_std", [0.0] * 16), "'latents_std' must be a non-empty list"),
    "VAE mean short": (set_value("vae/config.json", "latents_mean", [0.1] * 3), "'latents_mean' has 3 values, 'z_dim'"),
    "VAE z_dim 8": (set_value("vae/config.json", "z_dim", 8), "'latents_mean' has 16 values, 'z_dim' is 8"),
    "DiT in_channels 8": (set_value("dit/config.json", "in_channels", 8), "'in_channels' 8 does not match 'z_dim' 16"),
    "text d_model -1": (set_value("text_encoder/config.json", "d_model", -1), "text_encoder/config.json: 'd_model'"),
    "text d_model 32": (set_value("text_encoder/config.json", "d_model", 32), "'caption_channels' 64 does not match"),
    "scheduler shift": (set_value("scheduler/scheduler_config.json", "shift", "x"), "scheduler_config.json: 'shift'"),
    "scheduler shift NaN": (set_value("scheduler/scheduler_config.json", "shift", float("nan")), "finite number"),
    "DiT NaN": (poison(DIT_WEIGHTS, "blocks.1.ffn.w2.weight", float("nan")), "DiT weight 'blocks.1.ffn.w2.weight'"),
    "DiT inf": (poison(DIT_WEIGHTS, "x_embedder.proj.bias", float("-inf")), "dit/diffusion.*'x_embedder.proj.bias'"),
    "VAE NaN": (poison(VAE_WEIGHTS, "decoder.conv_in.weight", float("nan")), "vae: VAE weight 'decoder.conv_in.weig"),
    "text NaN": (poison(TEXT_WEIGHTS, "shared.weight", float("inf")), "text_encoder: text encoder weight 'shared"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_damaged_checkpoint_names_the_file_and_key(ckpt, name):
    damage, match = CASES[name]
    damage(ckpt)
    with pytest.raises(CheckpointError, match=match):
        load_components(ckpt)


def test_fastvideo_layout_names_its_own_key(ckpt, tmp_path):
    fastvideo = convert_checkpoint(ckpt, tmp_path / "longcat-i2v-fv")
    set_value("transformer/config.json", "num_attention_heads", -4)(fastvideo)
    with pytest.raises(CheckpointError, match="transformer/config.json: 'num_attention_heads' must be a positive"):
        load_components(fastvideo)


def test_weight_that_overflows_the_load_dtype_is_refused(ckpt):
    """A finite float32 value past float16's range becomes inf when cast: checked after the cast."""
    poison(DIT_WEIGHTS, "blocks.0.attn.qkv.weight", 1e6)(ckpt)
    assert isinstance(load_dit(ckpt / "dit", dtype=torch.float32), torch.nn.Module)
    with pytest.raises(CheckpointError, match="'blocks.0.attn.qkv.weight' holds NaN or infinite values \\(as float16"):
        load_dit(ckpt / "dit", dtype=torch.float16)


@pytest.mark.parametrize(
    "values,finite",
    [
        ([0.0, -60000.0, 3.0], True),  # near float16's largest
        ([1.0, float("nan"), 2.0], False),
        ([float("inf"), 0.0], False),
        ([0.0, float("-inf")], False),
        ([float("nan"), float("inf"), float("-inf")], False),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_is_finite_known_answers(values, finite, dtype):
    assert is_finite(torch.tensor(values).to(dtype)) is finite


def test_is_finite_on_other_tensors():
    assert is_finite(torch.tensor([], dtype=torch.float32))
    assert is_finite(torch.arange(5))
    assert not is_finite(torch.tensor([1 + 1j, complex(0, float("nan"))]))


def test_non_finite_output_names_the_component_and_step():
    out = torch.zeros(1, 16, 2, 4, 4)
    check_finite_output(out, "DiT", step=0)
    out[0, 3, 1, 2, 2] = float("nan")
    out[0, 5, 0, 0, 1] = float("inf")
    with pytest.raises(NonFiniteError, match="DiT's output at step 0 holds 1 NaN and 1 infinite values \\(of 512\\)"):
        check_finite_output(out, "DiT", step=0)
    with pytest.raises(NonFiniteError, match="the VAE's output holds"):
        check_finite_output(out.bfloat16(), "VAE")


def test_finite_weights_of_a_module(tiny_pipe):
    check_finite_weights(tiny_pipe.components.vae.named_parameters(), "VAE", "vae")
    broken = {"ok": torch.ones(3), "bad": torch.tensor([1.0, float("nan")])}
    with pytest.raises(CheckpointError, match="somewhere: VAE weight 'bad' holds NaN"):
        check_finite_weights(broken.items(), "VAE", "somewhere")

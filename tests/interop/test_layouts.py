"""FastVideo <-> original checkpoint layouts: the mapping table, conversion both ways, loading either layout."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from longcat_i2v import LongCatI2V
from longcat_i2v.cli import main
from longcat_i2v.convert import convert_checkpoint
from longcat_i2v.errors import CheckpointError, LoRAError
from longcat_i2v.layouts import (
    FASTVIDEO,
    HUB,
    convert_state,
    detect_layout,
    lora_to_fastvideo,
    lora_to_hub,
    read_lora,
)
from tests.conftest import PARITY_CKPT

FV_WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def fv_ckpt(tiny_ckpt, tmp_path_factory):
    return convert_checkpoint(tiny_ckpt, tmp_path_factory.mktemp("fv") / "ckpt")


def files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_round_trip_reproduces_every_file_byte_for_byte(tiny_ckpt, fv_ckpt, tmp_path):
    back = convert_checkpoint(fv_ckpt, tmp_path / "back")
    assert detect_layout(back) == HUB
    assert files(back) == files(tiny_ckpt)
    for rel in files(tiny_ckpt):
        assert (back / rel).read_bytes() == (tiny_ckpt / rel).read_bytes(), rel


def test_fastvideo_layout_names_and_split(tiny_ckpt, fv_ckpt):
    assert detect_layout(fv_ckpt) == FASTVIDEO
    index = json.loads((fv_ckpt / "model_index.json").read_text())
    assert index["_class_name"] == "LongCatImageToVideoPipeline" and "transformer" in index and "dit" not in index
    config = json.loads((fv_ckpt / "transformer" / "config.json").read_text())
    assert config["_class_name"] == "LongCatTransformer3DModel" and config["num_attention_heads"] == 4
    ours = load_file(str(tiny_ckpt / "dit" / "diffusion_pytorch_model.safetensors"))
    theirs = load_file(str(fv_ckpt / FV_WEIGHTS))
    assert not any("qkv" in k or "kv_linear" in k or "x_embedder" in k for k in theirs)
    qkv = torch.cat([theirs[f"blocks.1.self_attn.to_{p}.weight"] for p in "qkv"])
    assert torch.equal(qkv, ours["blocks.1.attn.qkv.weight"])
    kv = torch.cat([theirs[f"blocks.0.cross_attn.to_{p}.bias"] for p in "kv"])
    assert torch.equal(kv, ours["blocks.0.cross_attn.kv_linear.bias"])
    assert torch.equal(theirs["patch_embed.proj.weight"], ours["x_embedder.proj.weight"])
    assert torch.equal(theirs["final_layer.adaln_linear.weight"], ours["final_layer.adaLN_modulation.1.weight"])


def test_from_pretrained_on_fastvideo_layout_gives_the_same_video(tiny_pipe, fv_ckpt):
    pipe = LongCatI2V.from_pretrained(fv_ckpt)
    assert pipe.is_tiny
    theirs = pipe.dit.state_dict()
    for key, value in tiny_pipe.dit.state_dict().items():
        assert torch.equal(theirs[key], value), key
    image = Image.fromarray((np.random.RandomState(3).rand(48, 64, 3) * 255).astype(np.uint8))
    args = dict(
        image=image,
        num_frames=5,
        height=64,
        width=64,
        num_inference_steps=2,
        guidance_scale=4.0,
        seed=5,
        use_kv_cache=False,
    )
    # Without the K/V cache: its one-frame pass runs small matmuls whose CPU summation order depends on the
    # weights' memory alignment (two mmaps of the same numbers differ by ~7e-7 there); the same layout is exact.
    a = tiny_pipe.generate_video("a dog runs", **args)
    b = pipe.generate_video("a dog runs", **args)
    np.testing.assert_array_equal(a.frames, b.frames)


def test_state_dict_mapping_both_ways(tiny_pipe):
    state = tiny_pipe.dit.state_dict()
    fv = convert_state(state, HUB, FASTVIDEO)
    assert len(fv) == len(state) + 2 * (4 + 2)  # per block: qkv weight/bias -> 3 parts each, kv_linear -> 2 each
    back = convert_state(fv, FASTVIDEO, HUB)
    assert back.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(back[key], value) and back[key].dtype == value.dtype, key


def test_sharded_conversion_loads_and_comes_back_as_one_file(tiny_ckpt, tiny_pipe, tmp_path):
    fv = convert_checkpoint(tiny_ckpt, tmp_path / "fv", max_shard_bytes=300_000)
    shards = sorted(p.name for p in (fv / "transformer").glob("*.safetensors"))
    assert len(shards) > 1 and (fv / "transformer" / "diffusion_pytorch_model.safetensors.index.json").is_file()
    pipe = LongCatI2V.from_pretrained(fv)
    for key, value in tiny_pipe.dit.state_dict().items():
        assert torch.equal(pipe.dit.state_dict()[key], value), key
    back = convert_checkpoint(fv, tmp_path / "back")
    name = "dit/diffusion_pytorch_model.safetensors"
    assert (back / name).read_bytes() == (tiny_ckpt / name).read_bytes()


@pytest.fixture()
def fv_copy(fv_ckpt, tmp_path):
    return shutil.copytree(fv_ckpt, tmp_path / "fv")


def test_errors_name_the_fastvideo_keys(fv_copy):
    path = fv_copy / FV_WEIGHTS
    state = load_file(str(path))
    save_file({k: v for k, v in state.items() if k != "blocks.1.self_attn.to_v.weight"}, str(path))
    with pytest.raises(CheckpointError, match=r"missing 1 FastVideo key\(s\): blocks.1.self_attn.to_v.weight"):
        LongCatI2V.from_pretrained(fv_copy)
    save_file({k: v for k, v in state.items() if ".ffn.w2." not in k}, str(path))
    with pytest.raises(CheckpointError, match="missing 2 key.*blocks.0.ffn.w2.weight, blocks.1.ffn.w2.weight"):
        LongCatI2V.from_pretrained(fv_copy)
    save_file({**state, "blocks.0.self_attn.rope.freqs": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not in the mapping table: blocks.0.self_attn.rope.freqs"):
        LongCatI2V.from_pretrained(fv_copy)


def test_layout_detection_errors(fv_copy, tiny_ckpt, tmp_path):
    shutil.copytree(tiny_ckpt / "dit", fv_copy / "dit")
    with pytest.raises(CheckpointError, match="both dit/ .* and transformer/"):
        LongCatI2V.from_pretrained(fv_copy)
    shutil.rmtree(fv_copy / "dit")
    (fv_copy / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    with pytest.raises(CheckpointError, match="names pipeline 'WanImageToVideoPipeline'"):
        LongCatI2V.from_pretrained(fv_copy)
    with pytest.raises(CheckpointError, match="missing folder\\(s\\) dit, vae"):
        LongCatI2V.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("name", "folder"), [("cfg_step_lora.safetensors", "distilled"), ("refinement_lora.safetensors", "refinement")]
)
def test_lora_in_both_layouts(tiny_ckpt, fv_ckpt, name, folder):
    hub = read_lora(tiny_ckpt, name)
    assert (fv_ckpt / "lora" / folder / name).is_file() and not (fv_ckpt / "lora" / name).exists()
    from_fv = read_lora(fv_ckpt, name)
    assert from_fv.keys() == hub.keys()
    for key, value in hub.items():
        assert torch.equal(from_fv[key], value) and from_fv[key].shape == value.shape, key


def test_refinement_on_the_fastvideo_layout_gives_the_same_video(tiny_pipe, fv_ckpt):
    stage1 = (np.random.RandomState(4).rand(5, 32, 48, 3) * 255).astype(np.uint8)
    args = dict(num_cond_frames=0, height=64, width=64, attention="dense", seed=2)
    a = tiny_pipe.refine(stage1, "a dog", **args)
    b = LongCatI2V.from_pretrained(fv_ckpt).refine(stage1, "a dog", **args)
    np.testing.assert_array_equal(a.frames, b.frames)


def test_the_original_refinement_lora_converts_both_ways():
    """The parity checkpoint's refinement LoRA (the original's format, alpha_scale 0.5/0.25/1.0 per module)
    to FastVideo's and back, every tensor bit for bit."""
    hub = read_lora(PARITY_CKPT, "refinement_lora.safetensors")
    assert {float(v) for k, v in hub.items() if k.endswith("alpha_scale")} == {0.5, 0.25, 1.0}
    back = lora_to_hub(lora_to_fastvideo(hub))
    assert back.keys() == hub.keys()
    for key, value in hub.items():
        assert torch.equal(back[key], value) and back[key].dtype == value.dtype, key


def test_missing_lora_names_the_layouts(fv_copy):
    (fv_copy / "lora" / "refinement" / "refinement_lora.safetensors").unlink()
    message = (
        "LoRA file not found: .*lora/refinement/refinement_lora.safetensors .* is a fastvideo-layout checkpoint; "
        "the hub layout keeps it at lora/refinement_lora.safetensors; the fastvideo layout keeps it at "
        "lora/refinement/refinement_lora.safetensors"
    )
    with pytest.raises(LoRAError, match=message):
        read_lora(fv_copy, "refinement_lora.safetensors")


def test_lora_conversion_splits_fused_layers(tiny_ckpt):
    hub = read_lora(tiny_ckpt, "cfg_step_lora.safetensors")
    fv = lora_to_fastvideo(hub)
    prefix = "lora___lorahyphen___blocks___lorahyphen___0___lorahyphen___attn___lorahyphen___qkv"
    down = hub[f"{prefix}.lora_down.weight"]
    assert torch.equal(fv["blocks.0.self_attn.to_k.lora_A"], down.chunk(3)[1])
    assert torch.equal(fv["blocks.0.self_attn.to_k.lora_B"], hub[f"{prefix}.lora_up.blocks.1.weight"])
    assert float(fv["blocks.0.self_attn.to_k.lora_alpha"]) == float(hub[f"{prefix}.alpha_scale"]) * down.shape[0] / 3


def test_cli_convert(tiny_ckpt, tmp_path, capsys):
    dst = tmp_path / "fv"
    assert main(["convert", str(tiny_ckpt), str(dst)]) == 0
    assert "hub layout -> fastvideo layout" in capsys.readouterr().out
    assert main(["convert", str(tiny_ckpt), str(dst)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(dst), str(tmp_path / "again"), "--to", "fastvideo"]) == 2
    assert "already in the fastvideo layout" in capsys.readouterr().err
    assert main(["convert", str(dst), str(tmp_path / "hub")]) == 0
    assert detect_layout(tmp_path / "hub") == HUB

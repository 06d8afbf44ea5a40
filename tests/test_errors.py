"""Bad inputs and broken checkpoints: a specific exception that names the value and what is allowed."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from longcat_i2v import LongCatI2V
from longcat_i2v.errors import CheckpointError, ImageInputError, InvalidInputError, LoRAError
from longcat_i2v.images import load_image
from longcat_i2v.lora import fit_lora, read_lora_file

IMG = Image.fromarray(np.full((40, 60, 3), 128, np.uint8))
SMALL = {"num_frames": 5, "height": 32, "width": 32, "num_inference_steps": 1}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_frames": 10}, "4k\\+1"),
        ({"num_frames": 0}, "4k\\+1"),
        ({"height": 100, "width": 64}, "multiple of 16"),
        ({"height": 64, "width": None}, "both height and width"),
        ({"num_inference_steps": 0}, ">= 1"),
        ({"guidance_scale": -1.0}, ">= 0"),
        ({"cond_rope": "off"}, "cond_rope"),
        ({"seed": -3}, "seed"),
        ({"max_sequence_length": 0}, "max_sequence_length"),
    ],
)
def test_bad_generation_arguments(tiny_pipe, kwargs, match):
    args = {**SMALL, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        tiny_pipe.generate_video("a cat", image=IMG, **args)


def test_unknown_resolution(tiny_pipe):
    with pytest.raises(InvalidInputError, match="1080p.*480p, 720p"):
        tiny_pipe.generate_video("a cat", image=IMG, num_frames=5, resolution="1080p", num_inference_steps=1)


def test_missing_image(tiny_pipe):
    with pytest.raises(InvalidInputError, match="image is required"):
        tiny_pipe.generate_video("a cat", num_frames=5)


def test_image_inputs(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(text)
    with pytest.raises(ImageInputError, match="not found"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ImageInputError, match="zero size"):
        load_image(Image.new("RGB", (0, 5)))
    big = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(big)
    with pytest.raises(ImageInputError, match="300x200 = 60000 pixels; at most 50000"):
        load_image(big, max_pixels=50_000)
    with pytest.raises(ImageInputError, match="only http:// and https://"):
        load_image("ftp://example.com/a.png")
    truncated = tmp_path / "cut.png"
    Image.new("RGB", (64, 64), "red").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageInputError):
        load_image(truncated)
    assert load_image(Image.new("RGBA", (4, 3))).mode == "RGB"


def test_decompression_bomb_refused_at_open(tmp_path, monkeypatch):
    """PIL refuses far-too-large images already when opening them; that must still be an ImageInputError."""
    path = tmp_path / "bomb.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL raises above twice this
    with pytest.raises(ImageInputError, match="more than"):
        load_image(path, max_pixels=10**9)


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with an EXIF rotation comes out upright, as diffusers' load_image does."""
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.new("RGB", (60, 40), "green").save(path, exif=exif)
    assert load_image(path).size == (40, 60)


def test_image_url_is_fetched_over_http(tmp_path):
    """A local http server (loopback only, hence allow_private_urls) serves a PNG and a non-image."""
    import http.server
    import threading

    Image.new("RGB", (20, 10), "blue").save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_text("<html>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert load_image(f"{base}/ok.png", allow_private_urls=True).size == (20, 10)
        with pytest.raises(ImageInputError, match="not an image"):
            load_image(f"{base}/bad.png", allow_private_urls=True)
        with pytest.raises(ImageInputError, match="larger than"):
            load_image(f"{base}/ok.png", max_bytes=10, allow_private_urls=True)
        with pytest.raises(ImageInputError, match="cannot fetch.*HTTP 404"):
            load_image(f"{base}/absent.png", allow_private_urls=True)
    finally:
        server.shutdown()


@pytest.fixture()
def ckpt_copy(tiny_ckpt, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, dst)
    return dst


def test_missing_checkpoint_and_component(tmp_path, ckpt_copy):
    with pytest.raises(CheckpointError, match="not found"):
        LongCatI2V.from_pretrained(tmp_path / "nowhere")
    shutil.rmtree(ckpt_copy / "vae")
    with pytest.raises(CheckpointError, match="missing folder\\(s\\) vae"):
        LongCatI2V.from_pretrained(ckpt_copy)


def test_malformed_config(ckpt_copy):
    (ckpt_copy / "dit" / "config.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="malformed JSON in .*dit/config.json"):
        LongCatI2V.from_pretrained(ckpt_copy)


def test_config_weight_mismatch(ckpt_copy):
    cfg_path = ckpt_copy / "dit" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["hidden_size"] = 64
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape .* config and weights disagree"):
        LongCatI2V.from_pretrained(ckpt_copy)


def test_missing_and_extra_weight_keys(ckpt_copy):
    path = ckpt_copy / "dit" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(path))
    del state["blocks.1.ffn.w2.weight"]
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="missing 1 key.*blocks.1.ffn.w2.weight"):
        LongCatI2V.from_pretrained(ckpt_copy)
    state["blocks.7.ffn.w2.weight"] = torch.zeros(1)
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="blocks.7.ffn.w2.weight.*no place"):
        LongCatI2V.from_pretrained(ckpt_copy)


def test_sharded_dit_loads_like_single_file(ckpt_copy, tiny_pipe):
    dit_dir = ckpt_copy / "dit"
    state = load_file(str(dit_dir / "diffusion_pytorch_model.safetensors"))
    keys = sorted(state)
    shards = {
        "diffusion_pytorch_model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "diffusion_pytorch_model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    for name, names in shards.items():
        save_file({k: state[k] for k in names}, str(dit_dir / name))
    index = {"weight_map": {k: name for name, names in shards.items() for k in names}}
    (dit_dir / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
    (dit_dir / "diffusion_pytorch_model.safetensors").unlink()
    sharded = LongCatI2V.from_pretrained(ckpt_copy)
    for k, v in tiny_pipe.dit.state_dict().items():
        assert torch.equal(sharded.dit.state_dict()[k], v), k
    (dit_dir / "diffusion_pytorch_model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="shard\\(s\\) named in .* missing: diffusion_pytorch_model-00002"):
        LongCatI2V.from_pretrained(ckpt_copy)


def load_lora(path, model):
    return fit_lora(read_lora_file(path), model, str(path))


def test_lora_that_does_not_fit(tiny_pipe, tmp_path, tiny_ckpt):
    state = load_file(str(tiny_ckpt / "lora" / "cfg_step_lora.safetensors"))
    key = next(k for k in state if k.endswith("attn___lorahyphen___proj.lora_down.weight"))
    bad = dict(state)
    bad[key] = torch.zeros(4, 7)
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(LoRAError, match="lora_down is \\[4, 7\\], the layer takes 128 inputs"):
        load_lora(tmp_path / "bad.safetensors", tiny_pipe.dit)
    other = {k.replace("blocks___lorahyphen___0", "blocks___lorahyphen___9"): v for k, v in state.items()}
    save_file(other, str(tmp_path / "other.safetensors"))
    with pytest.raises(LoRAError, match="blocks.9.* no such module"):
        load_lora(tmp_path / "other.safetensors", tiny_pipe.dit)
    with pytest.raises(LoRAError, match="not found"):
        load_lora(tmp_path / "absent.safetensors", tiny_pipe.dit)

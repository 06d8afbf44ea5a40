"""Offload modes: the same frames as "none" (bit-identical on CPU), with each component's weights on the device
only while it works, counted (an offloaded weight is a meta tensor); chunked VAE decoding; the prompt cache."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from longcat_i2v import LongCatI2V, load_pipeline
from longcat_i2v.checkpoint import load_components
from longcat_i2v.errors import GenerationCancelled
from longcat_i2v.offload import Placement
from longcat_i2v.prompt_cache import PromptCache
from longcat_i2v.settings import RuntimeSettings
from longcat_i2v.vae_decode import decode_frames

IMG = Image.fromarray((np.random.RandomState(3).rand(60, 90, 3) * 255).astype(np.uint8))
SIZE = {"num_frames": 5, "height": 64, "width": 96, "num_inference_steps": 2, "seed": 7}
RUNS = {"cfg": {"guidance_scale": 4.0}, "distill": {"distill": True}}  # CFG batch 2; no CFG, with the LoRA


def _resident(module: nn.Module, recurse: bool = False) -> bool:
    return not any(p.is_meta for p in module.parameters(recurse=recurse))


def _block_resident(block: nn.Module) -> bool:
    return _resident(block, recurse=True)


def _on_device(model: nn.Module) -> list[bool]:
    return [not p.is_meta for p in model.parameters()]


@pytest.fixture(scope="module")
def reference(tiny_pipe):
    return {name: tiny_pipe.generate_video("a fox runs", image=IMG, **SIZE, **kw).frames for name, kw in RUNS.items()}


@pytest.mark.parametrize("mode", ["model", "group", "sequential"])
def test_every_mode_gives_the_frames_of_none(tiny_ckpt, reference, mode):
    pipe = load_pipeline(runtime=RuntimeSettings(checkpoint=str(tiny_ckpt), offload=mode))
    assert pipe.offload == mode
    for name, kw in RUNS.items():
        frames = pipe.generate_video("a fox runs", image=IMG, **SIZE, **kw).frames
        assert np.array_equal(frames, reference[name]), (mode, name)
    assert not any(_on_device(pipe.dit)), "the DiT stays offloaded once the VAE decodes"


def _deep_pipe(ckpt, mode: str) -> LongCatI2V:
    """The tiny checkpoint with its two DiT blocks repeated (4 blocks), so that "two blocks resident" is not
    "all of them"."""
    components = load_components(ckpt)
    dit = components.dit
    dit.blocks = nn.ModuleList(copy.deepcopy(b) for b in [*dit.blocks, *dit.blocks])
    return LongCatI2V(components, "cpu", placement=Placement(components, "cpu", mode))


def _generate(pipe: LongCatI2V) -> np.ndarray:
    return pipe.generate_video("a fox runs", image=IMG, **SIZE, **RUNS["cfg"]).frames


@pytest.fixture(scope="module")
def deep_reference(tiny_ckpt):
    return _generate(_deep_pipe(tiny_ckpt, "none"))


def test_group_streams_blocks_two_at_a_time(tiny_ckpt, deep_reference):
    pipe = _deep_pipe(tiny_ckpt, "group")
    blocks = list(pipe.dit.blocks)
    seen: list[tuple[bool, int]] = []
    for block in blocks:  # registered after the offload hooks: they see what the block computes with
        block.register_forward_pre_hook(
            lambda m, a: seen.append((_block_resident(m), sum(map(_block_resident, blocks))))
        )
    assert np.array_equal(_generate(pipe), deep_reference)
    assert seen and all(running for running, _ in seen)
    assert max(count for _, count in seen) == 2 < len(blocks)  # the running block and the one being fetched
    assert not any(map(_block_resident, blocks))


def test_sequential_holds_one_layer_at_a_time(tiny_ckpt, deep_reference):
    pipe = _deep_pipe(tiny_ckpt, "sequential")
    owners = [m for m in pipe.dit.modules() if any(True for _ in m.parameters(recurse=False))]
    seen: list[tuple[bool, int]] = []
    for layer in pipe.dit.modules():
        if isinstance(layer, nn.Linear):
            layer.register_forward_pre_hook(lambda m, a: seen.append((_resident(m), sum(map(_resident, owners)))))
    assert np.array_equal(_generate(pipe), deep_reference)
    assert seen and all(running for running, _ in seen)
    # The running Linear, and inside a block the LayerNorm its forward reads (layer_norm_fp32): at most two.
    assert max(count for _, count in seen) <= 2 < len(owners)
    assert pipe.placement.text_device == torch.device("cpu")


def test_model_mode_holds_one_component_at_a_time(tiny_ckpt):
    pipe = _deep_pipe(tiny_ckpt, "model")
    c = pipe.components
    seen = {}

    def record(stage: str, working: nn.Module, others: tuple[nn.Module, ...]):
        def hook(module: nn.Module, args: tuple) -> None:
            seen.setdefault(stage, (all(_on_device(working)), *(any(_on_device(o)) for o in others)))

        return hook

    c.dit.blocks[0].register_forward_pre_hook(record("denoise", c.dit, (c.vae, c.text_encoder)))
    c.vae.decoder.register_forward_pre_hook(record("decode", c.vae, (c.dit, c.text_encoder)))
    _generate(pipe)
    assert seen == {"denoise": (True, False, False), "decode": (True, False, False)}


def test_text_encoder_device_keeps_it_there_and_prompts_are_encoded_once(tiny_ckpt, reference):
    pipe = LongCatI2V.from_pretrained(tiny_ckpt, offload="model", text_encoder_device="cpu")
    calls = []
    pipe.components.text_encoder.register_forward_hook(lambda m, i, o: calls.append(1))
    for _ in range(2):
        assert np.array_equal(
            pipe.generate_video("a fox runs", image=IMG, **SIZE, **RUNS["cfg"]).frames, reference["cfg"]
        )
    assert len(calls) == 1 and all(_on_device(pipe.components.text_encoder))  # never offloaded
    pipe.encode_text("another prompt", None, True, 512)
    assert len(calls) == 2


def test_prompt_cache_is_bounded_and_hands_out_copies():
    cache, made = PromptCache(size=2), []

    def encode(key):
        made.append(key)
        return torch.full((2,), float(key)), torch.ones(2)

    a, _ = cache.get(1, lambda: encode(1))
    a += 5  # a copy: the cached value is untouched
    assert cache.get(1, lambda: encode(1))[0].tolist() == [1.0, 1.0] and made == [1]
    cache.get(2, lambda: encode(2))
    cache.get(3, lambda: encode(3))  # evicts 1, the least recently used
    cache.get(1, lambda: encode(1))
    assert made == [1, 2, 3, 1] and len(cache) == 2


def test_chunked_decode_gives_the_frames_of_vae_decode(parity_pipe):
    vae = parity_pipe.components.vae
    z = torch.randn(1, 16, 5, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = vae.decode(z, return_dict=False)[0]
    expected = (whole.float() / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 3, 0).numpy()
    reports = []
    frames = decode_frames(vae, z, lambda k, n: reports.append((k, n)), chunk=2)
    assert frames.shape == (17, 32, 32, 3) and np.array_equal(frames, expected)
    assert reports == [(1, 3), (2, 3), (3, 3)]


def test_decode_reports_chunks_and_a_cancel_stops_between_them(parity_pipe):
    z = torch.randn(1, 16, 5, 4, 4, generator=torch.Generator().manual_seed(0))  # 2 chunks of 4 latent frames
    events = []

    def progress(event):
        events.append((event.phase, event.step, event.total))
        if event.step == 1:
            raise GenerationCancelled("stop")

    calls = []
    handle = parity_pipe.components.vae.decoder.register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        with pytest.raises(GenerationCancelled):
            parity_pipe.decode(z, progress)
    finally:
        handle.remove()
    assert events == [("decoding", 0, 2), ("decoding", 1, 2)]
    assert len(calls) == 4  # the first chunk's 4 latent frames, then nothing
    assert all(f is None for f in parity_pipe.components.vae._feat_map)  # the feature cache is released

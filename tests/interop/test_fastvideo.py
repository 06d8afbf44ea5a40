"""FastVideo 0.2.1's LongCat I2V pipeline next to ours on the tiny checkpoint, from the same latents.

Measured on CPU in float32 (printed, and recorded as junit properties): FastVideo's DiT, text encoder and VAE
compute exactly what ours do; the whole difference comes from its denoising stage rounding the DiT inputs
(latents and timesteps) to bfloat16, which it hard-codes on every device.
"""

import numpy as np
import pytest
import torch
from PIL import Image

import longcat_i2v  # noqa: F401  (declares torchvision's op schemas before fastvideo imports torchvision)
from longcat_i2v import conditioning
from longcat_i2v.layouts import FASTVIDEO, HUB, convert_state

pytestmark = pytest.mark.fastvideo
pytest.importorskip("fastvideo", reason="needs the fastvideo extra (pip install '.[fastvideo]', see README)")

from interop.fastvideo_engine import FastVideoEngine  # noqa: E402

PROMPT = "a cat walks across a wooden table"
SIZE = dict(num_frames=5, height=64, width=64)


@pytest.fixture(scope="module", autouse=True)
def conversion_cache(tmp_path_factory):
    """The engine converts the tiny checkpoint to FastVideo's layout in the cache: keep that in a temp dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LONGCAT_I2V_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def engine(tiny_ckpt):
    eng = FastVideoEngine(tiny_ckpt, "fp32")
    assert eng.checkpoint_dir.name.endswith("-longcat-i2v") and (eng.checkpoint_dir / "transformer").is_dir()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def image():
    return Image.fromarray((np.random.RandomState(0).rand(64, 64, 3) * 255).astype(np.uint8))


def round_dit_inputs_to_bf16(_module, args, kwargs):
    """What FastVideo's LongCat denoising stage does to the DiT's latents and timesteps."""
    return (args[0].bfloat16().float(), args[1].bfloat16().float(), *args[2:]), kwargs


def diff(a, b) -> tuple[float, float]:
    d = (torch.as_tensor(a).float() - torch.as_tensor(b).float()).abs()
    return d.max().item(), d.mean().item()


def test_fastvideo_model_holds_the_mapped_weights(engine, tiny_pipe):
    mapped = convert_state(tiny_pipe.dit.state_dict(), HUB, FASTVIDEO)
    theirs = engine.transformer.state_dict()
    assert set(theirs) == set(mapped)
    for key, value in mapped.items():
        assert torch.equal(theirs[key], value), key


@pytest.mark.filterwarnings("ignore:CUDA is not available:UserWarning")
def test_dit_forward_matches_on_identical_inputs(engine, tiny_pipe, image):
    from fastvideo.forward_context import set_forward_context

    latents = tiny_pipe.prepare_latents(
        conditioning.image_to_pixels(image, 64, 64), 5, torch.Generator().manual_seed(1)
    ).repeat(2, 1, 1, 1, 1)
    t = torch.tensor([[0.0, 1000.0], [0.0, 637.5]])
    text, mask = tiny_pipe.encode_text(PROMPT, None, True, 512)
    with torch.no_grad(), set_forward_context(current_timestep=0, attn_metadata=None):
        theirs = engine.transformer(
            hidden_states=latents, encoder_hidden_states=text[:, 0], timestep=t, encoder_attention_mask=mask,
            num_cond_latents=1,
        )  # fmt: skip
        ours = tiny_pipe.dit(latents, t, text, mask, num_cond_latents=1)
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)


def test_same_noise_difference_is_fastvideos_bf16_input_rounding(engine, tiny_pipe, image, record_property):
    args = dict(image=image, negative_prompt=None, num_inference_steps=2, guidance_scale=4.0, seed=7, **SIZE)
    ours = tiny_pipe.generate_video(PROMPT, **args)
    run = engine.generate(image, PROMPT, steps=2, guidance=4.0, seed=7, **SIZE)

    start = tiny_pipe.prepare_latents(conditioning.image_to_pixels(image, 64, 64), 5, torch.Generator().manual_seed(7))
    assert torch.equal(run.dit_inputs["hidden_states"][:1], start.bfloat16().float())  # same noise, rounded
    text, mask = tiny_pipe.encode_text(PROMPT, None, True, 512)
    assert torch.equal(run.dit_inputs["encoder_attention_mask"], mask)
    valid = mask.bool()
    assert torch.equal(run.dit_inputs["encoder_hidden_states"][valid], text[:, 0][valid])  # padding: zeros there

    lat, frames = diff(run.latents, ours.latents), diff(run.frames, ours.frames)
    for name, (mx, mean) in {"latents": lat, "frames": frames}.items():
        record_property(f"fastvideo_vs_native_{name}_max", mx)
        record_property(f"fastvideo_vs_native_{name}_mean", mean)
    print(f"\nFastVideo vs native (fp32, same noise): latents max {lat[0]:.3e} mean {lat[1]:.3e}; "
          f"frames max {frames[0]:.3e} mean {frames[1]:.3e}")  # fmt: skip
    assert 0 < lat[0] < 0.05 and frames[0] < 0.01
    assert len(run.step_seconds) == 2 and all(s > 0 for s in run.step_seconds)

    hook = tiny_pipe.dit.register_forward_pre_hook(round_dit_inputs_to_bf16, with_kwargs=True)
    try:  # FastVideo's layout (no K/V cache): op-order noise of 1e-6 would flip bf16 roundings of later inputs
        emulated = tiny_pipe.generate_video(PROMPT, **args, use_kv_cache=False)
    finally:
        hook.remove()
    torch.testing.assert_close(run.latents, emulated.latents, atol=1e-5, rtol=0)
    np.testing.assert_allclose(run.frames, emulated.frames, atol=1e-5, rtol=0)


def test_distill_lora_converted_for_fastvideo_matches_ours(tiny_ckpt, tiny_pipe, image):
    engine = FastVideoEngine(tiny_ckpt, "fp32", distill=True)
    try:
        run = engine.generate(image, PROMPT, steps=3, guidance=1.0, seed=11, **SIZE)
    finally:
        engine.close()
    hook = tiny_pipe.dit.register_forward_pre_hook(round_dit_inputs_to_bf16, with_kwargs=True)
    try:  # FastVideo's layout (no K/V cache), so that op-order noise cannot flip a bf16 rounding of the inputs
        kw = dict(image=image, num_inference_steps=3, seed=11, use_kv_cache=False, **SIZE)
        ours = tiny_pipe.generate_video(PROMPT, distill=True, **kw)
        base = tiny_pipe.generate_video(PROMPT, guidance_scale=1.0, **kw)
    finally:
        hook.remove()
    torch.testing.assert_close(run.latents, ours.latents, atol=1e-5, rtol=0)
    assert diff(run.latents, base.latents)[0] > 1e-2  # the LoRA was in effect

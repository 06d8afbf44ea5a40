"""End to end: generate_video on the parity checkpoint reproduces the original generate_i2v."""

import numpy as np
import pytest
import torch

from longcat_i2v.conditioning import image_to_pixels
from longcat_i2v.images import load_image
from tests.conftest import PARITY, load_case

SMALL = ["i2v_small_cfg", "i2v_small_distill"]


def run_case(pipe, meta, explicit_size: bool, **changes):
    steps = []
    size = {"height": meta["height"], "width": meta["width"]} if explicit_size else {}
    out = pipe.generate_video(
        meta["prompt"],
        image=str(PARITY / "cases" / meta["input_image"]),
        negative_prompt=meta["negative_prompt"],
        num_frames=meta["num_frames"],
        resolution=meta["resolution"],
        num_inference_steps=meta["num_inference_steps"],
        guidance_scale=meta["guidance_scale"],
        distill=meta["use_distill"],
        generator=torch.Generator("cpu").manual_seed(meta["seed"]),
        max_sequence_length=meta["max_sequence_length"],
        callback=lambda i, n, latents: steps.append(latents.clone()),
        **size,
        **changes,
    )
    return out, steps


def assert_uint8_close(ours: np.ndarray, ref: np.ndarray) -> None:
    """At most one level apart, on at most 0.1 % of the values (the parity README's bar)."""
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    assert diff.max() <= 1
    assert (diff > 0).mean() <= 1e-3


@pytest.mark.parametrize("case", SMALL)
def test_small_case_every_step(parity_pipe, case):
    """The small tables are the tiny bucket table of the case json: pass its size explicitly."""
    meta, ref = load_case(case)
    out, steps = run_case(parity_pipe, meta, explicit_size=True)
    assert len(steps) == meta["num_inference_steps"]
    for i, latents in enumerate(steps):
        torch.testing.assert_close(latents, ref[f"latents_step{i}"], atol=1e-3, rtol=0)
    torch.testing.assert_close(out.latents, ref["final_latents"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(out.frames, ref["video"][0].numpy(), atol=1e-3, rtol=0)
    assert_uint8_close((out.frames * 255).astype(np.uint8), ref["video_uint8"].numpy())


@pytest.mark.parametrize("case", SMALL)
def test_small_case_conditioning_and_text(parity_pipe, case):
    """The first DiT input (noise, posterior sample, frame-0 latent) and the prompt embeddings."""
    meta, ref = load_case(case)
    pil = load_image(PARITY / "cases" / meta["input_image"])
    pixels = image_to_pixels(pil, meta["height"], meta["width"])
    torch.testing.assert_close(pixels, ref["cond_pixels"], atol=1e-6, rtol=0)
    latents = parity_pipe.prepare_latents(pixels, meta["num_frames"], torch.Generator("cpu").manual_seed(meta["seed"]))
    torch.testing.assert_close(latents[:, :, 1:], ref["noise"][:, :, 1:], atol=0, rtol=0)
    torch.testing.assert_close(latents[:, :, :1], ref["cond_latent"], atol=1e-4, rtol=0)
    torch.testing.assert_close(latents, ref["latents_init"], atol=1e-4, rtol=0)
    use_cfg = meta["guidance_scale"] > 1
    embeds, mask = parity_pipe.encode_text(
        meta["prompt"], meta["negative_prompt"], use_cfg, meta["max_sequence_length"]
    )
    assert torch.equal(mask, ref["prompt_attention_mask"])
    torch.testing.assert_close(embeds, ref["prompt_embeds"], atol=1e-5, rtol=1e-5)


def test_480p_bucket_case(parity_pipe):
    """Bucket choice from the original 480p table, then final latents and uint8 frames."""
    meta, ref = load_case("i2v_480p")
    out, _ = run_case(parity_pipe, meta, explicit_size=False)
    assert (out.height, out.width) == (meta["height"], meta["width"])
    assert list(out.latents.shape) == meta["latent_shape"]
    torch.testing.assert_close(out.latents, ref["final_latents"], atol=1e-3, rtol=0)
    frames = (out.frames * 255).astype(np.uint8)
    assert_uint8_close(frames[meta["video_uint8_sel_frames"]], ref["video_uint8_sel"].numpy())
    sums = frames.reshape(len(frames), -1).sum(axis=1, dtype=np.int64)
    bound = 1e-3 * meta["height"] * meta["width"] * 3
    assert np.abs(sums - np.array(meta["video_uint8_frame_sums"])).max() <= bound

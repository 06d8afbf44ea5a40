"""End to end: ``refine`` on the parity checkpoint reproduces the original ``generate_refine`` (refine_* cases):
the random draws, the first DiT input, every step's latents and the frames. With rng="original" the draws come
from torch's global RNG as the original makes them, seeded right before the call as the cases were made."""

import numpy as np
import pytest
import torch

from longcat_i2v import conditioning, defaults, refinement, refiner
from tests.conftest import PARITY, load_case
from tests.parity.test_i2v import assert_uint8_close

CASES = ["refine_i2v", "refine_vc_sro", "refine_nocond", "refine_i2v_sro_bsa"]


def run_case(pipe, name: str):
    """The case's call, recording every draw and every step's latents."""
    meta, ref = load_case(name)
    draws: dict[str, torch.Tensor] = {}
    steps: list[torch.Tensor] = []
    up, cond, loop = refinement.noise_source, conditioning.randn, refiner.denoise

    def recording_source(rng, generator):
        draw = up(rng, generator)

        def recorded(shape, dtype, device):
            x = draw(shape, dtype, device)
            draws["up_posterior_eps" if "up_posterior_eps" not in draws else "noise_up"] = x.clone()
            return x

        return recorded

    def recording_randn(*args, **kwargs):
        draws["cond_posterior_eps"] = cond(*args, **kwargs).clone()
        return draws["cond_posterior_eps"]

    def recording_denoise(model, latents, *args):
        draws["latents_init"] = latents.clone()
        return loop(model, latents, *args)

    kwargs = {}
    if meta["cond"] == "image":
        kwargs["image"] = str(PARITY / "cases" / meta["input_image"])
    elif meta["cond"] == "video":
        kwargs["video"] = ref["cond_video_uint8"].numpy()
    patch = pytest.MonkeyPatch()
    patch.setattr(refinement, "noise_source", recording_source)
    patch.setattr(conditioning, "randn", recording_randn)
    patch.setattr(refiner, "denoise", recording_denoise)
    try:
        torch.manual_seed(meta["global_seed"])
        out = pipe.refine(
            ref["stage1_video_uint8"].numpy(),
            prompt=meta["prompt"],
            num_cond_frames=meta["num_cond_frames"],
            num_inference_steps=meta["num_inference_steps"],
            t_thresh=meta["t_thresh"],
            spatial_refine_only=meta["spatial_refine_only"],
            height=meta["height"],
            width=meta["width"],
            generator=torch.Generator("cpu").manual_seed(meta["seed"]),
            rng="original",
            attention="bsa" if meta.get("bsa") else "dense",
            max_sequence_length=meta["max_sequence_length"],
            callback=lambda i, n, latents: steps.append(latents.clone()),
            **kwargs,
        )
    finally:
        patch.undo()
    return meta, ref, out, draws, steps


@pytest.fixture(scope="module", params=CASES)
def case_run(request, parity_pipe):
    return run_case(parity_pipe, request.param)


@pytest.mark.slow
def test_draws_and_first_input(case_run):
    """The global-RNG draws (posterior ε of the up-sampled video, then the mixing noise), the generator's
    conditioning ε, and the first DiT input (the mix with the conditioning latents in front)."""
    meta, ref, _, draws, _ = case_run
    expected = ["up_posterior_eps", "noise_up"] + (["cond_posterior_eps"] if meta["num_cond_frames"] else [])
    assert sorted(draws) == sorted([*expected, "latents_init"])
    for name in expected:
        assert torch.equal(draws[name], ref[name]), name
    assert list(draws["latents_init"].shape) == meta["latent_shape"]
    atol = meta["tolerance"]["latents_atol"]
    torch.testing.assert_close(draws["latents_init"], ref["latents_init"], atol=atol, rtol=0)


@pytest.mark.slow
def test_every_step_and_the_frames(case_run):
    meta, ref, out, _, steps = case_run
    tol = meta["tolerance"]
    assert len(steps) == meta["dit_calls"] == 5
    for i, latents in enumerate(steps):
        torch.testing.assert_close(latents, ref[f"latents_step{i}"], atol=tol["latents_atol"], rtol=0)
    torch.testing.assert_close(out.latents, ref["latents_step4"], atol=tol["latents_atol"], rtol=0)
    assert out.frames.shape == (meta["output_frames"], meta["height"], meta["width"], 3)
    assert out.fps == (15 if meta["spatial_refine_only"] else 30)
    frames = (out.frames * 255).astype(np.uint8)
    if "video_uint8" in ref:
        assert_uint8_close(frames, ref["video_uint8"].numpy())
    sums = frames.reshape(len(frames), -1).sum(axis=1, dtype=np.int64)
    bound = 1e-3 * meta["height"] * meta["width"] * 3
    assert np.abs(sums - np.array(meta["video_uint8_frame_sums"])).max() <= bound
    np.testing.assert_allclose(out.frames.mean(axis=(1, 2, 3)), meta["video_frame_means"], atol=tol["video_atol"])
    assert out.refine_settings.spatial_refine_only == meta["spatial_refine_only"]


def test_bsa_case_needs_block_sparse_attention(parity_pipe):
    """One step from the case's stored first input, through the denoiser refine builds: BSA gives the original's
    step-0 latents, dense attention misses them by far, so the end-to-end BSA case cannot pass on a refinement
    that silently runs dense."""
    meta, ref = load_case("refine_i2v_sro_bsa")
    ncl, sigmas, x = meta["num_cond_latents"], ref["sigmas"], ref["latents_init"]
    tol = meta["tolerance"]["latents_atol"]
    errors = {}
    with torch.no_grad(), parity_pipe.lora_enabled(defaults.REFINEMENT_LORA_NAME):
        for attention in ("bsa", "dense"):
            model = parity_pipe.model(
                ref["prompt_embeds"], ref["prompt_attention_mask"], num_cond_latents=ncl, attention=attention
            )
            pred = model(x, ref["dit_timestep_step0"])
            step = x.clone()
            step[:, :, ncl:] += (sigmas[1] - sigmas[0]) * -pred[:, :, ncl:]
            errors[attention] = (step - ref["latents_step0"]).abs().max().item()
    assert errors["bsa"] <= tol
    assert errors["dense"] > 10 * tol, errors

"""The refinement's stages on constructed inputs (padding, up-sampling, schedule, size, windows), its errors, the
refinement LoRA's scope, and the chains on the tiny checkpoint."""

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v import LongCatI2V, defaults, refinement
from longcat_i2v.errors import GenerationCancelled, InvalidInputError, LoRAError
from longcat_i2v.schedule import set_schedule, truncate_schedule
from longcat_i2v.settings import RefineSettings
from longcat_i2v.video import to_uint8
from tests.conftest import load_case

RNG = np.random.RandomState(7)
IMAGE = Image.fromarray((RNG.rand(48, 64, 3) * 255).astype(np.uint8))
STAGE1 = (RNG.rand(5, 48, 64, 3) * 255).astype(np.uint8)
SMALL = {"height": 64, "width": 64, "attention": "dense", "seed": 3}


@pytest.mark.parametrize(
    ("frames", "ncf", "factor", "expected"),
    [
        # (frames, cond_frames, front, back, cond_latents, noise_latents): the parity README's table
        (9, 1, 2, (18, 1, 12, 15, 4, 8)),  # refine_i2v: 13 + 32 = 45 frames, T = 12
        (13, 5, 1, (13, 5, 8, 8, 4, 4)),  # refine_vc_sro: 29 frames, T = 8
        (13, 0, 2, (26, 0, 0, 6, 0, 8)),  # refine_nocond: 32 frames (the VAE keeps 29), T = 8
        (9, 1, 1, (9, 1, 12, 8, 4, 4)),  # refine_i2v_sro_bsa: 29 frames, T = 8
        (93, 26, 2, (186, 26, 3, 0, 8, 40)),  # a long video's later segment: 26 of 186 frames carried over
    ],
)
def test_layout_pads_to_whole_blocks_of_four_latents(frames, ncf, factor, expected):
    layout = refinement.plan_layout(frames, ncf, factor)
    got = (layout.frames, layout.cond_frames, layout.front, layout.back, layout.cond_latents, layout.noise_latents)
    assert got == expected
    assert layout.latents % 4 == 0 and layout.cond_latents % 4 == 0


def test_frame_losing_shapes_are_refused():
    """8 frames without conditioning ask for 16, padded to 16 of which the VAE keeps 13: the original returns 13."""
    with pytest.raises(InvalidInputError, match="8 stage-1 frames without conditioning would come out short.*keeps 13"):
        refinement.plan_layout(8, 0, 2)
    with pytest.raises(InvalidInputError, match="15 stage-1 frames"):
        refinement.plan_layout(15, 0, 1)
    assert refinement.plan_layout(8, 1, 2).frames == 16  # conditioning makes the total 4k+1
    allowed = [f for f in range(1, 40) if f % 8 not in (0, 7)]
    for f in range(1, 40):
        if f in allowed:
            refinement.plan_layout(f, 0, 2)
    with pytest.raises(InvalidInputError, match="too few stage-1 frames: 2 make 2 refined frames.*at least 3"):
        refinement.plan_layout(2, 2, 1)


def test_temporal_upsampling_interpolates_and_pads():
    """Frame j of 2F samples stage-1 frame j·(F−1)/(2F−1) (align_corners); the pads copy the first/last frame."""
    stage1 = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 90, 255)])
    plan = refinement.Plan(stage1, None, None, refinement.plan_layout(3, 1, 2), 4, 4)
    video = refinement.upsample(plan, torch.device("cpu"), torch.float32)
    assert video.shape == (1, 3, plan.layout.encoded_frames, 4, 4)
    levels = ((video[0, 0, :, 0, 0] + 1) / 2 * 255).tolist()
    position = [j * 2 / 5 for j in range(6)]
    expected = [np.interp(p, [0, 1, 2], [0, 90, 255]) for p in position]
    front, back = plan.layout.front, plan.layout.back
    np.testing.assert_allclose(levels, [0] * front + expected + [255] * back, atol=1e-3)


def test_schedule_truncated_at_t_thresh():
    """shift 12, 50 steps, t_thresh 0.5: the original's 5 timesteps (refine_i2v), sigmas t/1000 then 0."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    meta, ref = load_case("refine_i2v")
    scheduler = FlowMatchEulerDiscreteScheduler(shift=12.0)
    timesteps = truncate_schedule(scheduler, set_schedule(scheduler, 50, False), 0.5)
    torch.testing.assert_close(timesteps, ref["timesteps"], atol=1e-4, rtol=0)
    torch.testing.assert_close(scheduler.sigmas, ref["sigmas"], atol=1e-6, rtol=0)
    assert len(truncate_schedule(scheduler, set_schedule(scheduler, 16, False), 0.5)) == 3
    assert len(truncate_schedule(scheduler, set_schedule(scheduler, 4, False), 0.5)) == 2


def test_size_from_the_720p_grid_table():
    assert refinement.refine_size(480, 832, None, None) == (704, 1280)  # 0.577 → '0.55'
    assert refinement.refine_size(64, 96, None, None) == (768, 1216)  # 0.667 → '0.63'
    assert refinement.refine_size(100, 100, None, None) == (960, 960)
    assert refinement.refine_size(64, 96, 128, 192) == (128, 192)


def test_segment_windows_take_the_overlap_from_the_long_video():
    """As run_demo_long_video.py slices it: window j = long[start_j : start_j + len], start += len − overlap."""
    seg0 = np.broadcast_to(np.arange(6, dtype=np.uint8)[:, None, None, None], (6, 2, 2, 3))
    seg1 = seg0 + np.uint8(100)
    windows = refinement.segment_windows([seg0, seg1], 2)
    assert windows[0][:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert windows[1][:, 0, 0, 0].tolist() == [4, 5, 102, 103, 104, 105]  # not the segment's own 100, 101
    with pytest.raises(InvalidInputError, match="num_cond_frames=6 is invalid for segment 1 of 6 frames"):
        refinement.segment_windows([seg0, seg1], 6)
    assert refinement.segment_prompts("", 2) == ["", ""]
    with pytest.raises(InvalidInputError, match="one string or 2 strings"):
        refinement.segment_prompts(["a"], 2)


def test_stage1_frames_in_every_form():
    floats = STAGE1.astype(np.float32) / 255
    assert np.array_equal(refinement.to_frames(floats, "x"), to_uint8(floats))
    pil = [Image.fromarray(f) for f in STAGE1]
    assert np.array_equal(refinement.to_frames(pil, "x"), STAGE1)
    with pytest.raises(InvalidInputError, match=r"stage1_frames must be frames \[F, H, W, 3\]"):
        refinement.to_frames(STAGE1[..., :2], "stage1_frames")
    with pytest.raises(InvalidInputError, match=r"as floats must lie in \[0, 1\]"):
        refinement.to_frames(floats * 2, "stage1_frames")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": IMAGE, "video": STAGE1, "num_cond_frames": 1}, "image= or as video=, not both"),
        ({"video": STAGE1}, "num_cond_frames is required with video="),
        ({"video": STAGE1, "num_cond_frames": 6}, "num_cond_frames=6 is invalid with a video of 5 frames"),
        ({"image": IMAGE, "num_cond_frames": 2}, "num_cond_frames=2 is invalid with image="),
        ({"num_cond_frames": 3}, "num_cond_frames=3 needs conditioning frames"),
        ({"t_thresh": 0.0}, r"t_thresh=0.0 is invalid: must be a number in \(0, 1\]"),
        ({"t_thresh": 1.5}, r"t_thresh=1.5 is invalid"),
        ({"height": 64, "width": None}, "give both height and width"),
        ({"rng": "global"}, "rng='global' is invalid"),
    ],
)
def test_refine_errors(tiny_pipe, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        tiny_pipe.refine(STAGE1, **{**SMALL, **kwargs})


def test_shapes_refused_before_any_work(tiny_pipe):
    with pytest.raises(InvalidInputError, match="8 stage-1 frames without conditioning would come out short"):
        tiny_pipe.refine(np.concatenate([STAGE1, STAGE1[:3]]), **SMALL)
    with pytest.raises(InvalidInputError, match="block-sparse attention cannot cut the latent token grid"):
        tiny_pipe.refine(STAGE1, image=IMAGE, **{**SMALL, "height": 96, "width": 64, "attention": "bsa"})


def test_missing_refinement_lora_names_the_file_and_layouts(tiny_ckpt, tmp_path):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    (ckpt / "lora" / defaults.REFINEMENT_LORA_NAME).unlink()
    pipe = LongCatI2V.from_pretrained(ckpt)
    message = (
        r"LoRA file not found: .*lora/refinement_lora.safetensors \(.* is a hub-layout checkpoint; the hub layout "
        r"keeps it at lora/refinement_lora.safetensors; the fastvideo layout keeps it at "
        r"lora/refinement/refinement_lora.safetensors\)"
    )
    with pytest.raises(LoRAError, match=message):
        pipe.refine(STAGE1, image=IMAGE, **SMALL)
    with pytest.raises(LoRAError, match=message):  # the chain refuses it before stage 1 runs
        pipe.generate_video("a", image=IMAGE, num_frames=5, height=64, width=64, num_inference_steps=1, refine=True)


def _dit_output(pipe) -> torch.Tensor:
    x = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return pipe.dit(x, torch.full((1, 2), 500.0), torch.zeros(1, 1, 8, 64), torch.ones(1, 8, dtype=torch.long))


def test_refinement_lora_only_inside_the_call(tiny_pipe):
    base = _dit_output(tiny_pipe)
    during = []
    tiny_pipe.refine(STAGE1, image=IMAGE, callback=lambda *a: during.append(_dit_output(tiny_pipe)), **SMALL)
    assert len(during) == 5 and (during[0] - base).abs().max() > 1e-3  # the LoRA was on while denoising
    assert torch.equal(_dit_output(tiny_pipe), base)

    def cancel(*args):
        raise GenerationCancelled("stop")

    with pytest.raises(GenerationCancelled):
        tiny_pipe.refine(STAGE1, image=IMAGE, callback=cancel, **SMALL)
    assert torch.equal(_dit_output(tiny_pipe), base)


def test_output_and_randomness(tiny_pipe):
    """Frames include the conditioning frames; rng="generator" leaves torch's global RNG alone (the same seed
    repeats: test_generate_video_then_refine), "original" draws the up-sampled video's two tensors from it."""
    state = torch.random.get_rng_state()
    a = tiny_pipe.refine(STAGE1, "a cat", image=IMAGE, **SMALL)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.frames.shape == (10, 64, 64, 3) and a.fps == 30 and a.latents.shape == (1, 16, 8, 8, 8)
    assert a.refine_settings == RefineSettings(prompt="a cat", height=64, width=64, attention="dense", seed=3)
    assert a.input_size == IMAGE.size and a.cond_image.shape == (64, 64, 3)
    sro = tiny_pipe.refine(STAGE1, "a cat", image=IMAGE, spatial_refine_only=True, **SMALL)
    assert sro.frames.shape[0] == 5 and sro.fps == 15
    torch.manual_seed(0)
    c = tiny_pipe.refine(STAGE1, "a cat", image=IMAGE, rng="original", **SMALL)
    assert not torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(0)
    d = tiny_pipe.refine(STAGE1, "a cat", image=IMAGE, rng="original", **SMALL)
    np.testing.assert_array_equal(c.frames, d.frames)
    assert np.abs(c.frames - a.frames).max() > 1e-3
    video = tiny_pipe.refine(STAGE1, video=STAGE1[:3], num_cond_frames=2, **SMALL)
    assert video.frames.shape[0] == 10 and video.input_size == (64, 48)


def test_generate_video_then_refine(tiny_pipe):
    """I2V then the refinement conditioned on the image, one generator throughout, as the original demo."""
    args = dict(image=IMAGE, num_frames=5, height=32, width=32, num_inference_steps=2, seed=11)
    refine = RefineSettings(height=64, width=64, attention="dense")
    out = tiny_pipe.generate_video("a cat", refine=True, refine_settings=refine, **args)
    stage1 = tiny_pipe.generate_video("a cat", **args)
    np.testing.assert_array_equal(out.stage1.frames, stage1.frames)
    generator = torch.Generator().manual_seed(11)
    tiny_pipe.generate_video("a cat", generator=generator, **{k: v for k, v in args.items() if k != "seed"})
    by_hand = tiny_pipe.refine(
        to_uint8(stage1.frames), "a cat", image=IMAGE, generator=generator, **{**SMALL, "seed": None}
    )
    np.testing.assert_array_equal(out.frames, by_hand.frames)
    assert out.fps == 30 and out.frames.shape == (10, 64, 64, 3) and out.settings.refine
    with pytest.raises(InvalidInputError, match="refine_settings= is given without refine=True"):
        tiny_pipe.generate_video("a cat", refine_settings=refine, **args)


def test_refine_segments_follows_the_long_video_demo(tiny_pipe):
    """Segment 0 unconditioned, each later one conditioned on the previous refined segment's last 2·overlap
    frames, one generator: the same as calling refine by hand the way run_demo_long_video.py does."""
    seg0 = STAGE1
    seg1 = np.concatenate([STAGE1[-2:], STAGE1[::-1][:3]])  # starts with the 2 frames it continues
    settings = RefineSettings(height=64, width=64, attention="dense")
    out = tiny_pipe.refine_segments([seg0, seg1], num_cond_frames=2, settings=settings, generator=None)
    generator = torch.Generator().manual_seed(out.seed)
    windows = [seg0, np.concatenate([seg0[-2:], seg1[2:]])]
    first = tiny_pipe.refine(windows[0], "", generator=generator, **{**SMALL, "seed": None})
    second = tiny_pipe.refine(
        windows[1], "", video=to_uint8(first.frames), num_cond_frames=4, generator=generator,
        **{**SMALL, "seed": None},
    )  # fmt: skip
    np.testing.assert_array_equal(out.frames, np.concatenate([first.frames, second.frames[4:]]))
    assert out.frames.shape[0] == 10 + 6 and out.fps == 30

"""The refinement chains on the tiny checkpoint: a continuation and a long video, then their refinement as the
original demos run it (run_demo_video_continuation.py, run_demo_long_video.py); what the refinement would refuse
refused before stage 1; the refinement LoRA off afterwards."""

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v.errors import InvalidInputError
from longcat_i2v.long_video import stage1_path
from longcat_i2v.settings import RefineSettings
from longcat_i2v.video import read_mp4, to_uint8, write_mp4
from longcat_i2v.video_input import load_clip

IMG = Image.fromarray((np.random.RandomState(5).rand(40, 60, 3) * 255).astype(np.uint8))
STAGE1 = {"height": 32, "width": 48, "num_inference_steps": 2, "guidance_scale": 1.0}
REFINE = RefineSettings(height=32, width=32, attention="dense", num_inference_steps=10)  # 1 DiT call


def _dit_output(pipe) -> torch.Tensor:
    x = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return pipe.dit(x, torch.full((1, 2), 500.0), torch.zeros(1, 1, 8, 64), torch.ones(1, 8, dtype=torch.long))


def _count_dit_calls(pipe) -> list[int]:
    calls: list[int] = []
    handle = pipe.dit.register_forward_pre_hook(lambda m, a: calls.append(1))
    return calls, handle


def test_long_video_refined_segment_by_segment(tiny_pipe, tmp_path):
    """5 frames per segment, 1 carried, 2 segments: stage 1 is 5 + (5 − 1) = 9 frames at 15 fps; refined, segment 0
    gives 2·5 = 10 frames, segment 1 its 2·5 − 2·1 = 8 new ones: 18 frames at 30 fps, at ``output``; the 480p video
    beside it. The same as refine_segments on the stage-1 video's windows (the refinement's own seed here; the
    carried generator: the continuation test)."""
    base = _dit_output(tiny_pipe)
    refine = REFINE.replace(seed=9)
    output = tmp_path / "long.mp4"
    out = tiny_pipe.generate_long_video(IMG, "a cat", num_segments=2, num_frames=5, num_cond_frames=1, seed=4,
                                        output=output, refine=True, refine_settings=refine, **STAGE1)  # fmt: skip
    assert out.frames.shape == (18, 32, 32, 3) and out.fps == 30 and out.path == output
    assert out.stage1.frames.shape == (9, 32, 48, 3) and out.stage1.fps == 15
    assert out.stage1.path == stage1_path(output) == tmp_path / "long.stage1.mp4"
    assert read_mp4(output).shape == (18, 32, 32, 3) and read_mp4(out.stage1.path).shape == (9, 32, 48, 3)
    assert out.refine_settings == refine.replace(num_cond_frames=1)
    assert torch.equal(_dit_output(tiny_pipe), base)  # the refinement LoRA is off again
    windows = [out.stage1.frames[:5], out.stage1.frames[4:9]]
    by_hand = tiny_pipe.refine_segments(windows, 1, "", settings=refine)
    np.testing.assert_array_equal(out.frames, to_uint8(by_hand.frames))


@pytest.fixture
def video_file(tmp_path):
    """14 frames at 30 fps: 7 at 15 fps for the continuation, the last 2 at 30 fps for its refinement."""
    path = tmp_path / "in.mp4"
    write_mp4((np.random.RandomState(2).rand(14, 32, 48, 3) * 255).astype(np.uint8), path, fps=30)
    return path


def test_continuation_refined_on_the_input_at_30_fps(tiny_pipe, video_file):
    """The refinement conditions on the input's last 2 · num_cond_frames frames at 30 fps, with the continuation's
    prompt and its generator, as run_demo_video_continuation.py: 2·5 refined frames, the first 2 conditioning."""
    args = dict(num_frames=5, num_cond_frames=1, **STAGE1)
    out = tiny_pipe.generate_continuation("a cat", video_file, seed=6, refine=True, refine_settings=REFINE, **args)
    assert out.frames.shape == (10, 32, 32, 3) and out.fps == 30 and out.stage1.num_frames == 5
    assert out.settings.refine and out.refine_settings.num_cond_frames == 2

    generator = torch.Generator().manual_seed(6)
    stage1 = tiny_pipe.generate_continuation("a cat", video_file, generator=generator, **args)
    np.testing.assert_array_equal(stage1.frames, out.stage1.frames)
    cond = read_mp4(video_file)[-2:]
    settings = REFINE.replace(prompt="a cat", num_cond_frames=2)
    by_hand = tiny_pipe.refine(to_uint8(stage1.frames), video=cond, generator=generator, settings=settings)
    np.testing.assert_array_equal(out.frames, by_hand.frames)


def test_refused_before_stage_1(tiny_pipe, video_file, tmp_path):
    calls, handle = _count_dit_calls(tiny_pipe)
    try:
        frames = read_mp4(video_file)
        with pytest.raises(InvalidInputError, match="last 2 frames at 30 fps .* the input has none"):
            tiny_pipe.generate_continuation("a", frames, num_frames=5, num_cond_frames=1, refine=True, **STAGE1)
        bsa = RefineSettings(height=64, width=96, attention="bsa")  # 4 x 6 patches: not whole 4 x 4 blocks
        with pytest.raises(InvalidInputError, match="block"):
            tiny_pipe.generate_long_video(IMG, "a", num_segments=2, num_frames=5, num_cond_frames=1, refine=True,
                                          refine_settings=bsa, output=tmp_path / "l.mp4", **STAGE1)  # fmt: skip
        with pytest.raises(InvalidInputError, match="block"):
            tiny_pipe.generate_continuation("a", video_file, num_frames=5, num_cond_frames=1, refine=True,
                                            refine_settings=bsa, **STAGE1)  # fmt: skip
        with pytest.raises(InvalidInputError, match="refine_settings= is given without refine=True"):
            tiny_pipe.generate_continuation("a", video_file, refine_settings=REFINE, **STAGE1)
        with pytest.raises(InvalidInputError, match="refine_settings= is given without refine=True"):
            tiny_pipe.generate_long_video(IMG, "a", refine_settings=REFINE, **STAGE1)
    finally:
        handle.remove()
    assert not calls
    assert not (tmp_path / "l.mp4").exists() and not (tmp_path / "l.stage1.mp4").exists()


@pytest.mark.parametrize(("fps", "kept", "last"), [(30, [0, 2, 4, 6, 8], [7, 8, 9]), (50, [0, 3, 6, 9], [4, 6, 8])])
def test_load_clip_keeps_the_last_frames_at_30_fps(tmp_path, fps, kept, last):
    """A file's 15 fps sequence is every round(fps/15)-th frame, the refinement's every round(fps/30)-th (at
    50 fps: every 3rd and every 2nd, which do not nest); frame i is grey level 20·i."""
    path = tmp_path / "in.mp4"
    write_mp4(np.stack([np.full((32, 48, 3), 20 * i, np.uint8) for i in range(10)]), path, fps=fps)
    clip = load_clip(path, 2, refine_keep=3)
    assert clip.num_frames == len(kept)
    levels = [round(float(np.asarray(f).mean()) / 20) for f in (*clip.last, *clip.refine_last)]
    assert levels == [*kept[-2:], *last]
    assert load_clip(path, 2).refine_last == ()

"""Long videos and continuation on the tiny checkpoint: how segments chain, what is on disk after a Cancel,
resuming a partial video, the progress reports, and every refused input."""

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v.errors import GenerationCancelled, InvalidInputError, VideoInputError
from longcat_i2v.options import SettingsError
from longcat_i2v.settings import ContinuationSettings, LongVideoSettings
from longcat_i2v.video import read_mp4, write_mp4
from longcat_i2v.video_input import VideoLimits, clip_to_pixels, fps_stride, load_clip

IMG = Image.fromarray((np.random.RandomState(1).rand(40, 60, 3) * 255).astype(np.uint8))
# 9 frames per segment, the last 5 condition the next: each continuation adds 4.
SMALL = {"num_frames": 9, "num_cond_frames": 5, "height": 32, "width": 48, "num_inference_steps": 2}


PROMPTS = ["a cat sits", "the cat jumps"]
TWO = {"seed": 4, "guidance_scale": 1.0, **SMALL}


def recording_latents(pipe):
    """Every prepare_latents call's conditioning pixels and the latents it returned (restored by the caller)."""
    calls = []
    prepare = pipe.prepare_latents

    def record(pixels, *args, **kwargs):
        latents = prepare(pixels, *args, **kwargs)
        calls.append((pixels.clone(), latents.clone()))
        return latents

    pipe.prepare_latents = record
    return calls


@pytest.fixture(scope="module")
def two_segments(tiny_pipe, tmp_path_factory):
    """A two-segment long video written to an mp4, and its prepare_latents calls."""
    path = tmp_path_factory.mktemp("long") / "whole.mp4"
    calls = recording_latents(tiny_pipe)
    try:
        out = tiny_pipe.generate_long_video(IMG, PROMPTS, output=path, **TWO)
    finally:
        del tiny_pipe.prepare_latents
    return out, calls, path


def test_segments_chain_through_the_uint8_round_trip(tiny_pipe, two_segments):
    out, calls, path = two_segments
    f, n, s = 9, 5, 2
    assert out.frames.dtype == np.uint8 and out.frames.shape == (f + (s - 1) * (f - n), 32, 48, 3)
    assert out.num_frames == out.settings.num_frames_total == 13 and out.seconds == 13 / 15
    assert out.path == path and read_mp4(path).shape == out.frames.shape
    # The second segment is conditioned on exactly the first segment's last frames, as uint8 PIL images.
    first_tail = [Image.fromarray(x) for x in out.frames[f - n : f]]
    assert len(calls) == 2 and torch.equal(calls[1][0], clip_to_pixels(first_tail, 32, 48))
    assert out.settings.prompt == tuple(PROMPTS) and out.settings.num_segments == 2
    # The long video's first segment is segment 0 as image-to-video makes it (one generator, seed 4).
    alone = tiny_pipe.generate_video(PROMPTS[0], image=IMG, seed=4, guidance_scale=1.0, num_frames=9, height=32,
                                     width=48, num_inference_steps=2)  # fmt: skip
    assert np.array_equal(out.frames[:f], (alone.frames * 255).astype(np.uint8))


def test_cancel_keeps_segment_one_on_disk_and_resume_continues_it(tiny_pipe, two_segments, tmp_path):
    path = tmp_path / "long.mp4"
    reports = []

    def progress(event):
        reports.append((event.phase, event.segment, event.segments, event.step, event.total))
        if event.segment == 1 and event.phase == "denoising":
            raise GenerationCancelled("stop")

    with pytest.raises(GenerationCancelled):
        tiny_pipe.generate_long_video(IMG, PROMPTS, output=path, progress=progress, **TWO)
    on_disk = read_mp4(path)
    assert on_disk.shape == (9, 32, 48, 3)  # segment 1 whole, playable; nothing of segment 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]  # no part files or segment folders left
    assert ("denoising", 0, 2, 1, 2) in reports and ("denoising", 0, 2, 2, 2) in reports
    assert ("encoding", 1, 2, 0, 1) in reports  # segment 2 began

    # Resuming: the segment on disk is kept, the generator advanced past its draws, segment 2 appended.
    whole, whole_calls, _ = two_segments
    calls = recording_latents(tiny_pipe)
    try:
        resumed = tiny_pipe.generate_long_video(IMG, PROMPTS, output=path, resume_from=path, **TWO)
    finally:
        del tiny_pipe.prepare_latents
    assert resumed.segments_resumed == 1 and resumed.num_frames == whole.num_frames == 13
    assert np.array_equal(resumed.frames[:9], on_disk) and read_mp4(path).shape[0] == 13
    assert len(calls) == 1 and torch.equal(calls[0][1][:, :, 2:], whole_calls[1][1][:, :, 2:])  # the same noise


def test_resume_refuses_another_size_or_frame_count(tiny_pipe, two_segments, tmp_path):
    other = tmp_path / "other.mp4"
    write_mp4(np.zeros((9, 64, 96, 3), np.uint8), other)
    with pytest.raises(InvalidInputError, match=r"resume_from .* is 96x64; this long video is 48x32"):
        tiny_pipe.generate_long_video(IMG, "a cat", num_segments=2, resume_from=other, **SMALL)
    with pytest.raises(InvalidInputError, match="resume_from .*missing.mp4 is not a file"):
        tiny_pipe.generate_long_video(IMG, "a cat", resume_from=tmp_path / "missing.mp4", **SMALL)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"no video")
    with pytest.raises(InvalidInputError, match="does not decode as a video"):
        tiny_pipe.generate_long_video(IMG, "a cat", resume_from=junk, **SMALL)
    with pytest.raises(InvalidInputError, match="holds 2 segments, more than num_segments=1"):
        tiny_pipe.generate_long_video(IMG, "a cat", num_segments=1, resume_from=two_segments[2], **SMALL)
    odd = tmp_path / "odd.mp4"
    write_mp4(np.zeros((11, 32, 48, 3), np.uint8), odd)
    with pytest.raises(InvalidInputError, match=r"has 11 frames; .* has 9 \+ k\*4 frames"):
        tiny_pipe.generate_long_video(IMG, "a cat", num_segments=2, resume_from=odd, **SMALL)


def test_continuation_of_a_video_file_at_15_fps(tiny_pipe, tmp_path):
    """A 30 fps file is strided to 15 fps (every 2nd frame); the last 5 of those condition the clip."""
    frames = (np.random.RandomState(3).rand(24, 32, 48, 3) * 255).astype(np.uint8)
    path = tmp_path / "in.mp4"
    write_mp4(frames, path, fps=30)
    clip = load_clip(path, 5)
    assert (clip.stride, clip.num_frames, clip.size) == (2, 12, (48, 32))
    decoded = read_mp4(path)
    assert np.array_equal(np.asarray(clip.last[-1]), decoded[22]) and np.array_equal(np.asarray(clip.first), decoded[0])
    out = tiny_pipe.generate_continuation("a cat", video=path, seed=1, **SMALL)
    assert out.frames.shape == (9, 32, 48, 3) and out.latents.shape == (1, 16, 3, 4, 6)
    assert out.settings.enhance_hf is True and out.input_size == (48, 32)
    assert [fps_stride(x) for x in (15, 24, 25, 30, 60, 22.5)] == [1, 2, 2, 2, 4, 2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_cond_frames": 6}, r"num_cond_frames=6 is invalid: must be of the form 4k\+1"),
        ({"num_cond_frames": 9, "num_frames": 9}, r"num_cond_frames=9 is invalid: must be less than num_frames=9"),
        ({"distill": True, "enhance_hf": True}, "enhance_hf cannot be used with distill"),
    ],
)
def test_continuation_settings_refuse(changes, message):
    with pytest.raises(SettingsError, match=message):
        ContinuationSettings(**changes)


def test_long_video_settings_refuse_and_resolve():
    with pytest.raises(SettingsError, match="num_segments=0 is invalid: must be an integer >= 1"):
        LongVideoSettings(prompt=("a",), num_segments=0)
    with pytest.raises(SettingsError, match="2 prompts for num_segments=3 segments: give one prompt for every"):
        LongVideoSettings(prompt=("a", "b"), num_segments=3)
    with pytest.raises(SettingsError, match="prompt=.* is invalid: must be a list of text"):
        LongVideoSettings(prompt=("a", 3))
    s = LongVideoSettings(prompt=["a"], num_segments=3, num_frames=93, num_cond_frames=13)
    assert s.prompt == ("a",) and s.prompts == ("a", "a", "a") and s.num_frames_total == 93 + 2 * 80
    assert LongVideoSettings(prompt=("a", "b")).segments == 2 and LongVideoSettings().prompts == ("",)
    assert ContinuationSettings(distill=True).resolved().enhance_hf is False


def test_bad_videos_are_refused(tiny_pipe, tmp_path):
    with pytest.raises(VideoInputError, match="has 3 frames at 15 fps; continuation needs at least num_cond_frames=5"):
        tiny_pipe.generate_continuation("a", video=[IMG] * 3, **SMALL)
    with pytest.raises(VideoInputError, match="has no frames"):
        load_clip([], 1)
    with pytest.raises(VideoInputError, match="video file not found"):
        load_clip(tmp_path / "missing.mp4", 1)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(VideoInputError, match="cannot read video"):
        load_clip(junk, 1)
    with pytest.raises(VideoInputError, match="larger than 0 MiB"):
        load_clip(junk, 1, VideoLimits(max_bytes=4))
    with pytest.raises(VideoInputError, match="more than 2 frames"):
        load_clip([IMG] * 3, 1, VideoLimits(max_frames=2))
    with pytest.raises(VideoInputError, match="60x40 = 2400 pixels per frame; at most 100"):
        load_clip([IMG], 1, VideoLimits(max_pixels=100))
    path = tmp_path / "v.mp4"
    write_mp4(np.zeros((4, 32, 48, 3), np.uint8), path)
    with pytest.raises(VideoInputError, match="more than 3 frames"):
        load_clip(path, 1, VideoLimits(max_frames=3))
    with pytest.raises(VideoInputError, match=r"must be uint8, or floats in \[0, 1\]"):
        load_clip(np.full((2, 8, 8, 3), 2.0), 1)
    with pytest.raises(VideoInputError, match=r"must be \[F, H, W, 3\]"):
        load_clip(np.zeros((8, 8, 3), np.uint8), 1)
    with pytest.raises(InvalidInputError, match="an input video is required"):
        tiny_pipe.generate_continuation("a")

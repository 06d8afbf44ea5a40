"""The Extend, long-video and Refine endpoints driven through gradio_client, as a remote user would: each works
on the session's current result, and each bad input is a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from demo.config import CUSTOM_SIZE, DemoConfig

FORM = DemoConfig(resolution=CUSTOM_SIZE, width=64, height=64, min_side=32, num_frames=5, max_frames=17, steps=2,
                  max_steps=100, max_segments=2)  # fmt: skip
SAMPLER = {"negative_prompt": "", "num_frames": 5, "steps": 2, "guidance": 1.0, "seed": 4, "fps": 10,
           "distill": False, "skip_cond_rope": False}  # fmt: skip
# A refinement small enough for a CPU: 32x64, the frame count kept, dense attention (a few seconds on tiny weights)
SMALL_REFINE = {"refine_height": 32, "refine_width": 64, "spatial_refine_only": True, "refine_attention": "dense"}


def video_path(output: str | dict) -> str:
    return output["video"] if isinstance(output, dict) else output


def generate(client: Client, picture: Path) -> tuple:
    return client.predict(image=handle_file(str(picture)), prompt="a cat", resolution="custom", width=64, height=64,
                          refine=False, api_name="/generate", **SAMPLER)  # fmt: skip


@pytest.fixture
def client(served, tmp_path: Path) -> Client:
    return Client(served.url, verbose=False, download_files=str(tmp_path))


def test_extend_and_refine_work_on_the_sessions_result(client: Client, picture_path: Path, decode) -> None:
    for api, what in (("/extend", "Extend"), ("/refine", "Refine")):
        with pytest.raises(AppError, match=f"Generate a video first: {what} starts from the video shown"):
            client.predict(api_name=api)
    generate(client, picture_path)
    refined = client.predict(api_name="/refine", **SMALL_REFINE)
    assert decode(video_path(refined[0]))[1].shape == (5, 32, 64, 3)
    assert refined[4].startswith("**Done in") and "refined: 5 frames at 64×32" in refined[4]
    with pytest.raises(AppError, match="Extend works on a stage-1 video; the one shown is refined already"):
        client.predict(prompt="a dog", num_cond_frames=1, api_name="/extend", **SAMPLER)
    generate(client, picture_path)
    with pytest.raises(AppError, match="Conditioning frames must be of the form 4k\\+1"):
        client.predict(prompt="a dog", num_cond_frames=2, api_name="/extend", **SAMPLER)
    extended = client.predict(prompt="a dog", num_cond_frames=1, api_name="/extend", **SAMPLER)
    assert decode(video_path(extended[0]))[1].shape == (9, 64, 64, 3)
    assert "extended: 9 frames in 2 segments" in extended[4] and extended[5]["prompt"] == "a dog"
    with pytest.raises(AppError, match="This video has 2 segments; at most 2 are allowed"):  # the cap
        client.predict(prompt="a fish", num_cond_frames=1, api_name="/extend", **SAMPLER)


def test_long_video_takes_one_prompt_per_line_within_the_caps(client: Client, picture_path: Path, decode) -> None:
    image = handle_file(str(picture_path))
    size = {"resolution": "custom", "width": 64, "height": 64, "num_cond_frames": 1, **SAMPLER}
    bad = [
        ({"prompts": "a\nb\nc", "segments": 2}, "3 prompts for Segments=2 segments"),
        ({"prompts": "a\nb\nc"}, "3 segments asked for; at most 2 are allowed"),
        ({"prompts": "a", "segments": 9}, "Segments must be between 1 and 2, got 9"),
        ({"prompts": "x" * 4001}, "Prompt of each segment is 4001 characters long; at most 4000"),
        ({"prompts": "a", "num_cond_frames": 7}, "Conditioning frames must be of the form 4k+1"),
    ]
    for changes, message in bad:
        with pytest.raises(AppError) as info:
            client.predict(image=image, prompt="a cat", api_name="/long_video", **{**size, **changes})
        assert message in str(info.value), changes
    with pytest.raises(AppError, match="Please upload an image first"):
        client.predict(image=None, prompt="a cat", prompts="a\nb", api_name="/long_video", **size)
    out = client.predict(image=image, prompt="", prompts="a cat sits\na cat jumps", api_name="/long_video", **size)
    assert decode(video_path(out[0]))[1].shape == (9, 64, 64, 3)
    assert "long video: 9 frames in 2 segments" in out[4] and out[5]["prompt"] == ["a cat sits", "a cat jumps"]

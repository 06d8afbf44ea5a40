"""``longcat-i2v continue`` and ``longcat-i2v long`` on the tiny checkpoint: the files, the summary, and inputs
refused before any model loads."""

import numpy as np
import pytest
from PIL import Image

from longcat_i2v import pipeline
from longcat_i2v.cli import main
from longcat_i2v.video import read_mp4, write_mp4

SMALL = ["--num-frames", "9", "--num-cond-frames", "5", "--height", "32", "--width", "48", "--steps", "2"]


@pytest.fixture
def inputs(tmp_path):
    image = tmp_path / "in.png"
    Image.fromarray((np.random.RandomState(1).rand(40, 60, 3) * 255).astype(np.uint8)).save(image)
    video = tmp_path / "in.mp4"
    write_mp4((np.random.RandomState(2).rand(14, 32, 48, 3) * 255).astype(np.uint8), video, fps=30)
    return image, video


def test_continue_and_long_write_their_videos(tiny_ckpt, tmp_path, inputs, capsys):
    image, video = inputs
    out = tmp_path / "c.mp4"
    ckpt = ["--checkpoint", str(tiny_ckpt), "--seed", "3"]
    assert main(["continue", "--video", str(video), "--prompt", "a cat", "--output", str(out), *ckpt, *SMALL]) == 0
    assert read_mp4(out).shape == (9, 32, 48, 3)
    assert "9 frames = 0.6 s of video at 15 fps, 48x32) seed=3" in capsys.readouterr().out
    long = tmp_path / "l.mp4"
    args = ["long", "--image", str(image), "--prompt", "a cat", "--prompt", "a dog", "--output", str(long), *ckpt]
    assert main([*args, *SMALL, "--guidance", "1"]) == 0
    assert read_mp4(long).shape == (13, 32, 48, 3)
    captured = capsys.readouterr()
    assert "13 frames = 0.9 s of video" in captured.out and "segment 2/2" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["continue", "--video", "{tmp}/none.mp4", "--prompt", "x"], "video file not found"),
        (["continue", "--video", "{video}", "--prompt", "x", "--output", "{tmp}/o.gif"], "must end in .mp4"),
        (
            ["continue", "--video", "{video}", "--prompt", "x", "--num-cond-frames", "9", "--num-frames", "13"],
            "has 7 frames at 15 fps; continuation needs at least num_cond_frames=9",
        ),
        (["continue", "--video", "{video}"], "a prompt is required"),
        (["long", "--image", "{image}", "--prompt", "a", "--prompt", "b", "--segments", "3"], "2 prompts for --segm"),
        (["long", "--image", "{image}", "--prompt", "a", "--distill", "--enhance-hf"], "--enhance-hf cannot be used"),
        (["long", "--image", "{image}", "--prompt", "a", "--resume-from", "{tmp}/none.mp4"], "is not a file"),
        (["long", "--image", "{image}", "--prompt", "a", "--num-cond-frames", "7"], "--num-cond-frames=7 is invalid"),
    ],
)
def test_bad_inputs_are_refused_before_loading(tmp_path, inputs, capsys, monkeypatch, args, message):
    image, video = inputs
    monkeypatch.setattr(pipeline, "load_pipeline", lambda **kw: pytest.fail("the model was loaded"))
    filled = [a.format(tmp=tmp_path, image=image, video=video) for a in args]
    assert main([filled[0], "--height", "32", "--width", "48", "--num-frames", "9", *filled[1:]]) == 2
    assert message in capsys.readouterr().err

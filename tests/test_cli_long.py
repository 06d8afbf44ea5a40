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


def test_continue_and_long_with_refine(tiny_ckpt, tmp_path, inputs, capsys):
    """--refine with the refinement flags (spatial only here, for speed; the doubled frames: test_chains.py): the
    refined clip and long video at 720p-to-be sizes, the long one's 480p stage beside it; refinement flags without
    --refine refused before the model loads."""
    image, video = inputs
    ckpt = ["--checkpoint", str(tiny_ckpt), "--seed", "3"]
    small = ["--num-frames", "5", "--num-cond-frames", "1", "--height", "32", "--width", "48", "--steps", "1"]
    refine = ["--refine", "--refine-height", "32", "--refine-width", "32", "--refine-attention", "dense",
              "--refine-steps", "10", "--spatial-refine-only"]  # fmt: skip
    out = tmp_path / "c.mp4"
    assert main(["continue", "--video", str(video), "--prompt", "a", "--output", str(out), *ckpt, *small, *refine]) == 0
    assert read_mp4(out).shape == (5, 32, 32, 3)  # the first the input's last at 30 fps
    assert "5 frames = 0.3 s of video at 15 fps, 32x32)" in capsys.readouterr().out
    long = tmp_path / "l.mp4"
    args = ["long", "--image", str(image), "--prompt", "a", "--segments", "2", "--output", str(long), *ckpt, *small]
    assert main([*args, *refine]) == 0
    assert read_mp4(long).shape == (9, 32, 32, 3)  # spatial only: 5 + (5 - 1) frames, as the 480p stage
    assert read_mp4(tmp_path / "l.stage1.mp4").shape == (9, 32, 48, 3)
    captured = capsys.readouterr()
    assert "9 frames = 0.6 s of video at 15 fps, 32x32)" in captured.out and "l.stage1.mp4 (9 frames)" in captured.out
    assert "refining segment 2/2" in captured.err
    for command in (["continue", "--video", str(video)], ["long", "--image", str(image)]):
        assert main([*command, "--prompt", "x", "--refine-steps", "10", "--spatial-refine-only"]) == 2
        assert "--refine-steps, --spatial-refine-only only apply with --refine" in capsys.readouterr().err

import subprocess
import sys

import numpy as np
from PIL import Image

from longcat_i2v.cli import main
from longcat_i2v.video import read_mp4


def test_generate_writes_playable_mp4(tiny_ckpt, tmp_path, capsys):
    img = tmp_path / "in.png"
    Image.fromarray((np.random.RandomState(1).rand(51, 75, 3) * 255).astype(np.uint8)).save(img)
    out = tmp_path / "out.mp4"
    args = [
        "generate",
        "--checkpoint",
        str(tiny_ckpt),
        "--image",
        str(img),
        "--prompt",
        "a dog runs",
        "--num-frames",
        "5",
        "--height",
        "32",
        "--width",
        "48",
        "--steps",
        "2",
        "--seed",
        "4",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    assert "seed=4" in capsys.readouterr().out
    assert read_mp4(out).shape == (5, 32, 48, 3)
    resized = tmp_path / "resized.mp4"
    assert main(args[:-1] + [str(resized), "--resize-to-input", "--distill", "--cond-rope", "skip"]) == 0
    assert read_mp4(resized).shape == (5, 50, 74, 3)  # input 75x51 rounded down to even sides


def test_bad_input_exits_2_with_message(tiny_ckpt, tmp_path, capsys):
    args = ["generate", "--checkpoint", str(tiny_ckpt), "--image", str(tmp_path / "none.png"), "--prompt", "x"]
    assert main(args) == 2
    assert "image file not found" in capsys.readouterr().err
    img = tmp_path / "in.png"
    Image.new("RGB", (32, 32)).save(img)
    assert main(["generate", "--checkpoint", str(tmp_path), "--image", str(img), "--prompt", "x"]) == 2
    assert "missing folder(s)" in capsys.readouterr().err


def test_make_tiny_and_console_script(tmp_path):
    assert main(["make-tiny", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "dit" / "config.json").is_file()
    assert main(["make-tiny", str(tmp_path / "t")]) == 2  # refuses to overwrite
    done = subprocess.run([sys.executable, "-m", "longcat_i2v.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "generate" in done.stdout


def test_arguments_are_checked_before_the_model_loads(tmp_path, capsys):
    """A bad frame count or fps is reported even though the checkpoint does not exist: nothing was loaded."""
    img = tmp_path / "in.png"
    Image.new("RGB", (32, 32)).save(img)
    base = ["generate", "--checkpoint", str(tmp_path / "absent"), "--image", str(img), "--prompt", "x"]
    assert main([*base, "--num-frames", "6"]) == 2
    assert "4k+1" in capsys.readouterr().err
    assert main([*base, "--height", "64"]) == 2
    assert "give both --height and --width" in capsys.readouterr().err
    assert main([*base, "--fps", "500"]) == 2
    assert "--fps=500 is invalid: must be an integer >= 1 and <= 120" in capsys.readouterr().err
    assert main([*base, "--seed", "-1"]) == 2
    assert "--seed=-1 is invalid" in capsys.readouterr().err


def test_unusable_output_is_refused_before_the_model_loads(tmp_path, capsys):
    img = tmp_path / "in.png"
    Image.new("RGB", (32, 32)).save(img)
    base = ["generate", "--checkpoint", str(tmp_path / "absent"), "--image", str(img), "--prompt", "x"]
    for output, message in [("out.txt", "must end in .mp4"), (str(tmp_path / "no" / "dir" / "v.mp4"), "folder")]:
        assert main([*base, "--output", output]) == 2
        err = capsys.readouterr().err
        assert message in err and "missing folder(s)" not in err  # refused before the checkpoint was opened


def test_settings_file_and_flags_over_it(tiny_ckpt, tmp_path, capsys):
    from longcat_i2v.settings import I2VSettings

    img = tmp_path / "in.png"
    Image.new("RGB", (40, 30), "teal").save(img)
    settings = tmp_path / "s.json"
    I2VSettings(prompt="a boat", num_frames=5, height=32, width=48, num_inference_steps=1, seed=6, fps=9).to_json(
        settings
    )
    out = tmp_path / "v.mp4"
    args = ["generate", "--checkpoint", str(tiny_ckpt), "--image", str(img), "--settings", str(settings)]
    assert main([*args, "--output", str(out), "--num-frames", "9"]) == 0
    assert "seed=6" in capsys.readouterr().out
    assert read_mp4(out).shape == (9, 32, 48, 3)  # the flag overrides the file's 5 frames
    bad = tmp_path / "bad.json"
    bad.write_text('{"num_frames": 6}')
    assert main([*args[:-1], str(bad), "--prompt", "x"]) == 2
    assert "bad.json: num_frames=6 is invalid" in capsys.readouterr().err


def test_tiny_checkpoint_starts_small_and_says_so(tmp_path, capsys):
    from longcat_i2v.tiny import SMALL_SETTINGS

    img = tmp_path / "in.png"
    Image.new("RGB", (40, 30), "olive").save(img)
    out = tmp_path / "v.mp4"
    assert main(["generate", "--image", str(img), "--prompt", "x", "--steps", "1", "--output", str(out)]) == 0
    assert "small settings unless given" in capsys.readouterr().err
    assert read_mp4(out).shape == (SMALL_SETTINGS["num_frames"], SMALL_SETTINGS["height"], SMALL_SETTINGS["width"], 3)


def test_generate_with_refine(tiny_ckpt, tmp_path, capsys):
    """--refine: image-to-video then the refinement, written at its fps (15 with --spatial-refine-only; 30 fps:
    tests/test_refine.py); refine flags without --refine are refused before the model loads."""
    img = tmp_path / "in.png"
    Image.new("RGB", (48, 32), "navy").save(img)
    out = tmp_path / "r.mp4"
    base = ["generate", "--checkpoint", str(tiny_ckpt), "--image", str(img), "--prompt", "a ship", "--num-frames",
            "5", "--height", "32", "--width", "48", "--steps", "1", "--seed", "2"]  # fmt: skip
    refine = ["--refine", "--refine-height", "64", "--refine-width", "64", "--refine-attention", "dense"]
    assert main([*base, *refine, "--refine-steps", "10", "--spatial-refine-only", "--output", str(out)]) == 0
    assert "(5 frames, 64x64, 15 fps)" in capsys.readouterr().out
    assert read_mp4(out).shape == (5, 64, 64, 3)
    absent = ["generate", "--checkpoint", str(tmp_path / "absent"), "--image", str(img), "--prompt", "x"]
    assert main([*absent, "--refine-steps", "10"]) == 2
    assert "--refine-steps only apply with --refine" in capsys.readouterr().err
    assert main([*absent, "--refine", "--refine-t-thresh", "0"]) == 2
    assert "--refine-t-thresh=0.0 is invalid: must be a number in (0, 1]" in capsys.readouterr().err

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

"""The form checks: every bad value is refused with a message that names it; good values pass through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from demo.config import CUSTOM_SIZE, DemoConfig
from demo.request import NOT_AN_IMAGE, build_request
from longcat_i2v import defaults
from longcat_i2v.errors import ImageInputError, InvalidInputError

CONFIG = DemoConfig()
GOOD = {
    "prompt": "  a cat walks  ",
    "negative_prompt": "blurry",
    "resolution": "480p",
    "width": 832,
    "height": 480,
    "num_frames": 93,
    "steps": 50,
    "guidance": 4.0,
    "seed": -1,
    "distill": False,
    "skip_cond_rope": False,
    "fps": 15,
}


def request(image: Path | str | None, config: DemoConfig = CONFIG, **changes):
    return build_request(config, image, **{**GOOD, **changes})


def test_good_form_becomes_pipeline_arguments(picture_path: Path) -> None:
    req = request(picture_path, seed=7, skip_cond_rope=True, distill=True, num_frames=9.0, steps=16, guidance=1)
    kwargs, s = req.pipeline_kwargs(), req.settings
    assert kwargs["image"].size == (96, 72) and kwargs["image"].mode == "RGB" and kwargs["settings"] is s
    assert s.prompt == "a cat walks"
    assert (s.num_frames, s.seed, s.cond_rope, s.distill) == (9, 7, "skip", True)
    assert (s.resolution, s.height, s.width) == ("480p", None, None)
    assert isinstance(s.num_frames, int) and req.fps == 15


def test_custom_size_is_passed_explicitly(picture_path: Path) -> None:
    s = request(picture_path, resolution=CUSTOM_SIZE, width=640.0, height=352).settings
    assert (s.height, s.width) == (352, 640)


@pytest.mark.parametrize("seed", [None, "", -1, -5])
def test_empty_or_negative_seed_means_random(picture_path: Path, seed) -> None:
    assert request(picture_path, seed=seed).settings.seed is None


def test_empty_negative_prompt_is_none_for_the_pipeline(picture_path: Path) -> None:
    assert request(picture_path, negative_prompt="").settings.negative_prompt is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_frames": 6}, "Number of frames must be of the form 4k+1 (1, 5, 9, ..., 93), got 6."),
        ({"num_frames": 97}, "Number of frames must be between 5 and 93, got 97."),
        ({"num_frames": 1}, "Number of frames must be between 5 and 93, got 1."),
        ({"num_frames": 9.5}, "Number of frames must be a whole number"),
        ({"num_frames": "many"}, "Number of frames must be a whole number, got 'many'"),
        ({"resolution": "1080p"}, "Resolution must be one of 480p, 720p, custom, got '1080p'"),
        (
            {"resolution": CUSTOM_SIZE, "width": 100},
            "Width must be between 128 and 1920, got 100.",
        ),
        ({"resolution": CUSTOM_SIZE, "width": 200}, "Width must be a positive multiple of 16 up to 4096, got 200."),
        ({"resolution": CUSTOM_SIZE, "height": 2048}, "Height must be between 128 and 1920, got 2048."),
        ({"resolution": CUSTOM_SIZE, "width": 1920, "height": 1920}, "1920×1920 is too large"),
        ({"resolution": CUSTOM_SIZE, "width": None}, "needs both a width and a height"),
        ({"steps": 0}, "Steps must be between 1 and 100, got 0"),
        ({"steps": 101}, "Steps must be between 1 and 100, got 101"),
        ({"guidance": -1}, "Guidance must be between 0.0 and 20.0, got -1.0"),
        ({"guidance": float("nan")}, "Guidance must be a finite number"),
        ({"seed": 2**40}, "Seed must be between 0 and 2147483647"),
        ({"seed": True}, "Seed must be a whole number"),
        ({"fps": 0}, "FPS must be between 1 and 120, got 0"),
        ({"prompt": "x" * 4001}, "Prompt is 4001 characters long; at most 4000"),
        ({"prompt": 3}, "Prompt must be text, got int"),
        ({"distill": "false"}, "Distill (16 steps, guidance 1.0) must be on or off (true or false), got 'false'."),
        ({"prompt": "a \ud800 cat"}, "Prompt must be valid Unicode text (it contains a lone surrogate)"),
    ],
)
def test_bad_values_are_named(picture_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        request(picture_path, **changes)


def test_missing_image_is_asked_for_first() -> None:
    with pytest.raises(ImageInputError, match="Please upload an image first"):
        request(None, num_frames=6)  # also a bad frame count: the image is what the user fixes first


def test_non_image_file_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageInputError) as info:
        request(text)
    assert str(info.value) == NOT_AN_IMAGE


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    small = DemoConfig(max_image_pixels=50_000)
    with pytest.raises(ImageInputError, match="300×200 = 60,000 pixels; at most 50,000"):
        request(path, small)
    assert request(path).image.size == (300, 200)


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (64, 32), "red").save(path, exif=exif)
    assert request(path).image.size == (32, 64)


def test_config_refuses_inconsistent_bounds() -> None:
    with pytest.raises(ValueError, match="starting values: num_frames=8 is invalid: must be of the form 4k\\+1"):
        DemoConfig(num_frames=8)
    with pytest.raises(ValueError, match="upper caps: num_inference_steps=2000 is invalid"):
        DemoConfig(max_steps=2000)
    with pytest.raises(ValueError, match="max_steps must be >= 50"):
        DemoConfig(steps=4, max_steps=10)
    assert DemoConfig.tiny().num_frames < defaults.NUM_FRAMES


def test_config_refuses_bad_extend_refine_and_memory_values() -> None:
    with pytest.raises(ValueError, match="max_segments must be at least 1, got 0"):
        DemoConfig(max_segments=0)
    with pytest.raises(ValueError, match="extend/refine starting values: num_cond_frames=93 is invalid: must be less"):
        DemoConfig(num_cond_frames=93)
    with pytest.raises(ValueError, match="num_cond_frames=6 is invalid: must be of the form 4k\\+1"):
        DemoConfig(num_cond_frames=6)
    with pytest.raises(ValueError, match="give both height and width, or neither"):
        DemoConfig(refine_height=64)
    with pytest.raises(ValueError, match="offload 'fast' must be one of"):
        DemoConfig(offload="fast")
    # the conditioning frames Extend starts with: the model's 13, or what a shorter clip leaves room for
    assert (DemoConfig().cond_frames, DemoConfig(num_frames=9).cond_frames, DemoConfig(num_frames=5).cond_frames) == (
        13, 5, 1)  # fmt: skip


def test_the_refine_toggle_brings_the_refine_forms_settings(picture_path: Path) -> None:
    form = {"refine_steps": 20, "refine_t_thresh": 0.3, "refine_height": 64, "refine_width": 128, "refine_seed": 9}
    req = request(picture_path, refine=True, refine_form=form)
    refine = req.pipeline_kwargs()["refine_settings"]
    assert (refine.num_inference_steps, refine.t_thresh, refine.height, refine.width, refine.seed) == (
        20, 0.3, 64, 128, 9)  # fmt: skip
    assert req.settings.refine is True
    tiny = request(picture_path, DemoConfig.tiny(), refine=True, refine_form={}).refine_settings  # the form's start
    assert (tiny.height, tiny.width) == (64, 128)
    assert "refine_settings" not in request(picture_path, refine=False, refine_form=form).pipeline_kwargs()
    with pytest.raises(InvalidInputError, match="Refine strength \\(t_thresh\\) must be between 0.05 and 1.0, got 2.0"):
        request(picture_path, refine=True, refine_form={"refine_t_thresh": 2})
    with pytest.raises(InvalidInputError, match="Refined height must be a positive multiple of 16"):
        request(picture_path, refine=True, refine_form={"refine_height": 70, "refine_width": 128})

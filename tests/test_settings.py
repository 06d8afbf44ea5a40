"""The settings types: one rule per option, checked once, and every front end generated from them."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import pytest
from PIL import Image

from longcat_i2v import defaults
from longcat_i2v.cli_args import add_settings_arguments, settings_from_args
from longcat_i2v.options import SettingsError, field_specs, option, specs_for
from longcat_i2v.settings import I2VSettings, RuntimeSettings


@dataclass(frozen=True, kw_only=True)
class WithExtra(I2VSettings):
    """A test-local settings type with one more option, as a new feature would add it."""

    sharpness: float = option(0.5, "how sharp", minimum=0.0, maximum=1.0)
    mode: str = option("soft", "how to sharpen", choices=("soft", "hard"))


def test_defaults_come_from_the_defaults_module():
    s = I2VSettings()
    assert (s.num_frames, s.resolution, s.max_sequence_length, s.fps) == (
        defaults.NUM_FRAMES,
        defaults.RESOLUTION,
        defaults.MAX_SEQUENCE_LENGTH,
        defaults.FPS,
    )
    assert (s.steps, s.guidance, s.use_cfg) == (defaults.STEPS, defaults.GUIDANCE, True)
    distill = I2VSettings(distill=True)
    assert (distill.steps, distill.guidance, distill.use_cfg) == (16, 1.0, False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_frames": 6}, r"num_frames=6 is invalid: must be of the form 4k\+1"),
        ({"num_inference_steps": 0}, "num_inference_steps=0 is invalid: must be an integer >= 1"),
        ({"num_inference_steps": 2.0}, "num_inference_steps=2.0 is invalid"),
        ({"distill": True, "num_inference_steps": 60}, "at most 50 with distill"),
        ({"guidance_scale": float("nan")}, "guidance_scale=nan is invalid: must be a finite number"),
        ({"seed": True}, "seed=True is invalid"),
        ({"seed": 2**63}, r"seed=9223372036854775808 is invalid: must be an integer >= 0 and < 2\*\*63"),
        ({"distill": "false"}, "distill='false' is invalid: must be true or false"),
        ({"resolution": "1080p"}, "resolution='1080p' is invalid: must be one of 480p, 720p"),
        ({"height": 64}, "give both height and width, or neither"),
        ({"height": 72, "width": 64}, "height=72 is invalid: must be a positive multiple of 16"),
        ({"prompt": "a \ud800 cat"}, "prompt=.* is invalid: must be valid Unicode text"),
        ({"prompt": "x" * 5000}, "prompt is 5000 characters long; at most 4000 are allowed"),
        ({"fps": 121}, "fps=121 is invalid: must be an integer >= 1 and <= 120"),
    ],
)
def test_each_rule_names_the_field_and_what_is_allowed(changes, message):
    with pytest.raises(SettingsError, match=message):
        I2VSettings(**changes)


def test_any_valid_unicode_prompt_is_accepted():
    for good in ("", "x" * defaults.MAX_PROMPT_CHARS, "猫が跳ぶ 🐈", "\U0001f408\u200d\u2b1b"):
        assert I2VSettings(prompt=good).prompt == good
    with pytest.raises(SettingsError, match="negative_prompt=.* is invalid: must be valid Unicode"):
        I2VSettings(negative_prompt="\udfff")
    with pytest.raises(SettingsError, match="prompt=3 is invalid: must be text"):
        I2VSettings(prompt=3)


def test_errors_can_be_relabelled_by_a_front_end():
    with pytest.raises(SettingsError) as info:
        I2VSettings(height=64)
    assert str(info.value.relabel({"height": "--height", "width": "--width"})).startswith("give both --height and")


def test_dict_and_json_round_trip(tmp_path):
    s = I2VSettings(prompt="a cat", num_frames=9, height=64, width=96, seed=3, distill=True, cond_rope="skip")
    assert I2VSettings.from_dict(s.to_dict()) == s
    path = tmp_path / "s.json"
    s.to_json(path)
    assert json.loads(path.read_text())["num_frames"] == 9
    assert I2VSettings.from_json(path) == s


def test_parsing_accepts_form_values_and_refuses_loose_booleans():
    s = I2VSettings.from_dict(
        {"steps": "5", "guidance": 3, "num_frames": 9.0, "seed": "", "distill": "true"}, parse=True
    )
    assert (s.num_inference_steps, s.guidance_scale, s.num_frames, s.seed, s.distill) == (5, 3.0, 9, None, True)
    with pytest.raises(SettingsError, match="distill=1 is invalid"):
        I2VSettings.from_dict({"distill": 1}, parse=True)
    with pytest.raises(SettingsError, match="num_frames=9.5 is invalid"):
        I2VSettings.from_dict({"num_frames": "9.5"}, parse=True)
    with pytest.raises(ValueError, match="unknown setting 'frames'"):
        I2VSettings.from_dict({"frames": 9})


def test_runtime_device_is_checked(monkeypatch):
    with pytest.raises(SettingsError, match="device='bogus' is invalid"):
        RuntimeSettings(device="bogus")
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SettingsError, match="no CUDA device is available here"):
        RuntimeSettings(device="cuda:1")


# A new option reaches every front end without editing them ------------------------------------------------


def test_a_new_field_reaches_the_cli_parser():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, WithExtra)
    args = parser.parse_args(["--sharpness", "0.8", "--mode", "hard", "--num-frames", "9"])
    s = settings_from_args(WithExtra, args)
    assert (s.sharpness, s.mode, s.num_frames) == (0.8, "hard", 9)
    with pytest.raises(SettingsError, match="--sharpness=2.0 is invalid: must be a finite number >= 0 and <= 1"):
        settings_from_args(WithExtra, parser.parse_args(["--sharpness", "2"]))


def test_a_new_field_reaches_the_demo_form_and_its_parser(tmp_path):
    from demo.config import DemoConfig
    from demo.fields import defaults_of, form_fields
    from demo.request import build_request

    config = DemoConfig()
    fields = form_fields(config, WithExtra)
    by_name = {f.name: f for f in fields}
    assert by_name["sharpness"].component == "number" and by_name["mode"].component == "radio"
    image = tmp_path / "in.png"
    Image.new("RGB", (40, 30)).save(image)
    form = {**defaults_of(fields), "sharpness": 0.25, "mode": "hard"}
    request = build_request(config, image, fields, settings_cls=WithExtra, **form)
    assert isinstance(request.settings, WithExtra)
    assert (request.settings.sharpness, request.settings.mode) == (0.25, "hard")
    with pytest.raises(ValueError, match="Sharpness must be between 0.0 and 1.0, got 3.0"):
        build_request(config, image, fields, settings_cls=WithExtra, **{**form, "sharpness": 3})


def test_a_new_field_reaches_the_eval_schema():
    from omegaconf import OmegaConf

    from eval.config import ConfigError, schema, settings_from_config

    node = OmegaConf.structured(schema("SamplerConfig", WithExtra, skip=("prompt", "seed")))
    assert node.sharpness == 0.5 and node.mode.name == "soft"
    node.sharpness = 0.75
    assert settings_from_config(WithExtra, "sampler", node).sharpness == 0.75
    node.sharpness = 7.0
    with pytest.raises(ConfigError, match="sampler.sharpness=7.0 is invalid"):
        settings_from_config(WithExtra, "sampler", node)


def test_every_front_end_sees_the_fields_it_should():
    names = {s.name for s in field_specs(I2VSettings)}
    for front_end in ("cli", "demo", "eval"):
        assert {s.name for s in specs_for(I2VSettings, front_end)} <= names
    assert "resize_to_input" not in {s.name for s in specs_for(I2VSettings, "demo")}
    assert "num_frames" in {s.name for s in specs_for(I2VSettings, "demo")}

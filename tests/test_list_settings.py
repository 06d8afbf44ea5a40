"""A list-of-text setting (one prompt per segment) in every front end: the CLI repeats its flag, a settings file
and the eval schema hold a list, the demo form a textbox with one entry per line."""

from __future__ import annotations

import argparse
import json

import pytest
from PIL import Image

from longcat_i2v.cli_args import add_settings_arguments, settings_from_args
from longcat_i2v.options import SettingsError, field_specs
from longcat_i2v.settings import LongVideoSettings


def test_the_field_is_a_list_of_text():
    spec = {s.name: s for s in field_specs(LongVideoSettings)}["prompt"]
    assert (spec.type, spec.item, spec.default, spec.allowed()) == (tuple, str, (), "a list of text")
    assert spec.parse("one") == ("one",) and spec.parse(["a", "b"]) == ("a", "b")
    with pytest.raises(SettingsError, match="must be valid Unicode"):
        LongVideoSettings(prompt=("fine", "\ud800"))
    with pytest.raises(SettingsError, match="is 5000 characters long"):
        LongVideoSettings(prompt=("x" * 5000,))
    with pytest.raises(SettingsError, match="prompt='a' is invalid: must be a list of text"):
        LongVideoSettings(prompt="a")


def test_cli_repeats_the_flag_and_a_settings_file_holds_a_list(tmp_path):
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, LongVideoSettings)
    args = parser.parse_args(["--prompt", "a cat", "--prompt", "a dog", "--segments", "2"])
    s = settings_from_args(LongVideoSettings, args)
    assert s.prompt == ("a cat", "a dog") and s.num_segments == 2
    assert settings_from_args(LongVideoSettings, parser.parse_args([])).prompt == ()
    path = tmp_path / "long.json"
    s.to_json(path)
    assert json.loads(path.read_text())["prompt"] == ["a cat", "a dog"]
    assert LongVideoSettings.from_json(path) == s
    with pytest.raises(SettingsError, match="2 prompts for --segments=3 segments"):
        settings_from_args(LongVideoSettings, parser.parse_args(["--prompt", "a", "--prompt", "b", "--segments", "3"]))


def test_demo_form_has_one_prompt_per_line(tmp_path):
    from demo.config import DemoConfig
    from demo.fields import defaults_of, form_fields
    from demo.request import build_request

    config = DemoConfig()
    fields = form_fields(config, LongVideoSettings)
    prompt = {f.name: f for f in fields}["prompt"]
    assert prompt.component == "textbox"
    image = tmp_path / "in.png"
    Image.new("RGB", (40, 30)).save(image)
    form = {**defaults_of(fields), "prompt": "a cat sits\n\n  the cat jumps \n"}
    request = build_request(config, image, fields, settings_cls=LongVideoSettings, **form)
    assert request.settings.prompt == ("a cat sits", "the cat jumps")
    # enhance_hf is an optional switch: auto (None, the setting decides), on or off
    enhance = {f.name: f for f in fields}["enhance_hf"]
    assert (enhance.component, enhance.choices, enhance.default) == ("radio", ("auto", "on", "off"), "auto")
    assert request.settings.enhance_hf is None
    off = build_request(config, image, fields, settings_cls=LongVideoSettings, **{**form, "enhance_hf": "off"})
    assert off.settings.enhance_hf is False


def test_eval_schema_holds_a_list_of_text():
    from omegaconf import OmegaConf

    from eval.config import ConfigError, schema, settings_from_config

    node = OmegaConf.structured(schema("LongConfig", LongVideoSettings, skip=("seed",)))
    assert list(node.prompt) == []
    node.prompt = ["a", "b"]
    assert settings_from_config(LongVideoSettings, "sampler", node, skip=()).prompt == ("a", "b")
    node.segments = 3
    with pytest.raises(ConfigError, match="2 prompts for sampler.segments=3 segments"):
        settings_from_config(LongVideoSettings, "sampler", node)
    with pytest.raises(Exception, match="str is not a ListConfig, list or tuple"):
        node.prompt = "x"

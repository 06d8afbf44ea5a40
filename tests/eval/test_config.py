"""Config composition: defaults from longcat_i2v.defaults, bad types/choices fail at compose time, and
out-of-range values fail in validate() before any model is loaded."""

from __future__ import annotations

import re

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from eval.config import ConfigError, long_settings, refine_settings, register, validate
from eval.tasks import task_record
from longcat_i2v import defaults

from .conftest import REPO


def make(*overrides: str):
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_defaults_come_from_the_core():
    cfg = make()
    s = cfg.sampler
    assert (s.num_frames, s.resolution.name, s.cond_rope.name) == (defaults.NUM_FRAMES, defaults.RESOLUTION, "full")
    assert s.negative_prompt == defaults.NEGATIVE_PROMPT and s.steps is None and s.guidance is None
    assert cfg.model.checkpoint is None and cfg.dataset.manifest is None
    validate(cfg)
    distill = make("sampler=distill").sampler
    assert distill.distill is True and distill.steps is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sampler.cond_rope=sometimes", r"Invalid value 'sometimes', expected one of \[full, skip\]"),
        ("sampler.steps=many", "Value 'many' of type 'str' could not be converted to Integer"),
        ("sampler.resolution=1080p", r"expected one of \[480p, 720p\]"),
        ("metrics.perceptual=dists", r"expected one of \[auto, lpips, stlpips, none\]"),
        ("sampler.guidance=high", "could not be converted to Float"),
    ],
)
def test_bad_types_and_choices_fail_at_compose(override, message):
    with pytest.raises(ConfigCompositionException, match=f"Error merging override {re.escape(override)}") as info:
        make(override)
    assert isinstance(info.value.__cause__, ValidationError)
    assert re.search(message, str(info.value.__cause__))
    assert f"full_key: {override.split('=')[0]}" in str(info.value.__cause__)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampler.num_frames=6"], r"sampler.num_frames=6 is invalid: must be of the form 4k\+1"),
        (["sampler.steps=0"], "sampler.steps=0 is invalid: must be an integer >= 1"),
        (["sampler.guidance=-1"], "sampler.guidance=-1.0 is invalid"),
        (["sampler.height=64"], "give both sampler.height and sampler.width, or neither"),
        (["sampler.fps=500"], "sampler.fps=500 is invalid: must be an integer >= 1 and <= 120"),
        (["model.device=bogus"], "model.device='bogus' is invalid: must be a torch device"),
        (["sampler.height=60", "sampler.width=64"], "sampler.height=60 is invalid: must be a positive multiple of 16"),
        (["seed=-3"], "seed=-3 is invalid"),
        (["dataset.limit=0"], "dataset.limit=0 is invalid"),
        (["dataset=folder"], "required values not given: dataset.manifest"),
        (["model=longcat"], "required values not given: model.checkpoint"),
        (["model.checkpoint=/no/such/dir"], "model.checkpoint='/no/such/dir' is invalid: no such directory"),
        (["parity=reference", "parity.cases=[nope]"], "parity.cases='nope' is invalid: no nope.json"),
        (["logger.mode=sometimes"], "logger.mode='sometimes' is invalid"),
        (["parity=live", "parity.original_repo=null"], "parity=live needs parity.original_repo"),
        (["parity=live", f"parity.original_repo={REPO}"], "not a LongCat-Video checkout"),
    ],
)
def test_out_of_range_values_fail_before_loading(overrides, message, monkeypatch):
    monkeypatch.delenv("LONGCAT_ORIGINAL_REPO", raising=False)
    with pytest.raises(ConfigError, match=message):
        validate(make(*overrides))


def test_a_bad_value_stops_the_run_with_the_key_named(tmp_path):
    from .conftest import run_eval

    proc = run_eval(["sampler.num_frames=6", f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode != 0
    assert "sampler.num_frames=6 is invalid: must be of the form 4k+1" in proc.stderr
    assert not (tmp_path / "result.json").exists()


def test_long_and_refine_groups_come_from_the_settings_types_and_are_checked():
    cfg = make("sampler=tiny", "task=long", "long.segments=3", "long.num_cond_frames=1")
    assert set(cfg.long) == {"num_cond_frames", "enhance_hf", "offload_kv_cache", "segments"}  # long's own keys
    assert cfg.long.num_cond_frames == 1 and make().long.num_cond_frames == defaults.NUM_COND_FRAMES
    settings = long_settings(cfg)
    assert (settings.segments, settings.num_frames, settings.num_frames_total) == (3, 5, 13)
    assert task_record(cfg)["long.num_segments"] == 3 and task_record(cfg)["long.enhance_hf"] is True  # resolved
    validate(cfg)
    assert "refine_t_thresh" in make().refine
    assert refine_settings(make("refine.refine_steps=4")).num_inference_steps == 4
    with pytest.raises(ConfigError, match="long.num_cond_frames=5 is invalid: must be less than sampler.num_frames=5"):
        validate(make("sampler=tiny", "task=long", "long.segments=2", "long.num_cond_frames=5"))
    with pytest.raises(ConfigError, match="long.segments=None is invalid: task=long needs at least 2 segments"):
        validate(make("sampler=tiny", "task=long", "long.num_cond_frames=1"))
    with pytest.raises(ConfigError, match=r"refine.refine_t_thresh=0.0 is invalid: must be a number in \(0, 1\]"):
        validate(make("task=refine", "refine.refine_t_thresh=0"))

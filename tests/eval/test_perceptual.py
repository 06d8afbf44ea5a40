"""Choosing the perceptual backend offline: standard LPIPS only when its backbone is in the torch cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval.metrics import PerceptualUnavailable, load_perceptual
from eval.metrics.perceptual import backbone_cache_file


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def test_auto_falls_back_to_stlpips_without_the_lpips_backbone(torch_home):
    assert not backbone_cache_file("alex").exists()
    assert load_perceptual("auto", "alex").name == "stlpips-alex"


def test_lpips_without_its_backbone_says_what_is_missing(torch_home):
    with pytest.raises(PerceptualUnavailable, match="alexnet-owt-7be5be79.pth.*metrics.perceptual=stlpips"):
        load_perceptual("lpips", "alex")


def test_auto_uses_standard_lpips_when_the_backbone_is_cached(torch_home):
    from torchvision.models import alexnet

    path = backbone_cache_file("alex")
    assert path.is_relative_to(torch_home)
    path.parent.mkdir(parents=True)
    torch.save(alexnet().state_dict(), path)  # stand-in weights: only the file's presence is under test
    metric = load_perceptual("auto", "alex")
    assert metric.name == "lpips-alex"
    a = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    d = metric.distance(a, a[::-1])
    assert d.shape == (2,) and np.all(d > 0) and np.allclose(metric.distance(a, a), 0, atol=1e-6)


def test_none_and_bad_names():
    assert load_perceptual("none") is None
    with pytest.raises(ValueError, match="unknown perceptual backend 'dists'"):
        load_perceptual("dists")
    with pytest.raises(ValueError, match="unknown perceptual net 'resnet'"):
        load_perceptual("stlpips", "resnet")

"""Perceptual distance backends: standard LPIPS when its ImageNet backbone is in the torch cache, otherwise the
shift-tolerant LPIPS of ``stlpips-pytorch``, whose wheel ships every weight it needs.

The two give different numbers for the same pair, so every result records ``Perceptual.name`` and the
aggregate refuses to put results of different backends in one table. Nothing here downloads weights.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._tensors import as_nchw

BATCH = 16


class PerceptualUnavailable(RuntimeError):
    """The requested perceptual backend cannot run offline here; the message says what is missing."""


@dataclass
class Perceptual:
    """A loaded perceptual metric; ``name`` (e.g. ``lpips-alex``, ``stlpips-alex``) is recorded with each result."""

    name: str
    net: torch.nn.Module

    @torch.no_grad()
    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Distances between frames ``a[i]`` and ``b[i]`` ([N, H, W, 3] floats in [0, 1]) → float array [N]."""
        ta, tb = as_nchw(a), as_nchw(b)
        if ta.shape != tb.shape:
            raise ValueError(f"perceptual distance needs equal shapes, got {list(ta.shape)} and {list(tb.shape)}")
        out = [self.net(ta[i : i + BATCH], tb[i : i + BATCH], normalize=True) for i in range(0, len(ta), BATCH)]
        return torch.cat(out).flatten().double().numpy()


def backbone_cache_file(net: str) -> Path:
    """Where torchvision caches the ImageNet weights that ``lpips`` needs for ``net`` (alex or vgg)."""
    from torchvision import models

    weights = {"alex": models.AlexNet_Weights.IMAGENET1K_V1, "vgg": models.VGG16_Weights.IMAGENET1K_V1}[net]
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def _quiet(build):
    """Build a model while swallowing the packages' prints (they announce every load on stdout)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return build()


def _load_lpips(net: str) -> Perceptual:
    cached = backbone_cache_file(net)
    if not cached.is_file():
        raise PerceptualUnavailable(
            f"standard LPIPS ({net}) needs torchvision's ImageNet weights at {cached}, which are not there "
            "(this machine cannot download them); copy the file there, or use metrics.perceptual=stlpips"
        )
    import lpips

    return Perceptual(f"lpips-{net}", _quiet(lambda: lpips.LPIPS(net=net, verbose=False)).eval())


def _load_stlpips(net: str) -> Perceptual:
    try:
        from stlpips_pytorch import stlpips
    except ImportError as exc:
        raise PerceptualUnavailable(
            f"ST-LPIPS needs the stlpips-pytorch package and its undeclared imports IPython and torchsummary: {exc}"
        ) from exc
    model = _quiet(lambda: stlpips.LPIPS(net=net, variant="shift_tolerant", verbose=False))
    return Perceptual(f"stlpips-{net}", model.eval())


def load_perceptual(backend: str = "auto", net: str = "alex") -> Perceptual | None:
    """The perceptual metric to use: ``lpips``, ``stlpips``, ``auto`` (lpips if its backbone is cached, else
    stlpips) or ``none`` (returns None)."""
    if net not in ("alex", "vgg"):
        raise ValueError(f"unknown perceptual net {net!r}; allowed: alex, vgg")
    if backend == "none":
        return None
    if backend == "lpips" or (backend == "auto" and backbone_cache_file(net).is_file()):
        return _load_lpips(net)
    if backend in ("stlpips", "auto"):
        return _load_stlpips(net)
    raise ValueError(f"unknown perceptual backend {backend!r}; allowed: auto, lpips, stlpips, none")

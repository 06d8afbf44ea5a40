"""longcat-i2v: LongCat-Video image-to-video, the original model's computation, fast and testable.

The pipeline (torch, diffusers, transformers) loads on first use of ``LongCatI2V``, ``GenerationOutput`` or
``load_pipeline``, so that importing a light module (``longcat_i2v.defaults``) does not import torch.
"""

from importlib import import_module

from . import compat  # noqa: F401  (arms the torchvision fix-up before anything imports transformers/diffusers)

_LAZY = {"GenerationOutput": "pipeline", "LongCatI2V": "pipeline", "load_pipeline": "pipeline"}
__all__ = ["GenerationOutput", "LongCatI2V", "load_pipeline"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""longcat-i2v: LongCat-Video image-to-video, the original model's computation, fast and testable."""

from . import compat  # noqa: F401  (must run before transformers/diffusers are imported)
from .pipeline import GenerationOutput, LongCatI2V, load_pipeline

__all__ = ["GenerationOutput", "LongCatI2V", "load_pipeline"]

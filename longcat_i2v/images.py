"""Loading the input image from a PIL image, a file path or an http(s) URL, with limits."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from . import defaults
from .errors import ImageInputError

ImageLike = Image.Image | str | Path


def _fetch(url: str, max_bytes: int, timeout: float) -> bytes:
    """GET an http(s) URL with a timeout and a size cap (read stops past the cap)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - scheme checked by the caller
            data = resp.read(max_bytes + 1)
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise ImageInputError(f"cannot fetch image URL {url}: {exc}") from exc
    if len(data) > max_bytes:
        raise ImageInputError(f"image at {url} is larger than {max_bytes // (1024 * 1024)} MiB")
    return data


def _open(source: io.BytesIO | Path, name: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(source)
    except UnidentifiedImageError as exc:
        raise ImageInputError(f"{name} is not an image PIL can read (PNG, JPEG, WebP, ...)") from exc
    except OSError as exc:
        raise ImageInputError(f"cannot read image {name}: {exc}") from exc
    _check_size(image, name, max_pixels)
    try:
        image.load()
    except (OSError, Image.DecompressionBombError) as exc:
        raise ImageInputError(f"cannot decode image {name}: {exc}") from exc
    return image


def _check_size(image: Image.Image, name: str, max_pixels: int) -> None:
    w, h = image.size
    if w == 0 or h == 0:
        raise ImageInputError(f"{name} has zero size ({w}x{h})")
    if w * h > max_pixels:
        raise ImageInputError(f"{name} is {w}x{h} = {w * h} pixels; at most {max_pixels} are allowed")


def load_image(
    image: ImageLike,
    max_pixels: int = defaults.MAX_IMAGE_PIXELS,
    max_bytes: int = defaults.MAX_IMAGE_BYTES,
    timeout: float = defaults.URL_TIMEOUT_S,
) -> Image.Image:
    """Return the image as RGB, refusing unreadable, empty and oversized inputs with ImageInputError."""
    if isinstance(image, Image.Image):
        _check_size(image, "the input image", max_pixels)
        return image.convert("RGB")
    if not isinstance(image, str | Path):
        raise ImageInputError(f"image must be a PIL.Image, a file path or an http(s) URL, got {type(image).__name__}")
    text = str(image)
    if text.startswith(("http://", "https://")):
        return _open(io.BytesIO(_fetch(text, max_bytes, timeout)), text, max_pixels).convert("RGB")
    if "://" in text:
        raise ImageInputError(f"unsupported URL scheme in {text!r}; only http:// and https:// are fetched")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ImageInputError(f"image file not found: {path}")
    if path.stat().st_size > max_bytes:
        raise ImageInputError(f"image file {path} is larger than {max_bytes // (1024 * 1024)} MiB")
    return _open(path, str(path), max_pixels).convert("RGB")

"""Loading the input image from a PIL image, a file path or an http(s) URL, with limits."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from . import defaults
from .errors import ImageInputError
from .fetch import fetch_url

ImageLike = Image.Image | str | Path


def _decode(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Decode with the size checked before the pixels are, upright per its EXIF orientation (as diffusers'
    ``load_image``, which the original uses, does), as RGB."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_size(image, name, max_pixels)
            return _upright_rgb(image)
    except UnidentifiedImageError as exc:
        raise ImageInputError(f"{name} is not an image PIL can read (PNG, JPEG, WebP, ...)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{name} has more than {max_pixels} pixels: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageInputError(f"cannot decode image {name}: {exc}") from exc


def _upright_rgb(image: Image.Image) -> Image.Image:
    return ImageOps.exif_transpose(image).convert("RGB")


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
    allow_private_urls: bool = False,
    max_redirects: int = defaults.URL_MAX_REDIRECTS,
) -> Image.Image:
    """Return the image as upright RGB, refusing unreadable, empty and oversized inputs with ImageInputError.

    A URL is fetched within one deadline of ``timeout`` seconds (redirects included), following at most
    ``max_redirects`` redirects, over http(s) only, and never from loopback, private, link-local, multicast or
    reserved addresses unless ``allow_private_urls`` (see ``fetch``)."""
    if isinstance(image, Image.Image):
        _check_size(image, "the input image", max_pixels)
        return _upright_rgb(image)
    if not isinstance(image, str | Path):
        raise ImageInputError(f"image must be a PIL.Image, a file path or an http(s) URL, got {type(image).__name__}")
    text = str(image)
    if text.lower().startswith(("http://", "https://")):
        data = fetch_url(text, max_bytes, timeout, max_redirects, allow_private_urls)
        return _decode(data, text, max_pixels)
    if "://" in text:
        raise ImageInputError(f"unsupported URL scheme in {text!r}; only http:// and https:// are fetched")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ImageInputError(f"image file not found: {path}")
    if path.stat().st_size > max_bytes:
        raise ImageInputError(f"image file {path} is larger than {max_bytes // (1024 * 1024)} MiB")
    return _decode(path.read_bytes(), str(path), max_pixels)

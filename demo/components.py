"""Two gradio components that hand bad input to the form check instead of failing inside gradio.

gradio writes a ``components.pyi`` stub next to this file when it is imported (it does so for every
component subclass); the stub is generated, not source.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import gradio as gr
from gradio.data_classes import ImageData
from gradio_client import utils as client_utils

from longcat_i2v import defaults

from .request import NOT_AN_IMAGE

NO_URLS = "This demo does not download images from the web. Please upload the image file itself."


def too_large(size: int, limit: int) -> str:
    return f"The image file is {size / 2**20:.1f} MiB; at most {limit / 2**20:.1f} MiB are accepted."


class ImageUpload(gr.Image):
    """gr.Image that never decodes on the server's event loop, never fetches a URL sent through the API, and
    holds a ``data:`` URL to the same size limit as an upload.

    Its value is the uploaded file's path, or the bytes of a ``data:`` URL; the form check decodes either in a
    worker thread."""

    is_template = True  # rendered by the standard Image front end
    # The data: URL limit; set on the instance (gradio builds the page's config from __init__'s parameters, so
    # the constructor keeps gr.Image's).
    max_bytes: int = defaults.MAX_IMAGE_BYTES

    def preprocess(self, payload: ImageData | None) -> str | bytes | None:
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            return self._data_url_bytes(payload.url)
        if payload.path is None:
            raise gr.Error(NOT_AN_IMAGE, print_exception=False)
        return str(payload.path)  # gradio has checked that it is a file uploaded to this server

    def _data_url_bytes(self, url: str) -> bytes:
        header, _, body = url.partition(",")
        if not header.endswith(";base64"):
            raise gr.Error(NOT_AN_IMAGE, print_exception=False)
        size = len(body) * 3 // 4
        if size > self.max_bytes:
            raise gr.Error(too_large(size, self.max_bytes), print_exception=False)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise gr.Error(NOT_AN_IMAGE, print_exception=False) from exc

    async def async_move_resource_to_block_cache(self, url_or_file_path: str | Path | None) -> str | None:
        if url_or_file_path is not None and client_utils.is_http_url_like(str(url_or_file_path)):
            raise gr.Error(NO_URLS, print_exception=False)
        return await super().async_move_resource_to_block_cache(url_or_file_path)


class FormSlider(gr.Slider):
    """gr.Slider that leaves range checks to the form check, whose message names the field (gradio's does not)."""

    is_template = True  # rendered by the standard Slider front end

    def preprocess(self, payload: float) -> float:
        return payload

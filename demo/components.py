"""Two gradio components that hand bad input to the form check instead of failing inside gradio.

gradio writes a ``components.pyi`` stub next to this file when it is imported (it does so for every
component subclass); the stub is generated, not source.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio.data_classes import ImageData
from gradio_client import utils as client_utils
from PIL import Image

from .request import NOT_AN_IMAGE

NO_URLS = "This demo does not download images from the web. Please upload the image file itself."
FAR_TOO_LARGE = "The image has far too many pixels to process. Please upload a smaller picture."


class ImageUpload(gr.Image):
    """gr.Image that answers a bad upload with a readable message and never fetches a URL sent through the API."""

    is_template = True  # rendered by the standard Image front end

    def preprocess(self, payload: ImageData | None) -> str | None:
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError as exc:
            raise gr.Error(FAR_TOO_LARGE, print_exception=False) from exc
        except (OSError, SyntaxError, ValueError) as exc:
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

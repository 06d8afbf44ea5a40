"""Shared fixtures for the demo tests: the tiny checkpoint's pipeline, tiny form settings, a served demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from demo.app import Access, build_demo, launch_demo
from demo.config import CUSTOM_SIZE, DemoConfig
from demo.worker import GenerationWorker
from longcat_i2v import LongCatI2V
from longcat_i2v.video import read_mp4
from tests.helpers import free_port

# Small enough that a generation takes well under a second on a CPU; max_steps is large so that a
# cancel test can start a job that would run for a long time if the cancel did not stop it.
TINY_FORM = DemoConfig(
    resolution=CUSTOM_SIZE, width=64, height=64, min_side=32, num_frames=5, max_frames=17, steps=2, max_steps=1000
)


@dataclass
class Served:
    url: str
    worker: GenerationWorker


@pytest.fixture(scope="session")
def picture_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small textured RGB picture (not square, so resizing to the requested size is exercised)."""
    rng = np.random.default_rng(0)
    pixels = (rng.random((72, 96, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("inputs") / "picture.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def port() -> int:
    return free_port()


@contextmanager
def serving(worker: GenerationWorker, config: DemoConfig, access: Access = Access()) -> Iterator[str]:  # noqa: B008
    """Serve the demo on a free local port and yield its URL; close the server and the worker afterwards."""
    page = build_demo(worker=worker, config=config)
    port = free_port()
    launch_demo(page, port=port, block=False, max_file_size=config.max_image_bytes, worker=worker, access=access)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        page.close()
        worker.close()


@pytest.fixture(scope="session")
def serve():
    return serving


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tiny_pipe: LongCatI2V, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The demo on a free local port, its videos written to a temp dir; closed after the module.
    A test module may set ``FORM`` to serve other form settings than TINY_FORM."""
    config = getattr(request.module, "FORM", TINY_FORM)
    worker = GenerationWorker(
        tiny_pipe, output_dir=tmp_path_factory.mktemp("videos"), preview_interval_s=config.preview_interval_s
    )
    with serving(worker, config) as url:
        yield Served(url, worker)


def read_video(path: str | Path) -> tuple[dict, np.ndarray]:
    """(ffmpeg's metadata, uint8 frames [F, H, W, 3]) of an mp4; tests get it through the ``decode`` fixture."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    reader.close()
    return meta, read_mp4(path)


@pytest.fixture(scope="session")
def decode():
    return read_video


@pytest.fixture(scope="session")
def tiny_form() -> DemoConfig:
    return TINY_FORM

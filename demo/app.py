"""Build the demo from a pipeline or a checkpoint folder, and serve it."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from longcat_i2v import LongCatI2V, defaults, load_pipeline

from .config import DemoConfig
from .handlers import Handlers
from .layout import build_page
from .worker import GenerationWorker

logger = logging.getLogger(__name__)


def build_demo(
    pipe_or_checkpoint: LongCatI2V | str | Path | None = None,
    config: DemoConfig | None = None,
    worker: GenerationWorker | None = None,
) -> gr.Blocks:
    """The demo page with its queue set up: one generation at a time on the pipeline's device.

    Pass a loaded pipeline, a checkpoint folder, or nothing for the tiny demo checkpoint; or a ``worker``
    (which carries its pipeline) to control where videos are written and to close it yourself. ``config``
    defaults to small settings for the tiny checkpoint and to the model's own defaults otherwise."""
    if worker is None:
        pipe = pipe_or_checkpoint if isinstance(pipe_or_checkpoint, LongCatI2V) else load_pipeline(pipe_or_checkpoint)
    elif pipe_or_checkpoint is None or pipe_or_checkpoint is worker.pipe:
        pipe = worker.pipe
    else:
        raise ValueError("pass either a pipeline/checkpoint or a worker built on it, not a different one")
    config = config or (DemoConfig.tiny() if pipe.is_tiny else DemoConfig())
    worker = worker or GenerationWorker(pipe, keep_outputs_s=config.keep_outputs_s)
    page = build_page(Handlers(worker, config), pipe, config)
    return page.queue(default_concurrency_limit=1, max_size=config.max_queue)


def launch_demo(
    page: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    block: bool = True,
    max_file_size: int = defaults.MAX_IMAGE_BYTES,
) -> None:
    """Serve ``page``; with ``block=False`` return once the server is up (tests close it with ``page.close()``).
    Uploads above ``max_file_size`` bytes are refused by the page before they reach the server's disk."""
    page.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=max_file_size,
        prevent_thread_lock=not block,
        show_error=False,
        inbrowser=False,
    )


def serve(
    checkpoint: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    device: str | None = None,
    dtype: str | None = None,
) -> None:
    """Load, build and serve until interrupted; a running generation is cancelled on the way out."""
    pipe = load_pipeline(checkpoint, device, dtype)
    logger.info("loaded %s on %s", pipe.checkpoint_dir, pipe.device)
    config = DemoConfig.tiny() if pipe.is_tiny else DemoConfig()
    worker = GenerationWorker(pipe, keep_outputs_s=config.keep_outputs_s)
    try:
        launch_demo(build_demo(worker=worker, config=config), host, port, share)
    finally:
        worker.close()

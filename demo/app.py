"""Build the demo from a pipeline or a checkpoint folder, and serve it until SIGINT or SIGTERM.

Every file the server makes (the videos, the previews, gradio's uploads and copies) is kept under one temporary
folder of its own, deleted when it stops, and each file is deleted earlier once it is older than the retention
time.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from longcat_i2v import LongCatI2V, load_pipeline
from longcat_i2v.settings import RuntimeSettings

from .config import DemoConfig
from .gallery import GalleryHandlers
from .guard import Guard, GuardOptions
from .handlers import Handlers
from .layout import build_page
from .worker import GenerationWorker

logger = logging.getLogger(__name__)
BODY_OVERHEAD = 1 << 20  # room for the JSON or multipart framing around an image of the size limit
DEVICE_JOBS = ("generate", "extend", "long_video", "refine")  # the API routes that run on the device (rate-limited)


@dataclass(frozen=True)
class Access:
    """Who may use the server: ``users`` log in with a name and password (gradio's login page), or every request
    carries ``token``; at most ``rate_limit`` generation requests a minute per client address (0: no limit)."""

    users: tuple[tuple[str, str], ...] = ()
    token: str | None = None
    rate_limit: int = 0


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
    worker = worker or GenerationWorker(pipe, keep_outputs_s=config.keep_outputs_s,
                                        preview_interval_s=config.preview_interval_s)  # fmt: skip
    page = build_page(Handlers(worker, config), GalleryHandlers(worker, config.history_size), pipe, config)
    # api_open=False: the REST route /run/generate would skip the queue (and the device's order with it).
    return page.queue(default_concurrency_limit=1, max_size=config.max_queue, api_open=False)


def guard_options(page: gr.Blocks, worker: GenerationWorker | None, max_body: int, access: Access) -> GuardOptions:
    """What the guard in front of ``page`` enforces and reports."""

    def health() -> dict:
        state = {"status": "ok"}
        if worker is not None:
            running = worker.running
            state.update(busy=running is not None, waiting=worker.waiting, device=str(worker.pipe.device),
                         checkpoint=worker.pipe.checkpoint_dir.name)  # fmt: skip
        return state

    async def drop_queued(event_id: str) -> None:
        # gradio's own removal of waiting events (what it does when a client disconnects); its /cancel route
        # leaves an event that has not started in the queue.
        await page._queue.clean_events(event_id=event_id)

    return GuardOptions(
        max_body=max_body,
        token=access.token,
        rate_limit=access.rate_limit,
        generate_fns=lambda: {fn._id for fn in page.fns.values() if fn.api_name in DEVICE_JOBS},
        health=health,
        drop_queued=drop_queued,
    )


def launch_demo(
    page: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    block: bool = True,
    max_file_size: int | None = None,
    worker: GenerationWorker | None = None,
    access: Access = Access(),  # noqa: B008 - frozen
) -> None:
    """Serve ``page``; with ``block=False`` return once the server is up (tests close it with ``page.close()``).

    Uploads above ``max_file_size`` bytes (default: the config's image limit) are refused before they reach the
    server's disk; ``data:`` URLs are held to the same limit, and request bodies to it plus framing."""
    limit = max_file_size or DemoConfig().max_image_bytes
    options = guard_options(page, worker, limit * 4 // 3 + BODY_OVERHEAD, access)  # base64 is 4/3 of the bytes
    page.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=limit,
        prevent_thread_lock=not block,
        show_error=False,
        inbrowser=False,
        auth=list(access.users) or None,
        app_kwargs={"middleware": [Middleware(Guard, options=options)]},
    )


def configure(base: DemoConfig, **changes) -> DemoConfig:
    """``base`` with the operator's ``changes``; a lower frame cap also lowers the starting frame count."""
    if "max_frames" in changes and "num_frames" not in changes:
        changes["num_frames"] = min(base.num_frames, changes["max_frames"])
    return replace(base, **changes)


def serve(
    runtime: RuntimeSettings | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    access: Access = Access(),  # noqa: B008 - frozen
    root: Path | None = None,
    **config_changes,
) -> None:
    """Load, build and serve until SIGINT or SIGTERM (a second one stops at once); then cancel the running
    generation, close the server and delete every file it made, all of them under ``root`` (default: a new
    temporary folder; set GRADIO_TEMP_DIR to root/gradio before gradio is imported to keep its own folders
    there too, as app.py does). ``runtime``: the loading options (checkpoint, device, offload, ...; default: the
    tiny checkpoint with ``offload="auto"``). ``config_changes`` adjust the DemoConfig."""
    root = root or Path(tempfile.mkdtemp(prefix="longcat-demo-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # gradio's uploads and copies, inside our folder
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        runtime = runtime or RuntimeSettings(offload="auto")
        pipe = load_pipeline(runtime=runtime)
        logger.info("loaded %s: %s (asked for offload %s)", pipe.checkpoint_dir.name, pipe.describe(), runtime.offload)
        config = configure(DemoConfig.tiny() if pipe.is_tiny else DemoConfig(), offload=runtime.offload,
                           **config_changes)  # fmt: skip
        worker = GenerationWorker(pipe, output_dir=root / "outputs", keep_outputs_s=config.keep_outputs_s,
                                  preview_interval_s=config.preview_interval_s)  # fmt: skip
        try:
            page = build_demo(worker=worker, config=config)
            launch_demo(page, host, port, share, block=False, max_file_size=config.max_image_bytes, worker=worker,
                        access=access)  # fmt: skip
            while not stop.wait(0.5):
                pass
            page.close()
        finally:
            worker.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.info("stopped; removed %s", root.name)

"""The served demo driven through gradio_client, as a remote user would: generate, errors, queue, cancel."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image

from demo.components import FAR_TOO_LARGE, NO_URLS
from demo.request import NOT_AN_IMAGE
from demo.worker import GenerationWorker
from longcat_i2v import defaults

DEADLINE_S = 90.0


def form(picture: str | Path | dict | None, **changes) -> dict:
    """The /generate arguments for a 5-frame 64x64 two-step video of ``picture``, with ``changes``."""
    values = {"image": handle_file(str(picture)) if isinstance(picture, str | Path) else picture, "prompt": "a cat",
              "negative_prompt": defaults.NEGATIVE_PROMPT, "resolution": "custom", "width": 64, "height": 64,
              "num_frames": 5, "steps": 2, "guidance": 4.0, "seed": -1, "distill": False, "skip_cond_rope": False,
              "fps": 10}  # fmt: skip
    return {**values, **changes}


def video_path(output: str | dict) -> str:
    """gradio_client gives a Video output as a path or as {'video': path, 'subtitles': ...}, by version."""
    return output["video"] if isinstance(output, dict) else output


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def client(served, tmp_path: Path) -> Client:
    return Client(served.url, verbose=False, download_files=str(tmp_path))


def test_generate_returns_the_requested_video(client: Client, picture_path: Path, decode) -> None:
    video, cond, first, seed_used, status, settings = client.predict(
        **form(picture_path, num_frames=9, width=96, height=64), api_name="/generate"
    )
    meta, frames = decode(video_path(video))
    assert meta["codec"].startswith("h264") and meta["fps"] == 10
    assert frames.shape == (9, 64, 96, 3)
    assert np.asarray(Image.open(first)).shape == np.asarray(Image.open(cond)).shape == (64, 96, 3)
    assert isinstance(seed_used, int) and seed_used >= 0
    assert settings["seed"] == seed_used and settings["num_frames"] == 9 and settings["width"] == 96
    assert f"seed {seed_used}" in status and "9 frames at 96×64" in status


def test_seed_written_back_reproduces_the_video(client: Client, picture_path: Path, decode) -> None:
    first = client.predict(**form(picture_path), api_name="/generate")
    again = client.predict(**form(picture_path, seed=first[3]), api_name="/generate")
    other = client.predict(**form(picture_path, seed=first[3] + 1), api_name="/generate")
    frames, same, different = (decode(video_path(out[0]))[1].astype(int) for out in (first, again, other))
    assert again[3] == first[3]
    assert np.abs(frames - same).max() <= 1
    assert np.abs(frames - different).mean() > 5


BAD_INPUTS = [
    ({"picture": None}, "Please upload an image first"),
    ({"num_frames": 6}, "Number of frames must be of the form 4k+1 (1, 5, 9, ..., 93), got 6."),
    ({"num_frames": 21}, "Number of frames must be between 5 and 17, got 21."),
    ({"width": 72}, "Width must be a positive multiple of 16 up to 4096, got 72."),
    ({"resolution": "custom", "width": 1920, "height": 1920}, "1920×1920 is too large"),
    ({"steps": 0}, "Steps must be between 1 and 1000, got 0."),
]


def test_bad_input_gives_a_message_and_the_server_keeps_serving(
    client: Client, picture_path: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "holiday.png"
    fake.write_text("this is text, not a picture")
    big, bomb = tmp_path / "big.png", tmp_path / "bomb.png"
    Image.new("1", (8192, 8192)).save(big)  # 67 megapixels: over the demo's limit, cheap to decode the header of
    Image.new("1", (16384, 12288)).save(bomb)  # 201 megapixels: PIL itself refuses to open it
    pictures = [
        ({"picture": fake}, NOT_AN_IMAGE),
        ({"picture": big}, "at most 64,000,000"),
        ({"picture": bomb}, FAR_TOO_LARGE),
    ]
    for changes, message in [*BAD_INPUTS, *pictures]:
        arguments = form(changes.pop("picture", picture_path), **changes)
        with pytest.raises(AppError) as info:
            client.predict(**arguments, api_name="/generate")
        assert message in str(info.value), changes
    assert client.predict(**form(picture_path), api_name="/generate")[3] >= 0


def test_image_urls_are_not_fetched(client: Client) -> None:
    with pytest.raises(AppError) as info:
        client.predict(**form(handle_file("https://example.com/cat.png")), api_name="/generate")
    assert str(info.value) == NO_URLS


def test_concurrent_requests_get_their_own_files(served, picture_path: Path, tmp_path: Path, decode) -> None:
    users = [Client(served.url, verbose=False, download_files=str(tmp_path / f"user{i}")) for i in range(2)]
    jobs = [user.submit(**form(picture_path, seed=5), api_name="/generate") for user in users]
    wait(jobs, timeout=DEADLINE_S)
    videos = [video_path(job.result()[0]) for job in jobs]
    names = {Path(v).name for v in videos}
    assert len(names) == 2, "identical requests must still get different files"
    assert names <= {p.name for p in served.worker.output_dir.glob("*.mp4")}
    for video in videos:
        assert decode(video)[1].shape == (5, 64, 64, 3)


def test_queue_position_is_reported_and_cancel_frees_the_worker(served, picture_path: Path) -> None:
    """A long job runs; a second user waits in the queue with a position; cancelling the first lets it through."""
    first_user, second_user = (Client(served.url, verbose=False) for _ in range(2))
    long_job = first_user.submit(**form(picture_path, steps=1000), api_name="/generate")
    wait_until(lambda: (long_job.status().progress_data or [None])[-1] is not None, "the long job's first step")
    waiting = second_user.submit(**form(picture_path), api_name="/generate")
    wait_until(lambda: waiting.status().code == Status.IN_QUEUE and waiting.status().rank is not None, "a position")
    assert waiting.status().rank == 0  # next in line

    finished_before = len(served.worker.finished)
    long_job.cancel()
    assert waiting.result(timeout=DEADLINE_S)[3] >= 0
    cancelled = [job for job in list(served.worker.finished)[finished_before:] if job.total_steps == 1000]
    assert len(cancelled) == 1 and cancelled[0].status == "cancelled"
    assert 1 <= cancelled[0].steps_done < 1000


def test_temporary_files_are_deleted_when_the_server_stops(serve, tiny_pipe, tiny_form, picture_path: Path) -> None:
    worker = GenerationWorker(tiny_pipe)
    with serve(worker, tiny_form) as url:
        output = Client(url, verbose=False, download_files=False).predict(**form(picture_path), api_name="/generate")
        served_copy, own_copy = Path(output[0]["video"]["path"]), next(worker.output_dir.glob("*.mp4"))
        assert served_copy.is_file() and own_copy.is_file() and served_copy.name == own_copy.name
    assert not served_copy.exists() and not own_copy.exists()

"""The served demo driven through gradio_client, as a remote user would: generate, errors, queue, cancel,
clients that go away, what the server never tells (tracebacks, paths), size limits and the operator's controls."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image

from demo.app import Access
from demo.components import NO_URLS
from demo.config import CUSTOM_SIZE, DemoConfig
from demo.request import FAR_TOO_LARGE, NOT_AN_IMAGE
from demo.worker import GenerationWorker
from longcat_i2v import defaults

DEADLINE_S = 90.0
LIMIT = 256 * 1024  # this module's size limit for images, so that "too large" is cheap to send
# TINY_FORM of conftest, with the small size limit
FORM = DemoConfig(resolution=CUSTOM_SIZE, width=64, height=64, min_side=32, num_frames=5, max_frames=17, steps=2,
                  max_steps=1000, max_image_bytes=LIMIT)  # fmt: skip


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


def seeds_run(worker: GenerationWorker) -> list[int | None]:
    return [job.request.settings.seed for job in worker.finished]


@pytest.fixture
def hold(served, tiny_pipe, monkeypatch):
    """``hold(step)``: from now on every job waits after denoising step ``step`` until the returned event is set
    or the job is cancelled (at most a minute), so that a test can act while a job holds the device."""

    def start(step: int) -> tuple[threading.Event, threading.Event]:
        reached, release = threading.Event(), threading.Event()
        original = tiny_pipe.generate_video

        def held(**kwargs):
            report = kwargs.pop("progress")

            def progress(event) -> None:
                job = served.worker.running
                if event.phase == "denoising" and event.step == step and job is not None:
                    reached.set()
                    deadline = time.monotonic() + 60
                    while not (release.is_set() or job.cancel_requested.is_set()) and time.monotonic() < deadline:
                        job.cancel_requested.wait(0.02)
                report(event)

            return original(**kwargs, progress=progress)

        monkeypatch.setattr(tiny_pipe, "generate_video", held)
        return reached, release

    return start


@pytest.fixture
def client(served, tmp_path: Path) -> Client:
    return Client(served.url, verbose=False, download_files=str(tmp_path))


def test_generate_returns_the_requested_video(client: Client, picture_path: Path, decode) -> None:
    video, cond, first, seed_used, status, settings, preview = client.predict(
        **form(picture_path, num_frames=9, width=96, height=64), api_name="/generate"
    )
    meta, frames = decode(video_path(video))
    assert meta["codec"].startswith("h264") and meta["fps"] == 10
    assert frames.shape == (9, 64, 96, 3)
    assert np.asarray(Image.open(first)).shape == np.asarray(Image.open(cond)).shape == (64, 96, 3)
    assert np.asarray(Image.open(preview)).shape == (8, 3 * 12 + 2 * 2, 3)  # the last preview: 3 latent frames
    assert isinstance(seed_used, int) and seed_used >= 0
    assert settings["seed"] == seed_used and settings["num_frames"] == 9 and settings["width"] == 96
    assert settings["checkpoint"] == "ckpt" and not any("/" in str(value) for value in settings.values())
    assert f"seed {seed_used}" in status and "9 frames at 96×64" in status


def test_progress_reaches_api_clients(client: Client, picture_path: Path) -> None:
    job = client.submit(**form(picture_path, steps=6), api_name="/generate")
    job.result(timeout=DEADLINE_S)
    texts = [update[4] for update in job.outputs()[:-1]]  # the status output of every update
    assert any(text.startswith("**Step ") for text in texts) and any(text.startswith("**Decoding") for text in texts)


def test_seed_written_back_reproduces_the_video(client: Client, picture_path: Path, decode) -> None:
    first = client.predict(**form(picture_path), api_name="/generate")
    again = client.predict(**form(picture_path, seed=first[3]), api_name="/generate")
    other = client.predict(**form(picture_path, seed=first[3] + 1), api_name="/generate")
    frames, same, different = (decode(video_path(out[0]))[1].astype(int) for out in (first, again, other))
    assert again[3] == first[3]
    assert np.abs(frames - same).max() <= 1
    assert np.abs(frames - different).mean() > 5
    assert client.predict(first[3], api_name="/reuse_seed") == first[3]


BAD_INPUTS = [
    ({"picture": None}, "Please upload an image first"),
    ({"num_frames": 6}, "Number of frames must be of the form 4k+1 (1, 5, 9, ..., 93), got 6."),
    ({"num_frames": 21}, "Number of frames must be between 5 and 17, got 21."),
    ({"width": 72}, "Width must be a positive multiple of 16 up to 4096, got 72."),
    ({"resolution": "custom", "width": 1920, "height": 1920}, "1920×1920 is too large"),
    ({"steps": 0}, "Steps must be between 1 and 1000, got 0."),
    ({"distill": "false"}, "must be on or off (true or false), got 'false'"),
    ({"seed": 2**64}, "Seed must be between 0 and 2147483647"),
    ({"prompt": "x" * 4001}, "Prompt is 4001 characters long; at most 4000"),
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
        assert "/" not in str(info.value).replace("4k+1 (1", ""), "no server path in an error"
    assert client.predict(**form(picture_path), api_name="/generate")[3] >= 0


def test_image_urls_are_not_fetched(client: Client) -> None:
    with pytest.raises(AppError) as info:
        client.predict(**form(handle_file("https://example.com/cat.png")), api_name="/generate")
    assert str(info.value) == NO_URLS


def data_url(size: int) -> str:
    """A PNG of about ``size`` bytes (random pixels do not compress) as a data: URL."""
    side = int((size / 3) ** 0.5) + 1
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_uploads_data_urls_and_bodies_share_one_size_limit(served, client: Client, tmp_path: Path) -> None:
    small, large = data_url(LIMIT // 4), data_url(LIMIT + 50_000)
    assert client.predict(**form({"url": small}), api_name="/generate")[3] >= 0  # a data: URL image works
    with pytest.raises(AppError, match=r"at most 0\.2 MiB are accepted"):
        client.predict(**form({"url": large}), api_name="/generate")
    too_big = tmp_path / "big.png"
    too_big.write_bytes(base64.b64decode(large.partition(",")[2]))
    with pytest.raises(Exception, match="File too large|exceeds the maximum"):
        client.predict(**form(too_big), api_name="/generate")
    body = httpx.post(served.url + "gradio_api/queue/join", content=b"{" + b" " * (LIMIT * 2 + (1 << 20)))
    assert body.status_code == 413 and "too large" in body.json()["detail"]


def test_no_traceback_or_server_path_reaches_a_client(served, client: Client) -> None:
    for raw in (b"1" + b"0" * 400, b"1e400", b'"x"', b"[1]", b"{"):
        response = httpx.post(served.url + "gradio_api/run/reuse_seed", content=b'{"data": [' + raw + b"]}",
                              headers={"content-type": "application/json"})  # fmt: skip
        text = response.text
        assert "Traceback" not in text and "site-packages" not in text and "/work" not in text, raw
        assert response.status_code in (200, 400, 422, 500) and '"data":[1000' not in text, raw
    assert client.predict(10**30, api_name="/reuse_seed") == -1
    bypass = httpx.post(served.url + "gradio_api/run/generate", json={"data": []})
    assert bypass.status_code == 404, "the REST route must not skip the queue"
    health = httpx.get(served.url + "healthz").json()
    assert health["status"] == "ok" and health["checkpoint"] == "ckpt" and "/" not in str(health)


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


def test_queue_position_is_reported_and_cancel_frees_the_worker(served, picture_path: Path, hold) -> None:
    """A long job runs; a second user waits in the queue with a position; cancelling the first lets it through."""
    reached, release = hold(1)
    first_user, second_user = (Client(served.url, verbose=False) for _ in range(2))
    long_job = first_user.submit(**form(picture_path, steps=1000), api_name="/generate")
    wait_until(reached.is_set, "the long job's first step")
    waiting = second_user.submit(**form(picture_path), api_name="/generate")
    wait_until(lambda: waiting.status().code == Status.IN_QUEUE and waiting.status().rank is not None, "a position")
    assert waiting.status().rank == 0  # next in line

    finished_before = len(served.worker.finished)
    release.set()
    long_job.cancel()
    assert waiting.result(timeout=DEADLINE_S)[3] >= 0
    cancelled = [job for job in list(served.worker.finished)[finished_before:] if job.total_steps == 1000]
    assert len(cancelled) == 1 and cancelled[0].status == "cancelled"
    assert 1 <= cancelled[0].steps_done < 1000


def test_cancelling_a_waiting_request_removes_it_from_the_queue(served, picture_path: Path, hold) -> None:
    reached, release = hold(1)
    runner, waiter = (Client(served.url, verbose=False) for _ in range(2))
    long_job = runner.submit(**form(picture_path, steps=1000, seed=701), api_name="/generate")
    wait_until(reached.is_set, "the long job's first step")
    # the waiter keeps a second request in line, so its connection stays open: only the Cancel can remove the first
    cancelled = waiter.submit(**form(picture_path, seed=702), api_name="/generate")
    # submit() joins the queue from a thread: the second waits until the first is in line, so their order is known
    wait_until(lambda: cancelled.status().code == Status.IN_QUEUE, "the first to wait")
    kept = waiter.submit(**form(picture_path, seed=703), api_name="/generate")
    wait_until(lambda: kept.status().code == Status.IN_QUEUE and kept.status().rank == 1, "both waiting")
    cancelled.cancel()
    wait_until(lambda: cancelled.status().code == Status.CANCELLED, "the cancel to be answered")
    release.set()
    long_job.cancel()
    assert kept.result(timeout=DEADLINE_S)[3] == 703
    assert 702 not in seeds_run(served.worker) and 703 in seeds_run(served.worker)


CLIENT_THAT_LEAVES = """
import sys, time
from gradio_client import Client, handle_file
client = Client(sys.argv[1], verbose=False)
job = client.submit(image=handle_file(sys.argv[2]), prompt="a cat", resolution="custom", width=64, height=64,
                    num_frames=5, steps=1000, seed=704, api_name="/generate")
deadline = time.monotonic() + 60
while (job.status().progress_data or [None])[-1] is None and time.monotonic() < deadline and not job.done():
    time.sleep(0.05)
print("running" if not job.done() else f"ended: {job.exception()}", flush=True)
time.sleep(600)
"""


def test_a_client_that_goes_away_frees_the_worker_within_one_step(served, picture_path: Path, hold) -> None:
    """The client process is killed while step 3 runs (held here until the job is cancelled, or a minute): the
    job must stop at the end of that very step."""
    reached, _ = hold(3)
    script = textwrap.dedent(CLIENT_THAT_LEAVES)
    leaving = subprocess.Popen([sys.executable, "-c", script, served.url, str(picture_path)], stdout=subprocess.PIPE)
    try:
        assert leaving.stdout.readline().strip() == b"running"  # the client prints within its own minute
        wait_until(reached.is_set, "step 3")
    finally:
        leaving.kill()
        leaving.wait()
    wait_until(lambda: served.worker.finished and served.worker.finished[-1].request.settings.seed == 704, "the end")
    job = served.worker.finished[-1]
    assert job.status == "cancelled" and job.steps_done == 3 and job.cancel_requested.is_set()
    assert served.worker.running is None


def test_temporary_files_are_deleted_when_the_server_stops(serve, tiny_pipe, tiny_form, picture_path: Path) -> None:
    worker = GenerationWorker(tiny_pipe)
    with serve(worker, tiny_form) as url:
        output = Client(url, verbose=False, download_files=False).predict(**form(picture_path), api_name="/generate")
        served_copy, own_copy = Path(output[0]["video"]["path"]), next(worker.output_dir.glob("*.mp4"))
        assert served_copy.is_file() and own_copy.is_file() and served_copy.name == own_copy.name
    assert not served_copy.exists() and not own_copy.exists()


def test_a_token_is_required_and_requests_are_rate_limited(serve, tiny_pipe, picture_path: Path) -> None:
    worker = GenerationWorker(tiny_pipe)
    with serve(worker, FORM, Access(token="t0ken", rate_limit=2)) as url:
        with pytest.raises(Exception, match="credentials|401"):
            Client(url, verbose=False)
        assert httpx.get(url + "healthz").status_code == 200
        client = Client(url, verbose=False, headers={"Authorization": "Bearer t0ken"})
        assert [client.predict(**form(picture_path, seed=s), api_name="/generate")[3] for s in (1, 2)] == [1, 2]
        with pytest.raises(httpx.HTTPStatusError) as info:
            client.predict(**form(picture_path), api_name="/generate")
        assert info.value.response.status_code == 429
        assert "at most 2 videos a minute" in info.value.response.json()["detail"]


def test_sigterm_stops_the_server_and_removes_every_file_it_made(tmp_path: Path, picture_path: Path, port: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    app = Path(__file__).resolve().parents[2] / "app.py"
    server = subprocess.Popen([sys.executable, str(app), "--port", str(port), "--rate-limit", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _healthy(url) or server.poll() is not None, "the server to start")
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        result = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        assert result.predict(**form(picture_path, width=128, height=128), api_name="/generate")[3] >= 0
        made = [p for p in temp.rglob("*") if p.is_file()]
        assert any(p.suffix == ".mp4" for p in made) and any("gradio" in p.parts for p in made)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    left = sorted(str(p.relative_to(temp)) for p in temp.rglob("*"))
    assert left == [], left


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

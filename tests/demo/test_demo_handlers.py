"""The event functions called directly: the progress Generate yields, failures as friendly messages without
server paths, Cancel that says the device is free only once it is, and the small toggles."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

from demo.config import CUSTOM_SIZE, DemoConfig
from demo.handlers import OUT_OF_MEMORY, OUTPUTS, UNEXPECTED, Handlers, hide_paths, outputs, user_error
from demo.worker import GenerationWorker
from longcat_i2v import LongCatI2V
from longcat_i2v.errors import CheckpointError, GenerationCancelled, InvalidInputError

FORM = {"prompt": "a cat", "negative_prompt": "", "resolution": CUSTOM_SIZE, "width": 64, "height": 64,
        "num_frames": 5, "steps": 2, "guidance": 4.0, "seed": 3, "distill": False, "skip_cond_rope": False,
        "fps": 15}  # fmt: skip


async def collect(updates) -> list[dict]:
    """Every update a generator yields, as {output name: value}, skipped outputs left out."""
    seen = []
    async for update in updates:
        seen.append(
            {name: v for name, v in zip(OUTPUTS, update, strict=True) if not (isinstance(v, dict) and v == gr.skip())}
        )
    return seen


def generate(handlers: Handlers, picture: Path | None, **changes) -> list[dict]:
    form = {"image": str(picture) if picture else None, **FORM, **changes}
    return asyncio.run(collect(handlers.generate(**form)))


@pytest.fixture
def handlers(tiny_pipe: LongCatI2V, tiny_form: DemoConfig, tmp_path: Path):
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path, preview_interval_s=0)
    yield Handlers(worker, tiny_form)
    worker.close()


def test_generate_yields_the_progress_then_the_result(handlers: Handlers, picture_path: Path) -> None:
    updates = generate(handlers, picture_path, steps=3)
    texts = [u["status"] for u in updates[:-1] if "status" in u]
    # The handler shows the latest state each time it wakes, so fast steps may be seen together: check the
    # form and the order of what was shown, not that every step was.
    phases = [re.match(r"\*\*(\w+)", t).group(1) for t in texts]
    assert phases[0] in ("Starting", "Encoding") and "Step" in phases and phases[-1] in ("Decoding", "Writing")
    steps = [int(m.group(1)) for t in texts if (m := re.match(r"\*\*Step (\d) of 3\*\*( · about \d+ s left)?", t))]
    assert len(steps) == phases.count("Step") and steps == sorted(steps)
    previews = [u["preview"] for u in updates[:-1] if u.get("preview") is not None]
    assert previews and all(isinstance(p, np.ndarray) and p.dtype == np.uint8 for p in previews)
    final = updates[-1]
    assert Path(final["video"]).is_file() and final["seed_used"] == 3 and final["status"].startswith("**Done in")
    assert final["first_frame"].shape == (64, 64, 3) and final["result"].video == Path(final["video"])
    assert final["settings"]["checkpoint"] == handlers.worker.pipe.checkpoint_dir.name


def test_paths_are_hidden_from_messages() -> None:
    assert hide_paths("missing /srv/models/lora/cfg_step.safetensors (key x)") == "missing cfg_step.safetensors (key x)"
    assert hide_paths("cannot write '/tmp/a/b.mp4': disk full") == "cannot write 'b.mp4': disk full"
    assert hide_paths("4k+1 frames, got 6/7 and 1/2") == "4k+1 frames, got 6/7 and 1/2"
    assert hide_paths("see https://example.com/a/b") == "see https://example.com/a/b"
    error = user_error(CheckpointError("/home/op/LongCat-Video/dit/config.json: num_heads must be > 0"))
    assert error.message == "config.json: num_heads must be > 0"


def test_library_errors_keep_their_message() -> None:
    error = user_error(InvalidInputError("num_frames must be of the form 4k+1, got 6"))
    assert isinstance(error, gr.Error) and error.message == "num_frames must be of the form 4k+1, got 6"
    assert user_error(GenerationCancelled("stop")).title == "Cancelled"
    assert user_error(torch.cuda.OutOfMemoryError("CUDA out of memory")).message == OUT_OF_MEMORY


def test_unexpected_failure_is_logged_and_the_worker_keeps_serving(
    handlers: Handlers, tiny_pipe: LongCatI2V, picture_path: Path, monkeypatch, caplog
) -> None:
    def broken(**kwargs):
        raise RuntimeError("kernel exploded in /srv/app/kernels.py")

    monkeypatch.setattr(tiny_pipe, "generate_video", broken)
    seen = []

    async def run() -> None:
        async for update in handlers.generate(image=str(picture_path), **FORM):
            seen.append(update)

    with caplog.at_level(logging.ERROR, logger="demo.handlers"), pytest.raises(gr.Error) as info:
        asyncio.run(run())
    assert info.value.message == UNEXPECTED and "exploded" not in info.value.message
    assert seen[-1][OUTPUTS.index("status")] == f"**Error:** {UNEXPECTED}"  # said where the progress was
    assert any(record.exc_info and "kernel exploded" in str(record.exc_info[1]) for record in caplog.records)

    monkeypatch.undo()
    final = generate(handlers, picture_path, distill=True, skip_cond_rope=True)[-1]
    assert Path(final["video"]).is_file() and final["seed_used"] == 3
    assert final["settings"]["distill"] is True and final["settings"]["cond_rope"] == "skip"


def test_missing_image_is_a_friendly_error(handlers: Handlers) -> None:
    with pytest.raises(gr.Error, match="Please upload an image first"):
        generate(handlers, None)


def test_cancel_says_the_device_is_free_only_once_the_job_has_stopped(handlers: Handlers, picture_path) -> None:
    session = SimpleNamespace(session_hash="visitor")
    worker = handlers.worker
    said: list[tuple[str, bool]] = []

    async def scenario() -> None:
        run = handlers.generate(image=str(picture_path), **{**FORM, "steps": 1000}, request=session)
        await anext(run)  # the job is submitted
        while not worker.running or worker.running.steps_done < 1:
            await anext(run)
        async for text in handlers.cancel(request=session):
            said.append((text, worker.running is None and worker.finished[-1].status == "cancelled"))
        with pytest.raises(gr.Error, match="cancelled"):
            async for _ in run:
                pass

    asyncio.run(scenario())
    assert said[0] == ("**Stopping** at the end of the current step…", False)
    text, stopped = said[-1]
    assert text.startswith("**Cancelled** after step ") and text.endswith("The device is free for the next request.")
    assert stopped


def test_a_closed_generator_cancels_its_job(handlers: Handlers, picture_path: Path) -> None:
    """What gradio does when the client has gone away: it closes the generator at its next yield."""
    worker = handlers.worker

    async def scenario() -> None:
        run = handlers.generate(image=str(picture_path), **{**FORM, "steps": 1000})
        while not worker.running or worker.running.steps_done < 1:
            await anext(run)
        job = worker.running
        await run.aclose()
        assert isinstance(job.future.exception(60), GenerationCancelled)  # blocks this loop; the worker is a thread
        assert job.status == "cancelled" and job.steps_done < 1000

    asyncio.run(scenario())


def test_nothing_to_cancel() -> None:
    async def said() -> list[str]:
        handlers = Handlers(SimpleNamespace(), DemoConfig())
        return [text async for text in handlers.cancel(request=SimpleNamespace(session_hash="nobody"))]

    assert asyncio.run(said()) == ["Nothing of yours is running."]


def test_distill_toggle_switches_steps_and_guidance(handlers: Handlers) -> None:
    assert handlers.config.steps == 2  # the test form starts at 2 steps, not the product's 50
    assert handlers.distill_defaults(True) == (16, 1.0)
    assert handlers.distill_defaults(False) == (2, 4.0)


def test_small_toggles() -> None:
    assert [update["visible"] for update in Handlers.show_custom_size(CUSTOM_SIZE)] == [True, True]
    assert [update["visible"] for update in Handlers.show_custom_size("480p")] == [False, False]
    assert Handlers.reuse_seed(1234) == 1234 and Handlers.reuse_seed(None) == -1
    assert Handlers.reuse_seed(10**400) == -1 and Handlers.reuse_seed(True) == -1 and Handlers.reuse_seed(2.5) == -1
    assert Handlers.frames_info(93, 15)["info"].endswith("93 frames at 15 fps play for 6.2 s.")
    assert Handlers.frames_info(None, 15) == gr.update() and Handlers.frames_info(9, float("inf")) == gr.update()
    assert Handlers.idle(None)[0]["interactive"] is False and Handlers.idle("x.png")[0]["interactive"] is True
    assert [u["interactive"] for u in Handlers.busy()] == [False, True]
    with pytest.raises(ValueError, match="not an output"):
        outputs(videos="x")

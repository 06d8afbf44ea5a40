"""The event functions called directly: failures become friendly messages, the toggles set the right values."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import gradio as gr
import pytest
import torch

from demo.config import CUSTOM_SIZE, DemoConfig
from demo.handlers import OUT_OF_MEMORY, UNEXPECTED, Handlers, user_error
from demo.worker import GenerationWorker
from longcat_i2v import LongCatI2V
from longcat_i2v.errors import GenerationCancelled, InvalidInputError


def generate(handlers: Handlers, picture: Path | None, **changes) -> tuple:
    form = {"image": str(picture) if picture else None, "prompt": "a cat", "negative_prompt": "",
            "resolution": CUSTOM_SIZE, "width": 64, "height": 64, "num_frames": 5, "steps": 2, "guidance": 4.0,
            "seed": 3, "distill": False, "skip_cond_rope": False, "fps": 15}  # fmt: skip
    return asyncio.run(handlers.generate(**{**form, **changes}, progress=gr.Progress()))


@pytest.fixture
def handlers(tiny_pipe: LongCatI2V, tiny_form: DemoConfig, tmp_path: Path):
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path)
    yield Handlers(worker, tiny_form)
    worker.close()


def test_library_errors_keep_their_message() -> None:
    error = user_error(InvalidInputError("num_frames must be of the form 4k+1, got 6"))
    assert isinstance(error, gr.Error) and error.message == "num_frames must be of the form 4k+1, got 6"
    assert user_error(GenerationCancelled("stop")).title == "Cancelled"
    assert user_error(torch.cuda.OutOfMemoryError("CUDA out of memory")).message == OUT_OF_MEMORY


def test_unexpected_failure_is_logged_and_the_worker_keeps_serving(
    handlers: Handlers, tiny_pipe: LongCatI2V, picture_path: Path, monkeypatch, caplog
) -> None:
    def broken(**kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(tiny_pipe, "generate_video", broken)
    with caplog.at_level(logging.ERROR, logger="demo.handlers"), pytest.raises(gr.Error) as info:
        generate(handlers, picture_path)
    assert info.value.message == UNEXPECTED and "kernel exploded" not in info.value.message
    assert any(record.exc_info and "kernel exploded" in str(record.exc_info[1]) for record in caplog.records)

    monkeypatch.undo()
    video, _, first_frame, seed, _, settings = generate(handlers, picture_path, distill=True, skip_cond_rope=True)
    assert Path(video).is_file() and first_frame.shape == (64, 64, 3) and seed == 3
    assert settings["distill"] is True and settings["cond_rope"] == "skip"


def test_missing_image_is_a_friendly_error(handlers: Handlers) -> None:
    with pytest.raises(gr.Error, match="Please upload an image first"):
        generate(handlers, None)


def test_distill_toggle_switches_steps_and_guidance(handlers: Handlers) -> None:
    assert handlers.config.steps == 2  # the test form starts at 2 steps, not the product's 50
    assert handlers.distill_defaults(True) == (16, 1.0)
    assert handlers.distill_defaults(False) == (2, 4.0)


def test_size_fields_show_only_for_a_custom_size() -> None:
    assert [update["visible"] for update in Handlers.show_custom_size(CUSTOM_SIZE)] == [True, True]
    assert [update["visible"] for update in Handlers.show_custom_size("480p")] == [False, False]
    assert Handlers.reuse_seed(1234) == 1234 and Handlers.reuse_seed(None) == -1

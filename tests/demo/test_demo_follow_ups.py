"""Extend, long video and Refine called directly: the video grows by the continuation's new frames, a long video
shows each finished segment while the next runs, a Cancel keeps the finished segments, the refinement's cost,
and Refine "not available" without its LoRA."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from demo.config import CUSTOM_SIZE, DemoConfig
from demo.follow_ups import FollowUps, long_fields
from demo.handlers import Handlers
from demo.tasks import refine_cost
from demo.worker import GenerationResult, GenerationWorker
from longcat_i2v import LongCatI2V, defaults
from longcat_i2v.settings import RefineSettings
from tests.demo.test_demo_handlers import collect

FORM = {"prompt": "a cat", "negative_prompt": "", "resolution": CUSTOM_SIZE, "width": 64, "height": 64,
        "num_frames": 5, "steps": 2, "guidance": 1.0, "seed": 3, "distill": False, "skip_cond_rope": False,
        "fps": 15}  # fmt: skip
EXTEND = {k: v for k, v in FORM.items() if k not in ("resolution", "width", "height")}
CONFIG = DemoConfig(resolution=CUSTOM_SIZE, width=64, height=64, min_side=32, num_frames=5, max_frames=17, steps=2,
                    max_steps=1000, max_segments=3, preview_interval_s=0)  # fmt: skip


@pytest.fixture
def more(tiny_pipe: LongCatI2V, tmp_path: Path):
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path, preview_interval_s=0)
    yield FollowUps(Handlers(worker, CONFIG))
    worker.close()


def generated(more: FollowUps, picture: Path) -> object:
    return asyncio.run(collect(more.handlers.generate(image=str(picture), **FORM)))[-1]["result"]


def test_extend_adds_the_continuations_new_frames_after_the_exact_old_ones(more, picture_path, decode) -> None:
    first = generated(more, picture_path)
    updates = asyncio.run(collect(more.extend_fn()(first, num_cond_frames=1, **{**EXTEND, "prompt": "a dog"})))
    shown = {u["video"] for u in updates[:-1] if u.get("video")}
    assert shown == {str(first.video)}  # the video being extended stays on the page while the segment runs
    extended = updates[-1]["result"]
    assert (extended.kind, extended.num_frames, extended.segments) == ("extended", 9, ((0, 5), (4, 9)))
    assert extended.settings["prompt"] == "a dog" and extended.settings["num_cond_frames"] == 1
    old, new = np.load(first.frames_file), np.load(extended.frames_file)
    assert np.array_equal(new[:5], old)  # the old frames exactly, then the 4 new ones
    assert decode(extended.video)[1].shape == (9, 64, 64, 3)
    # extended again, the segments overlap by the same frame count; another count is refused
    with pytest.raises(gr.Error, match="Conditioning frames must stay 1 for this video"):
        asyncio.run(collect(more.extend_fn()(extended, num_cond_frames=5, **{**EXTEND, "num_frames": 9})))


def test_long_video_shows_each_finished_segment_and_says_which_runs(more, picture_path, decode) -> None:
    form = {k: v for k, v in FORM.items() if k != "prompt"}
    updates = asyncio.run(collect(more.long_video_fn()("", image=str(picture_path), prompts="a cat\na dog",
                                                       num_cond_frames=1, **form)))  # fmt: skip
    texts = [u["status"] for u in updates[:-1]]
    assert any("segment 1 of 2" in t for t in texts) and any("segment 2 of 2" in t for t in texts)
    partial = [u["video"] for u in updates[:-1] if u.get("video")]
    assert partial and decode(partial[0])[1].shape[0] == 5  # segment 1 on the page while segment 2 runs
    result = updates[-1]["result"]
    assert (result.kind, result.num_frames, result.segments) == ("long video", 9, ((0, 5), (4, 9)))
    assert result.settings["prompt"] == ("a cat", "a dog") and decode(result.video)[1].shape[0] == 9


def test_cancel_during_a_later_segment_keeps_the_finished_ones(more, picture_path, decode) -> None:
    form = {k: v for k, v in FORM.items() if k != "prompt"}
    fields = long_fields(CONFIG)
    request = more.check_long_video("a cat", fields, {"image": str(picture_path), "segments": 3,
                                                      "num_cond_frames": 1, **form})  # fmt: skip
    # cancelled in the worker's thread as soon as segment 2 starts: deterministic, one step into it at most
    job = more.handlers.worker.submit(request, lambda job: job.segment == 1 and job.cancel())
    result = job.future.result(60)
    assert result.num_frames == 5 and result.segments == ((0, 5),) and result.seed == request.settings.seed
    assert result.note == "Cancelled during segment 2 of 3: the finished segment is kept."
    assert decode(result.video)[1].shape[0] == 5 and np.load(result.frames_file).shape[0] == 5
    # the page's Cancel then shows what was kept (gradio has cancelled the event that would have shown it)
    more.handlers.jobs["visitor"] = job
    video, status, shown, added = more.handlers.kept("old.mp4", None, request=SimpleNamespace(session_hash="visitor"))
    assert (video, shown, added) == (str(result.video), result, result) and status.endswith(result.note)
    assert more.handlers.kept("old.mp4", result, request=SimpleNamespace(session_hash="visitor"))[::2] == (
        "old.mp4", result)  # fmt: skip


def test_what_extend_and_long_videos_refuse(more, picture_path) -> None:
    extend, long_video = more.extend_fn(), more.long_video_fn()
    with pytest.raises(gr.Error, match="Generate a video first: Extend starts from the video shown"):
        asyncio.run(collect(extend(None, num_cond_frames=1, **EXTEND)))
    form = {k: v for k, v in FORM.items() if k != "prompt"}
    cases = [
        ({"prompts": "a\nb\nc", "segments": 2}, "3 prompts for Segments=2 segments"),
        ({"prompts": "a\nb\nc\nd"}, "4 segments asked for; at most 3 are allowed"),
        ({"segments": 4}, "Segments must be between 1 and 3, got 4"),
        ({"prompts": 7}, "Prompt of each segment must be text"),
        ({"num_cond_frames": 5}, "Conditioning frames=5 is invalid: must be less than Number of frames=5"),
    ]
    for changes, message in cases:
        with pytest.raises(gr.Error, match=message):
            asyncio.run(collect(long_video("a cat", image=str(picture_path), **{"num_cond_frames": 1, **form,
                                                                                 **changes})))  # fmt: skip
    result = generated(more, picture_path)
    result.frames_file.unlink()  # swept by the retention time
    with pytest.raises(gr.Error, match="no longer kept on the server"):
        asyncio.run(collect(extend(result, num_cond_frames=1, **EXTEND)))


def test_refine_cost_known_answer_and_refusals(more, picture_path, monkeypatch, tmp_path) -> None:
    # The published schedule: 50 steps, shift 12, t_thresh 0.5 leave 5 DiT calls (defaults.REFINE_STEPS' note).
    settings = RefineSettings(height=64, width=128)
    cost = refine_cost(more.pipe, settings, 64, 64, ((0, 5), (4, 9), (8, 13)), 1)
    # three segments of 5 frames doubled: 10, then 10 - 2 carried frames twice
    assert (cost.dit_calls, cost.segments, cost.frames, cost.fps) == (5, 3, 26, 30)
    assert cost.describe().startswith("Refine costs 15 DiT calls with the refinement LoRA (5 per segment × 3)")
    # before a video exists, the toggle's cost: the form's video (custom 64x64, 5 frames) refined to 64x128
    text = more.cost_text(None, 5, CUSTOM_SIZE, 64, 64, 50, 0.5, 64, 128, -1, False, "generator", "bsa")
    assert text == ("With the toggle, after Generate: Refine costs 5 DiT calls with the refinement LoRA, at 128×64 "
                    "(no CFG), plus a VAE encode and decode at that size; it makes 10 frames at 30 fps.")  # fmt: skip
    # the button's cost, for the result shown; and settings the refinement refuses are said so
    frame = np.zeros((64, 64, 3), np.uint8)
    long_result = GenerationResult(Path("v.mp4"), Path("v.png"), frame, frame, 1, 1.0, {}, {}, num_frames=13,
                                   segments=((0, 5), (4, 9), (8, 13)), num_cond_frames=1)  # fmt: skip
    assert more.cost_text(long_result, 5, CUSTOM_SIZE, 64, 64, 50, 0.5, 64, 128).startswith(
        "Refining the video shown: Refine costs 15 DiT calls")  # fmt: skip
    assert more.cost_text(None, 5, CUSTOM_SIZE, 64, 64, 50, 2.0).startswith("Refine cannot run with these settings")
    with pytest.raises(gr.Error, match="Generate a video first: Refine starts from the video shown"):
        asyncio.run(collect(more.refine_fn()(None)))
    # a checkpoint without the refinement LoRA: Refine is off, with the reason, and refused if called anyway
    missing = tmp_path / "lora" / defaults.REFINEMENT_LORA_NAME
    monkeypatch.setattr(more.pipe, "lora_path", lambda name: missing)
    reason = more.handlers.refine_unavailable()
    assert reason.startswith("Refine is not available") and defaults.REFINEMENT_LORA_NAME in reason
    assert str(tmp_path) not in reason
    result = SimpleNamespace(segments=((0, 5),))
    assert more.cost_text(result) == reason
    assert [u["interactive"] for u in more.idle("x.png", None)] == [False, True, False]
    with pytest.raises(gr.Error, match="Refine is not available"):
        asyncio.run(collect(more.refine_fn()(result)))
    with pytest.raises(gr.Error, match="Refine is not available"):
        asyncio.run(collect(more.handlers.generate(image=str(picture_path), **{**FORM, "refine": True})))

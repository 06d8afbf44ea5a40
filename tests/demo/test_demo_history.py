"""The session history and the comparison of two of its videos, on videos written for the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demo import history
from demo.history import BASE, PANEL_GAP, Entry, Segment, compare, frame_of, mean_abs_difference, panel_size
from demo.worker import GenerationResult
from longcat_i2v.video import write_mp4


def flat(value: int, frames: int = 5, height: int = 32, width: int = 48) -> np.ndarray:
    return np.full((frames, height, width, 3), value, np.uint8)


def entry(number: int, video: Path, **settings) -> Entry:
    used = {"num_frames": 5, "width": 48, "height": 32, "num_inference_steps": 2, "guidance_scale": 4.0, "fps": 8,
            **settings}  # fmt: skip
    return Entry(number, str(video), 7, 1.5, used, {"denoising": 1.0}, (Segment("a cat", 5),), {BASE: str(video)})


def test_mean_abs_difference_known_answers() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 255  # one pixel of four differs by 255 in every channel
    assert mean_abs_difference(a, a) == 0.0
    assert mean_abs_difference(a, b) == pytest.approx(255 / 4)
    assert mean_abs_difference(b, a) == pytest.approx(255 / 4)  # no uint8 wrap-around


def test_panel_size_keeps_the_shape_with_even_sides() -> None:
    assert panel_size(48, 32, 480) == (48, 32)
    assert panel_size(1280, 720, 480) == (480, 270 // 2 * 2)
    assert panel_size(833, 481, 10_000) == (832, 480)


def test_side_by_side_puts_a_b_and_the_amplified_difference_in_a_row() -> None:
    sheet = history.side_by_side(flat(100, 1, 2, 3), flat(110, 1, 2, 3))
    assert sheet.shape == (1, 2, 3 * 3 + 2 * PANEL_GAP, 3)
    assert sheet[0, 0, 0, 0] == 100 and sheet[0, 0, 3 + PANEL_GAP, 0] == 110
    assert sheet[0, 0, -1, 0] == 10 * history.DIFF_GAIN and sheet[0, 0, 3, 0] == 255


def test_compare_writes_one_video_and_measures_every_frame(tmp_path: Path, decode) -> None:
    a = entry(1, write_mp4(flat(100), tmp_path / "a.mp4", 8))
    b = entry(2, write_mp4(flat(120, frames=9, height=64, width=96), tmp_path / "b.mp4", 8),
              num_frames=9, width=96, height=64)  # fmt: skip
    comparison = compare(a, b, tmp_path)
    meta, frames = decode(comparison.video)
    assert Path(comparison.video).parent == tmp_path and Path(comparison.video).name.startswith("longcat_")
    assert frames.shape == (5, 32, 3 * 48 + 2 * PANEL_GAP, 3) and meta["fps"] == 8  # the shorter's frame count
    assert comparison.frames == 5 and comparison.sizes == ((48, 32), (96, 64))
    assert comparison.differences == pytest.approx([20.0] * 5, abs=1.5)
    assert np.abs(frame_of(comparison.video, 3).astype(int) - frames[3]).max() == 0
    text = history.describe(comparison, a, b, 3)
    assert "#2 was resized from 96×64" in text and f"Frame 3: {comparison.differences[3]:.1f}." in text
    with pytest.raises(IndexError):
        frame_of(comparison.video, 5)


def test_history_keeps_the_newest_entries_numbered_in_order(tmp_path: Path) -> None:
    def result(seed: int) -> GenerationResult:
        settings = {"prompt": f"seed {seed}", "num_frames": 5, "width": 48, "height": 32, "num_inference_steps": 2,
                    "guidance_scale": 4.0}  # fmt: skip
        return GenerationResult(tmp_path / f"{seed}.mp4", tmp_path / f"{seed}.png", np.zeros((1, 1, 3)),
                                np.zeros((1, 1, 3)), seed, 1.0, settings, {})  # fmt: skip

    entries: list[Entry] = []
    for seed in range(5):
        entries = history.add(entries, result(seed), keep=3)
    assert [e.number for e in entries] == [3, 4, 5] and [e.seed for e in entries] == [2, 3, 4]
    assert history.find(entries, 4).seed == 3 and history.find(entries, 1) is None
    assert entries[0].label.startswith("#3 · seed 2 · 5 frames 48×32 · 2 steps") and "seed 2" in entries[0].caption
    assert not history.available(entries[0])  # its file was never written

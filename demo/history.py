"""The session's results, and two of them compared: side by side with their difference, as one video (so the
two play in step by construction) and frame by frame.

An entry is one result as it stands: its video, the segments it is made of (one today; Extend will add more,
each with its own prompt) and its versions ("base"; Refine will add "720p"). A comparison takes one version of
each of two entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image

from longcat_i2v.video import read_mp4, write_mp4

from .worker import OUTPUT_PREFIX, GenerationResult

BASE = "base"  # the version every entry has: the video as generated
DIFF_GAIN = 4  # the difference panel shows |A − B| × 4, so that small differences are visible
PANEL_GAP = 4  # pixels (even, for H.264) between the panels of a comparison


@dataclass(frozen=True)
class Segment:
    prompt: str
    frames: int


@dataclass(frozen=True)
class Entry:
    """One result of the session, numbered in the order it was made."""

    number: int
    thumbnail: str
    seed: int
    seconds: float
    settings: dict[str, Any]
    timing: dict[str, float]
    segments: tuple[Segment, ...]
    versions: dict[str, str] = field(default_factory=dict)  # version name → video path

    @property
    def video(self) -> str:
        return self.versions[BASE]

    @property
    def label(self) -> str:
        s = self.settings
        return (
            f"#{self.number} · seed {self.seed} · {s['num_frames']} frames {s['width']}×{s['height']} · "
            f"{s['num_inference_steps']} steps · guidance {s['guidance_scale']:g} · {self.seconds:.1f} s"
        )

    @property
    def caption(self) -> str:
        prompt = " / ".join(segment.prompt for segment in self.segments) or "(no prompt)"
        return f"{self.label}\n{prompt[:120]}"


def entry_from(result: GenerationResult, number: int) -> Entry:
    segment = Segment(str(result.settings.get("prompt", "")), int(result.settings["num_frames"]))
    return Entry(number, str(result.thumbnail), result.seed, result.seconds, result.settings, result.timing,
                 (segment,), {BASE: str(result.video)})  # fmt: skip


def add(history: list[Entry], result: GenerationResult, keep: int) -> list[Entry]:
    """The history with ``result`` added as the newest entry, and only the newest ``keep`` entries kept."""
    number = history[-1].number + 1 if history else 1
    return [*history, entry_from(result, number)][-keep:]


def find(history: list[Entry], number: Any) -> Entry | None:
    return next((entry for entry in history if entry.number == number), None)


def available(entry: Entry, version: str = BASE) -> bool:
    """Whether the entry's video still exists (the server deletes files after the retention time)."""
    return version in entry.versions and Path(entry.versions[version]).is_file()


@dataclass(frozen=True)
class Comparison:
    """Two videos side by side with their difference; ``differences`` holds mean |A − B| per frame (0–255)."""

    video: str
    frames: int
    differences: tuple[float, ...]
    sizes: tuple[tuple[int, int], tuple[int, int]]  # (width, height) of A and of B as generated

    @property
    def mean_difference(self) -> float:
        return float(np.mean(self.differences)) if self.differences else 0.0


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images of one size, in levels of 0–255."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def fit(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 frames resized (bicubic) to width × height; returned as they are when they already have that size."""
    if frames.shape[2] == width and frames.shape[1] == height:
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])


def panel_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size each panel is shown at: A's size, scaled down to ``max_side``, with even sides."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[A | B | |A − B|·gain] for frames of one size: uint8 [F, H, 3W + 2·gap, 3]."""
    diff = np.clip(np.abs(a.astype(np.int16) - b.astype(np.int16)) * DIFF_GAIN, 0, 255).astype(np.uint8)
    gap = np.full((*a.shape[:2], PANEL_GAP, 3), 255, np.uint8)
    return np.concatenate([a, gap, b, gap, diff], axis=2)


def compare(a: Entry, b: Entry, out_dir: Path, max_side: int = 480, version: str = BASE) -> Comparison:
    """Write the side-by-side video of entries ``a`` and ``b`` (B resized to A's size if they differ; as many
    frames as the shorter has) at A's frame rate, and measure their difference frame by frame."""
    first, second = read_mp4(a.versions[version]), read_mp4(b.versions[version])
    count = min(len(first), len(second))
    sizes = ((first.shape[2], first.shape[1]), (second.shape[2], second.shape[1]))
    width, height = panel_size(*sizes[0], max_side)
    first, second = fit(first[:count], width, height), fit(second[:count], width, height)
    differences = tuple(mean_abs_difference(x, y) for x, y in zip(first, second, strict=True))
    name = f"{OUTPUT_PREFIX}compare_{a.number}_{b.number}_{uuid.uuid4().hex[:8]}.mp4"
    video = write_mp4(side_by_side(first, second), out_dir / name, int(a.settings.get("fps", 15)))
    return Comparison(str(video), count, differences, sizes)


def frame_of(video: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` of an mp4, decoding only up to it."""
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
    width, height = next(reader)["size"]
    frame = None
    for i, buffer in enumerate(reader):
        if i == index:
            frame = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3).copy()
            break
    reader.close()
    if frame is None:
        raise IndexError(f"{Path(video).name} has no frame {index}")
    return frame


def describe(comparison: Comparison, a: Entry, b: Entry, index: int | None = None) -> str:
    """What the comparison shows, in words."""
    text = (f"**Left: #{a.number}, middle: #{b.number}, right: the difference ×{DIFF_GAIN}.** "
            f"Mean difference over {comparison.frames} frames: {comparison.mean_difference:.1f} of 255.")  # fmt: skip
    if comparison.sizes[0] != comparison.sizes[1]:
        text += f" #{b.number} was resized from {comparison.sizes[1][0]}×{comparison.sizes[1][1]} to compare."
    if index is not None and 0 <= index < comparison.frames:
        text += f" Frame {index}: {comparison.differences[index]:.1f}."
    return text

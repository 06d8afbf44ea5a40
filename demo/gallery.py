"""The history gallery's events: keep each finished result, show one again, compare two.

The history lives in the page's session state (a list of ``history.Entry``), so each visitor sees their own;
the files it points to are the worker's, deleted after the retention time like every output.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import gradio as gr

from . import history
from .history import Comparison, Entry
from .worker import GenerationResult, GenerationWorker

EXPIRED = "That video has been deleted from the server (videos are kept for a limited time). Generate it again."


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class GalleryHandlers:
    """Event functions of the history and comparison section."""

    def __init__(self, worker: GenerationWorker, keep: int):
        self.worker = worker
        self.keep = keep

    def add(self, result: GenerationResult | None, entries: list[Entry]) -> tuple[Any, ...]:
        """A finished result joins the history; the comparison picks the two newest."""
        if result is None:
            return (entries, *(gr.skip(),) * 4)
        entries = history.add(entries, result, self.keep)
        return (entries, *self._choices(entries))

    def _choices(self, entries: list[Entry]) -> tuple[Any, ...]:
        items = [(entry.thumbnail, entry.caption) for entry in reversed(entries)]
        choices = [(entry.label, entry.number) for entry in reversed(entries)]
        newest = choices[0][1] if choices else None
        before = choices[1][1] if len(choices) > 1 else None
        return (
            items,
            gr.update(choices=choices, value=before),
            gr.update(choices=choices, value=newest),
            gr.update(interactive=len(choices) > 1),
        )

    @staticmethod
    def show(entries: list[Entry], event: gr.SelectData) -> tuple[Any, ...]:
        """Show a gallery entry (newest first) in the main video, with its settings and timing."""
        index = event.index if isinstance(event.index, int) else 0
        ordered = list(reversed(entries))
        if not 0 <= index < len(ordered):
            return gr.skip(), gr.skip(), gr.skip()
        entry = ordered[index]
        if not history.available(entry):
            raise gr.Error(EXPIRED, print_exception=False)
        timing = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in entry.timing.items())
        return entry.video, f"**Showing {entry.label}.** {timing}.", entry.settings

    async def compare(self, entries: list[Entry], a: Any, b: Any) -> tuple[Any, ...]:
        """The two chosen entries side by side with their difference, and a frame slider over them."""
        first, second = history.find(entries, _number(a)), history.find(entries, _number(b))
        if first is None or second is None:
            raise gr.Error("Choose two videos of this session to compare.", print_exception=False)
        if first is second:
            raise gr.Error("Choose two different videos to compare.", print_exception=False)
        if not (history.available(first) and history.available(second)):
            raise gr.Error(EXPIRED, print_exception=False)
        comparison = await asyncio.to_thread(history.compare, first, second, self.worker.output_dir)
        image = await asyncio.to_thread(history.frame_of, comparison.video, 0)
        return (
            (comparison, first, second),
            comparison.video,  # values only, never updates, for the file outputs (see handlers.outputs)
            gr.update(
                minimum=0,
                maximum=max(comparison.frames - 1, 1),
                value=0,
                visible=True,
                interactive=comparison.frames > 1,
            ),  # fmt: skip
            image,
            history.describe(comparison, first, second, 0),
        )

    @staticmethod
    async def frame(state: tuple[Comparison, Entry, Entry] | None, index: Any) -> tuple[Any, Any]:
        """One frame of the comparison, with its difference."""
        if state is None or isinstance(index, bool) or not isinstance(index, int | float):
            return gr.skip(), gr.skip()
        comparison, first, second = state
        if not Path(comparison.video).is_file():
            raise gr.Error(EXPIRED, print_exception=False)
        index = min(max(int(index), 0), comparison.frames - 1)
        image = await asyncio.to_thread(history.frame_of, comparison.video, index)
        return image, history.describe(comparison, first, second, index)

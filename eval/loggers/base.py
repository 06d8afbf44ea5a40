"""What every logger receives: each item as it finishes, then the job's result."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Logger(Protocol):
    def log_item(
        self, index: int, item_id: str, metrics: dict[str, float], frames: np.ndarray, cond_image: np.ndarray
    ) -> None:
        """One generated item: its metrics and media (float frames [F, H, W, 3], cond image [H, W, 3])."""

    def log_result(self, result: dict) -> None:
        """The job's result (the content of result.json): settings, per-item rows, summary, parity."""

    def finish(self) -> None:
        """Flush and close."""


class NullLogger:
    """``logger=none``: only result.json is written (by the job itself)."""

    def log_item(self, index, item_id, metrics, frames, cond_image) -> None:
        pass

    def log_result(self, result) -> None:
        pass

    def finish(self) -> None:
        pass

"""``logger=local``: per-item CSV and JSON lines, the mp4 and a first-frame comparison PNG in the job folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import save_comparison, save_video


class LocalLogger:
    def __init__(self, job_dir: Path, save_media: bool = True, fps: int = 15) -> None:
        self.job_dir = job_dir
        self.save_media = save_media
        self.fps = fps
        self.rows: list[dict] = []

    def log_item(
        self, index: int, item_id: str, metrics: dict[str, float], frames: np.ndarray, cond_image: np.ndarray
    ) -> None:
        row = {"item": item_id, **metrics}
        self.rows.append(row)
        with open(self.job_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.save_media:
            save_video(frames, self.job_dir / "media" / f"{item_id}.mp4", self.fps)
            save_comparison(cond_image, frames[0], self.job_dir / "media" / f"{item_id}_first_frame.png")

    def log_result(self, result: dict) -> None:
        pd.DataFrame(self.rows).to_csv(self.job_dir / "items.csv", index=False)

    def finish(self) -> None:
        pass

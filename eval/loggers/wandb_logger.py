"""``logger=wandb``: config, per-item metrics, the results table, the video and the first-frame comparison.

Offline unless the user is logged in (``wandb login`` / WANDB_API_KEY) or sets ``logger.mode`` or
WANDB_MODE; offline runs land in ``<job dir>/wandb/offline-run-*`` and can be uploaded later with
``wandb sync``.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import first_frame_comparison, save_video
from ..parity import parity_rows

WANDB_HOST = "api.wandb.ai"


def logged_in() -> bool:
    """True when an API key is available from the environment or ~/.netrc (where ``wandb login`` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str | None) -> str:
    """The configured mode, else $WANDB_MODE, else online when logged in and offline otherwise."""
    return mode or os.environ.get("WANDB_MODE") or ("online" if logged_in() else "offline")


class WandbLogger:
    def __init__(self, job_dir: Path, cfg, run_name: str, group: str | None, config: dict) -> None:
        import wandb

        self.wandb = wandb
        self.job_dir = job_dir
        self.save_media = cfg.save_media
        self.fps = cfg.fps
        self.rows: list[dict] = []
        self.run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            name=run_name,
            group=group,
            tags=list(cfg.tags),
            dir=str(job_dir),
            mode=resolve_mode(cfg.mode),
            config=config,
        )

    def log_item(
        self, index: int, item_id: str, metrics: dict[str, float], frames: np.ndarray, cond_image: np.ndarray
    ) -> None:
        self.rows.append({"item": item_id, **metrics})
        record: dict = {f"item/{k}": v for k, v in metrics.items()}
        if self.save_media:
            video = save_video(frames, self.job_dir / "media" / f"{item_id}.mp4", self.fps)
            record[f"video/{item_id}"] = self.wandb.Video(str(video), format="mp4")
            caption = "conditioning image | first frame | 4x |difference|"
            record[f"first_frame/{item_id}"] = self.wandb.Image(
                first_frame_comparison(cond_image, frames[0]), caption=caption
            )
        self.run.log(record, step=index)

    def log_result(self, result: dict) -> None:
        self.run.summary.update({k: v for k, v in result["summary"].items() if v is not None})
        self.run.summary["perceptual_backend"] = result["perceptual_backend"]
        tables = {"results": pd.DataFrame(self.rows)} if self.rows else {}
        if result["parity"]:
            tables["parity"] = pd.DataFrame(parity_rows(result["parity"]))
        self.run.log({name: self.wandb.Table(dataframe=df) for name, df in tables.items()})

    def finish(self) -> None:
        self.run.finish()


def log_sweep_summary(cfg, sweep_dir: Path, table: pd.DataFrame, plots: list[Path], group: str) -> None:
    """One extra run per sweep holding the aggregate table (mean ± std per setting) and its plots."""
    import wandb

    run = wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        name=f"{group}-aggregate",
        group=group,
        job_type="aggregate",
        dir=str(sweep_dir),
        mode=resolve_mode(cfg.mode),
    )
    run.log(
        {
            "aggregate": wandb.Table(dataframe=table.astype(str)),
            **{f"plots/{p.stem}": wandb.Image(str(p)) for p in plots},
        }
    )
    run.finish()

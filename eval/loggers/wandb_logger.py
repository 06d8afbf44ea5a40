"""``logger=wandb``: config, per-item metrics, the results table, the video and the first-frame comparison per
job; one report run per sweep with the verdicts, the aggregate table, failed and missing jobs, the plots, the
HTML report and the videos per (setting, image).

The run summary holds the job's numbers only (the means over its items, and its parity): per-item values are
logged to the history with ``summary="none"``, so W&B does not put the last item's values there. Runs of one
sweep share a group named by the sweep's date and time.

Offline unless the user is logged in (``wandb login`` / WANDB_API_KEY) or sets ``logger.mode`` or
WANDB_MODE; offline runs land in ``<job dir>/wandb/offline-run-*`` and can be uploaded later with
``wandb sync``.
"""

from __future__ import annotations

import datetime
import netrc
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..media import first_frame_comparison, save_video
from ..parity import parity_rows
from ..summary import Aggregate, group_media, problem_jobs

WANDB_HOST = "api.wandb.ai"
HISTORY_ONLY = ("item/*", "video/*", "first_frame/*")  # per item: history only, never the summary
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def sweep_group(sweep_dir: Path) -> str:
    """The W&B group of a sweep, named by its date and time: ``2026-11-24_10-00-00`` for Hydra's default
    ``multirun/eval/<date>/<time>``; otherwise ``<folder>_<date>_<time>`` of the sweep's start (when Hydra
    wrote its ``multirun.yaml``), the same in every process of the sweep."""
    if DATE_TIME.fullmatch(sweep_dir.parent.name):
        return f"{sweep_dir.parent.name}_{sweep_dir.name}"
    marker = sweep_dir / "multirun.yaml"
    stamp = (marker if marker.exists() else sweep_dir).stat().st_mtime if sweep_dir.exists() else 0.0
    return f"{sweep_dir.name}_{datetime.datetime.fromtimestamp(stamp):%Y-%m-%d_%H-%M-%S}"


def numeric_table(wandb, df: pd.DataFrame):
    """A wandb.Table keeping numbers numeric (NaN and inf become empty cells, which W&B's JSON cannot hold)."""
    clean = df.astype(object).where(df.notna(), None)
    clean = clean.map(lambda v: None if isinstance(v, float) and not np.isfinite(v) else v)
    return wandb.Table(dataframe=clean)


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
        for pattern in HISTORY_ONLY:
            self.run.define_metric(pattern, summary="none")

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
        self.run.config.update(
            {"perceptual_backend": result["perceptual_backend"], "metric_versions": result.get("metric_versions")},
            allow_val_change=True,
        )
        tables = {"results": pd.DataFrame(self.rows)} if self.rows else {}
        if result["parity"]:
            tables["parity"] = pd.DataFrame(parity_rows(result["parity"]))
        self.run.log({name: numeric_table(self.wandb, df) for name, df in tables.items()})
        for name in tables:  # W&B puts a logged table's reference in the summary whatever define_metric says
            del self.run.summary[name]

    def finish(self) -> None:
        self.run.finish()


def log_sweep_summary(cfg, agg: Aggregate, group: str, report: Path | None = None) -> None:
    """One report run per sweep (also when jobs failed or are missing): the verdicts, the aggregate table with
    numeric columns, the failed and missing jobs, the plots, the videos and first frames per (setting, image),
    and the HTML report as a file of the run."""
    import wandb

    run = wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        name=f"{group}-report",
        group=group,
        job_type="aggregate",
        dir=str(agg.sweep.root),
        mode=resolve_mode(cfg.mode),
        config={"complete": agg.sweep.complete, "baseline": agg.baseline},
    )
    record = {
        "aggregate": numeric_table(wandb, agg.table),
        **{f"plots/{p.stem}": wandb.Image(str(p)) for p in agg.plots},
    }
    if not agg.verdicts.empty:
        record["verdicts"] = numeric_table(wandb, agg.verdicts)
    problems = problem_jobs(agg.sweep)
    if not problems.empty:
        record["failed_or_missing"] = numeric_table(wandb, problems)
    media = [(g.label, item, m) for g in agg.groups for item, m in group_media(agg.sweep.root, g).items() if m.mp4]
    if media and cfg.save_media:
        # W&B tables cannot hold videos: each goes under video/<image>/<setting>, so one image's settings sit
        # side by side; the table holds the first-frame comparisons per (setting, image)
        table = wandb.Table(columns=["setting", "item", "seed", "first_frame"])
        for setting, item, m in media:
            record[f"video/{item}/{setting}"] = wandb.Video(str(m.mp4), format="mp4")
            table.add_data(setting, item, m.seed, wandb.Image(str(m.png)) if m.png else None)
        record["media"] = table
    run.log(record)
    if report is not None and report.is_file():
        run.save(str(report), base_path=str(report.parent), policy="now")
    run.finish()

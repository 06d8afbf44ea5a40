"""Loggers for ``logger=none|local|wandb``; result.json is written by the job whatever the choice."""

from __future__ import annotations

from pathlib import Path

from .base import Logger, NullLogger
from .local import LocalLogger


def make_logger(cfg, job_dir: Path, run_name: str, group: str | None, config: dict) -> Logger:
    """The logger named by ``cfg.name`` (a LoggerConfig)."""
    name = cfg.name.name
    if name == "none":
        return NullLogger()
    if name == "local":
        return LocalLogger(job_dir, cfg.save_media, cfg.fps)
    from .wandb_logger import WandbLogger

    return WandbLogger(job_dir, cfg, run_name, group, config)


__all__ = ["LocalLogger", "Logger", "NullLogger", "make_logger"]

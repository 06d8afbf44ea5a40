"""Hydra callbacks for multirun sweeps: progress over the sweep, then the aggregate table and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from . import progress


class SweepCallback(Callback):
    """Counts jobs as they end (in whichever process runs them) and aggregates when the sweep ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        progress.start(Path(config.hydra.sweep.dir), progress.count_jobs(list(config.hydra.overrides.task)))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        ok = job_return.status == JobStatus.COMPLETED
        progress.report(Path(config.hydra.sweep.dir), config.hydra.job.override_dirname or config.hydra.job.name, ok)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from .aggregate import AggregateError, aggregate

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            agg = aggregate(sweep_dir)
        except AggregateError as exc:
            print(f"[sweep] no aggregate: {exc}")
            return
        print(agg.markdown.read_text())
        print(f"[sweep] wrote {agg.csv.parent}: tables, {len(agg.plots)} plots and {agg.report}")
        if config.logger.name.name == "wandb":
            from .loggers.wandb_logger import log_sweep_summary, sweep_group

            log_sweep_summary(config.logger, agg, sweep_group(sweep_dir), agg.report)

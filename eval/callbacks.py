"""Hydra callbacks for multirun sweeps: refuse or resume an existing sweep folder, progress over the sweep, then
the aggregate table and plots, even when some jobs failed (the sweep then exits with status 1, naming them).

A job's exceptions are caught by the task function (``eval.run``), which writes ``failure.json`` and returns
"failed": if they reached Hydra, its basic sweeper would re-raise the first one and skip ``on_multirun_end``.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from . import progress
from .ranks import is_main_rank
from .records import ResumeError
from .workers import SWEEP_PID_ENV, sweep_marker

SWEEP_FILE = "multirun.yaml"  # Hydra's record of the sweep's config, written when the sweep starts
OWN_FILES = {progress.STATE_FILE, progress.LOG_FILE, progress.PLAN_FILE}


def _sweeper_params(config: DictConfig) -> dict:
    """Sweeps given in the config (``hydra.sweeper.params``) rather than on the command line."""
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    return OmegaConf.to_container(params) if params is not None else {}


def _sweep_identity(config: DictConfig) -> dict:
    """What decides the jobs of a sweep: its overrides, the sweeper's own parameters, the composed task config."""
    task = {k: v for k, v in OmegaConf.to_container(config, enum_to_str=True).items() if k != "hydra"}
    overrides = OmegaConf.select(config, "hydra.overrides.task", default=None)
    return {
        "overrides": list(overrides) if overrides is not None else [],
        "sweeper_params": _sweeper_params(config),
        "config": task,
    }


def check_resume(sweep_dir: Path, config: DictConfig) -> bool:
    """True if ``sweep_dir`` holds an earlier launch of this same sweep (it resumes), False if it is new or
    empty; raises ResumeError if it holds another sweep or files that are not a sweep's."""
    old_file = sweep_dir / SWEEP_FILE
    if not old_file.is_file():
        others = sorted(p.name for p in sweep_dir.iterdir() if p.name not in OWN_FILES) if sweep_dir.is_dir() else []
        if others:
            raise ResumeError(
                f"hydra.sweep.dir={sweep_dir} already holds {others[:5]} but no {SWEEP_FILE}: not a sweep folder; "
                "choose another hydra.sweep.dir"
            )
        return False
    old, new = _sweep_identity(OmegaConf.load(old_file)), _sweep_identity(config)
    if old != new:
        keys = [k for k in new if old.get(k) != new[k]]
        then = [o for o in old["overrides"] if o not in new["overrides"]]
        now = [o for o in new["overrides"] if o not in old["overrides"]]
        detail = f"overrides {then} then, {now} now" if "overrides" in keys else f"different {', '.join(keys)}"
        raise ResumeError(
            f"hydra.sweep.dir={sweep_dir} holds a different sweep ({detail}); a sweep folder is only resumed with "
            "the same overrides and config. Choose a new hydra.sweep.dir, or move that one away."
        )
    return True


def _outcome(job_return: JobReturn) -> str:
    if job_return.status != JobStatus.COMPLETED:
        return "failed"
    value = job_return.return_value
    return value if value in progress.OUTCOMES else "done"


class SweepCallback(Callback):
    """Counts jobs as they end (in whichever process runs them) and aggregates when the sweep ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_main_rank():  # under torchrun, rank 0 keeps the sweep's books
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            resuming = check_resume(sweep_dir, config)
        except ResumeError as exc:  # SystemExit: Hydra turns a callback's exceptions into warnings and goes on
            raise SystemExit(f"[sweep] refused: {exc}") from exc
        if resuming:
            print(f"[sweep] resuming {sweep_dir}: jobs whose result.json matches are skipped", flush=True)
        os.environ[SWEEP_PID_ENV] = sweep_marker()  # joblib workers inherit it and exit if this process dies
        # The basic sweeper's order: its params first, then the command line's overrides.
        overrides = [*(f"{k}={v}" for k, v in _sweeper_params(config).items()), *config.hydra.overrides.task]
        basic = str(OmegaConf.select(config, "hydra.sweeper._target_", default="")).endswith("BasicSweeper")
        jobs = progress.planned_jobs(overrides) if basic else None
        progress.start(sweep_dir, None if jobs is None else len(jobs))
        if jobs is not None:
            progress.write_plan(sweep_dir, jobs)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or not is_main_rank():
            return
        name = config.hydra.job.override_dirname or config.hydra.job.name
        progress.report(Path(config.hydra.sweep.dir), int(config.hydra.job.num), name, _outcome(job_return))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Aggregate whatever finished, then exit with status 1 if a job or the aggregate failed (raised as
        SystemExit: any other exception from a callback Hydra only turns into a warning)."""
        from .aggregate import AggregateError, aggregate

        if not is_main_rank():
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        problems = []
        try:
            agg = aggregate(sweep_dir)
        except AggregateError as exc:
            print(f"[sweep] no aggregate: {exc}")
        except Exception:  # noqa: BLE001 - reported, and the sweep's exit status says so
            traceback.print_exc()
            problems.append("the aggregate step failed (traceback above)")
        else:
            print(agg.markdown.read_text())
            print(f"[sweep] wrote {agg.csv.parent}: tables, {len(agg.plots)} plots and {agg.report}")
            if config.logger.name.name == "wandb":
                from .loggers.wandb_logger import log_sweep_summary, sweep_group

                log_sweep_summary(config.logger, agg, sweep_group(sweep_dir), agg.report)
        failed = [e["name"] for e in progress.outcomes(sweep_dir).values() if e["outcome"] == "failed"]
        if failed:
            problems.insert(0, f"{len(failed)} job(s) failed: {', '.join(failed)}; each folder's failure.json says why")
        if problems:
            raise SystemExit("[sweep] " + "; ".join(problems))

"""``python -m eval.run``: evaluate the sampler settings on a dataset (one job), or sweep them with ``-m``.

    python -m eval.run -m sampler.cond_rope=full,skip sampler.steps=8,16 seed=0,1

Each job writes ``result.json`` in its output folder, or ``failure.json`` if it raised (the sweep goes on with
the other jobs); a multirun then writes the aggregate table (CSV + Markdown) and plots under
``<sweep dir>/aggregate``, and exits with status 1 if any job failed. Re-running into the same sweep folder
resumes it. Configs live in ``conf/``; ``hydra/launcher=per_gpu`` runs one job per GPU, and
``torchrun --nproc_per_node=N -m eval.run ...`` runs each job sequence parallel over N ranks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from . import records, workers
from .config import ConfigError, register

register()
workers.register_resolvers()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> str:
    """One job; returns "done", "skipped" or "failed" (a multirun's failure is recorded, not raised, so that
    Hydra runs the remaining jobs and the aggregate)."""
    # torch, the model and the metrics load only when a job runs, not for --help
    from . import ranks
    from .job import run_or_skip
    from .loggers.wandb_logger import sweep_group

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    job_dir = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    run_name = hc.job.override_dirname or hc.job.name
    kind = workers.launcher_kind(hc.launcher._target_) if multirun else "basic"
    if kind in ("joblib", "submitit_local"):
        workers.exit_with_sweep()
    try:
        if ranks.world_size() > 1 and kind != "basic":
            raise ConfigError("under torchrun the ranks run each job together: use Hydra's basic launcher")
        per_gpu = multirun and hc.runtime.choices.get("hydra/launcher") == workers.PER_GPU
        n_jobs = OmegaConf.select(hc.launcher, "n_jobs", default=None)
        sweep_dir = Path(hc.sweep.dir) if multirun else None
        placement = workers.place(per_gpu, kind, n_jobs, cfg.model.device, sweep_dir)
        group = sweep_group(sweep_dir) if sweep_dir else None
        outcome = run_or_skip(cfg, job_dir, overrides, run_name, group, placement)
    except Exception as exc:
        if ranks.is_main_rank():
            path = records.write_failure(job_dir, run_name, overrides, exc)
            print(f"[eval] {run_name} failed: {type(exc).__name__}: {exc} (details in {path})", file=sys.stderr)
        if multirun:
            return "failed"
        raise
    if outcome == "skipped":
        print(f"[eval] {run_name}: {job_dir / records.RESULT_FILE} matches this config; skipped", file=sys.stderr)
    return outcome


if __name__ == "__main__":
    main()

"""``python -m eval.run``: evaluate the sampler settings on a dataset (one job), or sweep them with ``-m``.

    python -m eval.run -m sampler.cond_rope=full,skip sampler.steps=8,16 seed=0,1

Each job writes ``result.json`` in its output folder; a multirun then writes the aggregate table
(CSV + Markdown) and plots under ``<sweep dir>/aggregate``. Configs live in ``conf/``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .config import register

register()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from .job import run_job  # torch, the model and the metrics load only when a job runs, not for --help
    from .loggers.wandb_logger import sweep_group

    hc = HydraConfig.get()
    group = sweep_group(Path(hc.sweep.dir)) if hc.mode == RunMode.MULTIRUN else None
    run_name = hc.job.override_dirname or hc.job.name
    run_job(cfg, Path(hc.runtime.output_dir), list(hc.overrides.task), run_name, group)


if __name__ == "__main__":
    main()

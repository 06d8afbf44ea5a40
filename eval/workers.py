"""What a process that runs sweep jobs keeps between them, and where it runs them.

- One loaded pipeline per process, keyed by (checkpoint, device, dtype, sp): the jobs of a sweep that share a
  model reuse it instead of loading it again (the basic launcher runs every job in one process; each joblib
  worker runs many).
- ``hydra/launcher=per_gpu`` (conf/hydra/launcher/per_gpu.yaml: joblib, one worker per GPU): each worker takes a
  GPU of its own for its whole life by locking ``<sweep dir>/.gpus/<i>.lock`` (flock; released by the OS when
  the worker exits, however it exits). This is device assignment only; Hydra's joblib launcher schedules.
- A joblib worker exits within a second of its sweep's main process dying (killed, crashed), instead of running
  its job on for nobody, and ends the idle workers and resource trackers that process left.
- ``contended``: whether other jobs of this sweep may have shared the job's device while its step times were
  measured, decided from the launcher (see ``is_contended``).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psutil
from omegaconf import OmegaConf

if TYPE_CHECKING:
    from longcat_i2v import LongCatI2V
    from longcat_i2v.settings import RuntimeSettings

SWEEP_PID_ENV = "LONGCAT_EVAL_SWEEP"  # "<host>:<pid>" of the sweep's main process, set by eval.callbacks
PER_GPU = "per_gpu"  # the hydra/launcher choice that pins one job per GPU
PARENT_POLL_S = 0.5
SIBLING_REFRESH = 4  # polls between two looks at the parent's other children
log = logging.getLogger(__name__)


class PlacementError(RuntimeError):
    """A job cannot be given a device the launcher setting asks for."""


@dataclass(frozen=True)
class Placement:
    device: str  # the device this job runs on
    contended: bool  # other jobs of the sweep may have used the same device at the same time


def gpu_count() -> int:
    """CUDA devices this process can see (CUDA_VISIBLE_DEVICES applies); per_gpu.yaml's ``n_jobs``."""
    import torch  # here, not at the top: ``--help`` and the aggregate never load torch

    count = torch.cuda.device_count()
    if count < 1:
        raise PlacementError("hydra/launcher=per_gpu needs CUDA GPUs, and this machine shows none")
    return count


def register_resolvers() -> None:
    """``${gpu_count:}`` for the launcher configs."""
    OmegaConf.register_new_resolver("gpu_count", gpu_count, replace=True)


def launcher_kind(target: str) -> str:
    """basic, joblib, submitit_slurm, submitit_local or other, from the launcher's ``_target_``."""
    if target.endswith("BasicLauncher"):
        return "basic"
    if "joblib" in target:
        return "joblib"
    if "submitit" in target:
        return "submitit_local" if target.endswith("LocalLauncher") else "submitit_slurm"
    return "other"


def is_contended(kind: str, n_jobs: int | None, own_gpu: bool) -> bool:
    """False only when no other job of the sweep can have run on this job's device meanwhile: jobs one after
    another (a single run, the basic launcher, joblib with n_jobs=1), a GPU locked for this worker (per_gpu),
    or a SLURM allocation of its own. joblib with several workers on one device, submitit's local launcher
    (all jobs at once) and unknown launchers count as contended. Processes outside the sweep are not seen."""
    if own_gpu or kind in ("basic", "submitit_slurm"):
        return False
    return not (kind == "joblib" and n_jobs == 1)


def lock_free_slot(lock_dir: Path, count: int) -> tuple[int, IO]:
    """The first of ``count`` slots whose lock file no other open file holds, and that open, locked file."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(count):
        f = open(lock_dir / f"{slot}.lock", "w")  # noqa: SIM115 - stays open as long as the slot is held
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        return slot, f
    raise PlacementError(
        f"all {count} GPUs are held by other workers of this sweep (locks in {lock_dir}); "
        f"hydra.launcher.n_jobs must be at most {count}"
    )


_gpu_lock: tuple[int, IO] | None = None  # (slot, its locked file), held by this process for its life


def claim_gpu(lock_dir: Path, count: int) -> int:
    """The GPU index this process holds, claimed on the first call (the first one no other worker holds)."""
    global _gpu_lock
    if _gpu_lock is None:
        _gpu_lock = lock_free_slot(lock_dir, count)
    return _gpu_lock[0]


def release_gpu() -> None:
    """Give the claimed GPU back (the OS does it anyway when the process exits)."""
    global _gpu_lock
    if _gpu_lock is not None:
        _gpu_lock[1].close()
        _gpu_lock = None


def place(per_gpu: bool, kind: str, n_jobs: int | None, device: str, sweep_dir: Path | None) -> Placement:
    """Where this job runs: with ``hydra/launcher=per_gpu`` a GPU of this worker's own (``model.device`` must
    then be ``cuda``); otherwise ``device`` as configured, on a launcher of ``kind``."""
    if not per_gpu:
        return Placement(device, is_contended(kind, n_jobs, own_gpu=False))
    if device != "cuda" or sweep_dir is None:
        raise PlacementError(
            "hydra/launcher=per_gpu picks each job's GPU itself: use it in a multirun (-m) with model.device=cuda, "
            f"not {device!r}"
        )
    return Placement(f"cuda:{claim_gpu(sweep_dir / '.gpus', gpu_count())}", contended=False)


def sweep_marker() -> str:
    """The value of SWEEP_PID_ENV for this process: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    return True


def _siblings(parent: int) -> list[psutil.Process]:
    """The parent's other children: its other workers and its resource trackers."""
    with contextlib.suppress(psutil.Error):
        return [p for p in psutil.Process(parent).children() if p.pid != os.getpid()]
    return []


def _watch(parent: int, siblings: list[psutil.Process]) -> None:
    """Poll for the parent; once it is gone, end the siblings it left (idle workers and resource trackers, which
    never run a job and so never watch) and this process."""
    for tick in itertools.count(1):
        if os.getppid() != parent:
            break
        if tick % SIBLING_REFRESH == 0:
            siblings = _siblings(parent) or siblings
        time.sleep(PARENT_POLL_S)
    for sibling in siblings:
        with contextlib.suppress(psutil.Error):  # psutil refuses a pid reused by another process
            sibling.terminate()
    os._exit(1)  # the sweep is gone: nobody will read what this worker would produce


_watched = False


def exit_with_sweep() -> None:
    """In a worker process of a sweep on this host (a direct child of the process SWEEP_PID_ENV names), exit as
    soon as that process is gone: a daemon thread polls for it, started once per process. In the sweep's own
    process, on another host (SLURM) or outside a sweep, nothing."""
    global _watched
    host, _, pid_text = os.environ.get(SWEEP_PID_ENV, "").partition(":")
    if _watched or host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return
    pid = int(pid_text)
    if os.getppid() == pid:
        watch = threading.Thread(target=_watch, args=(pid, _siblings(pid)), name="exit-with-sweep", daemon=True)
        watch.start()
        _watched = True
    elif not _alive(pid):  # reparented: the sweep died before this job began
        os._exit(1)


_pipelines: dict[tuple, LongCatI2V] = {}
_KEYED = ("checkpoint", "device", "dtype", "sp_size")  # in the key already, as the job places them


def load_pipeline(
    checkpoint: str | None, device: str, dtype: str, sp_size: int = 1, runtime: RuntimeSettings | None = None
) -> LongCatI2V:
    """The core's ``load_pipeline``, imported when a job first needs a model (not for ``--help``); ``runtime``
    gives the model group's other options (offload, quantize, compile, attention, ...)."""
    from longcat_i2v import load_pipeline as load
    from longcat_i2v.settings import RuntimeSettings

    base = runtime or RuntimeSettings()
    return load(runtime=base.replace(checkpoint=checkpoint, device=device, dtype=dtype, sp_size=sp_size))


def cached_pipeline(
    checkpoint: str | None, device: str, dtype: str, sp_size: int = 1, runtime: RuntimeSettings | None = None
) -> LongCatI2V:
    """The pipeline for this key (and ``runtime``'s other options), loaded on first use. Loading one for another
    key on the same device drops the one held there first (two 13.6B models do not fit one GPU)."""
    import torch

    key = (str(Path(checkpoint).resolve()) if checkpoint else None, device, dtype, sp_size)
    if runtime is not None:
        key += tuple(sorted((k, v) for k, v in runtime.to_dict().items() if k not in _KEYED))
    if key not in _pipelines:
        for old in [k for k in _pipelines if k[1] == device]:
            del _pipelines[old]
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        log.info("loading the pipeline %s on %s (%s)", checkpoint or "tiny", device, dtype)
        _pipelines[key] = load_pipeline(checkpoint, device, dtype, sp_size=sp_size, runtime=runtime)
    return _pipelines[key]

"""Where jobs run: one GPU per worker (with a fake GPU count), the contended rule per launcher, one loaded
pipeline per process, and joblib workers that exit when their sweep's main process is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch

from eval import workers
from eval.workers import Placement, PlacementError

from .conftest import REPO, SMOKE, compose_eval


def test_each_worker_locks_a_gpu_of_its_own(tmp_path):
    first, f0 = workers.lock_free_slot(tmp_path, 2)
    second, f1 = workers.lock_free_slot(tmp_path, 2)
    assert (first, second) == (0, 1)
    with pytest.raises(PlacementError, match="all 2 GPUs are held .*n_jobs must be at most 2"):
        workers.lock_free_slot(tmp_path, 2)
    f0.close()  # a worker that exits (however) frees its GPU for the next one
    again, f2 = workers.lock_free_slot(tmp_path, 2)
    assert again == 0
    f1.close(), f2.close()


def test_per_gpu_places_each_job_on_its_workers_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    held, f = workers.lock_free_slot(tmp_path / ".gpus", 2)  # another worker holds GPU 0
    try:
        assert workers.place(True, "joblib", 2, "cuda", tmp_path) == Placement("cuda:1", contended=False)
        assert workers.place(True, "joblib", 2, "cuda", tmp_path).device == "cuda:1"  # kept for the process's life
    finally:
        workers.release_gpu()
        f.close()
    with pytest.raises(PlacementError, match="model.device=cuda, not 'cpu'"):
        workers.place(True, "joblib", 2, "cpu", tmp_path)


def test_per_gpu_launcher_config_runs_one_joblib_worker_per_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    hydra = compose_eval(["hydra/launcher=per_gpu", *SMOKE], hydra_config=True).hydra
    assert hydra.launcher._target_.endswith("JoblibLauncher") and hydra.launcher.n_jobs == 3
    assert hydra.runtime.choices["hydra/launcher"] == workers.PER_GPU  # what eval.run looks for
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(Exception, match="needs CUDA GPUs"):
        _ = compose_eval(["hydra/launcher=per_gpu"], hydra_config=True).hydra.launcher.n_jobs


@pytest.mark.parametrize(
    ("kind", "n_jobs", "own_gpu", "contended"),
    [
        ("basic", None, False, False),
        ("joblib", 1, False, False),
        ("joblib", 2, False, True),
        ("joblib", -1, False, True),
        ("joblib", 4, True, False),
        ("submitit_slurm", None, False, False),
        ("submitit_local", None, False, True),
        ("other", None, False, True),
    ],
)
def test_contended_unless_the_device_was_the_jobs_alone(kind, n_jobs, own_gpu, contended):
    assert workers.is_contended(kind, n_jobs, own_gpu) is contended


def test_launcher_kinds():
    assert workers.launcher_kind("hydra._internal.core_plugins.basic_launcher.BasicLauncher") == "basic"
    assert workers.launcher_kind("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher") == "joblib"
    assert workers.launcher_kind("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher") == (
        "submitit_slurm"
    )
    assert workers.launcher_kind("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher") == (
        "submitit_local"
    )


def test_one_pipeline_per_key_and_one_per_device(monkeypatch):
    loads = []
    monkeypatch.setattr(workers, "_pipelines", {})
    monkeypatch.setattr(workers, "load_pipeline", lambda *args, **kw: loads.append(args) or object())
    a = workers.cached_pipeline(None, "cpu", "float32")
    assert workers.cached_pipeline(None, "cpu", "float32") is a and len(loads) == 1
    b = workers.cached_pipeline(None, "cpu", "bfloat16")
    assert b is not a and len(loads) == 2
    assert list(workers._pipelines) == [(None, "cpu", "bfloat16", 1)]  # the float32 one was dropped


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_joblib_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    sweep = tmp_path / "sweep"
    # One job (the cost is the worker's start), long enough (1000 steps) to still run when the parent is killed.
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SMOKE, "sampler.steps=1000",
            "metrics=fast", "logger=none", "seed=0", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    parent = subprocess.Popen(
        [sys.executable, "-m", "eval.run", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        assert _wait_for(lambda: (sweep / "0" / "items.jsonl").exists(), timeout=180), "the job did not start"
        # The busy worker, an idle one (n_jobs=2, one job) and loky's resource trackers: none may stay.
        children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 3
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        gone = _wait_for(lambda: not any(_alive(c) for c in children), 15)
        assert gone, f"processes of the sweep still alive after it died: {[c.pid for c in children if _alive(c)]}"
        assert not (sweep / "0" / "result.json").exists()
    finally:
        for c in children:
            with contextlib.suppress(psutil.Error):
                c.kill()
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)

"""Sweep progress (jobs done / total, elapsed, ETA), shared through files in the sweep folder so that it also
works when a launcher runs jobs in other processes (joblib) or on other machines (submitit).

Each launch of a sweep starts a fresh log (a resumed sweep counts its skipped jobs as done), jobs are counted once
by their number however often they report, and the ETA only extrapolates from jobs that really ran."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from tqdm import tqdm

PLAN_FILE = "jobs.json"
STATE_FILE = "progress.json"
LOG_FILE = "progress.jsonl"
OUTCOMES = ("done", "skipped", "failed")


def planned_jobs(overrides: list[str]) -> list[list[str]] | None:
    """The overrides of each job Hydra's basic sweeper launches for these overrides, in job-number order (its own
    expansion, ``BasicSweeper.split_arguments``); None when that cannot be known without the config (e.g. a
    ``glob`` over a config group)."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except Exception:  # noqa: BLE001 - Hydra raises several types; unknown is an honest answer
        return None


def count_jobs(overrides: list[str]) -> int | None:
    """How many jobs the basic sweep of these overrides launches; None when unknown."""
    jobs = planned_jobs(overrides)
    return None if jobs is None else len(jobs)


def write_plan(sweep_dir: Path, jobs: list[list[str]]) -> None:
    """``jobs.json``: every job the sweep launches, by number, so a report can name the ones that never ended."""
    plan = {"schema": 1, "jobs": [{"num": i, "overrides": o} for i, o in enumerate(jobs)]}
    (sweep_dir / PLAN_FILE).write_text(json.dumps(plan, indent=2))


def start(sweep_dir: Path, total: int | None) -> None:
    """A new launch: its total, its start time, and an empty log."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / STATE_FILE).write_text(json.dumps({"total": total, "start": time.time()}))
    (sweep_dir / LOG_FILE).write_text("")


def record(sweep_dir: Path, job: int, name: str, outcome: str) -> None:
    """Append one finished job (a single short append, safe from concurrent processes)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    line = json.dumps({"job": job, "name": name, "outcome": outcome, "time": time.time()}) + "\n"
    fd = os.open(sweep_dir / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def outcomes(sweep_dir: Path) -> dict[int, dict]:
    """The last entry per job number of this launch's log."""
    log = sweep_dir / LOG_FILE
    lines = log.read_text().splitlines() if log.exists() else []
    entries = [json.loads(line) for line in lines if line.strip()]
    return {e["job"]: e for e in entries}


def status(sweep_dir: Path) -> dict:
    """{done, skipped, failed, total, elapsed} read back from the sweep folder (``done`` counts every finished
    job, skipped and failed included; ``total`` is None when unknown)."""
    state = json.loads((sweep_dir / STATE_FILE).read_text())
    counts = {o: 0 for o in OUTCOMES}
    for entry in outcomes(sweep_dir).values():
        counts[entry["outcome"]] += 1
    return {
        "done": sum(counts.values()),
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "total": state["total"],
        "elapsed": time.time() - state["start"],
    }


def render(done: int, skipped: int, failed: int, total: int | None, elapsed: float, width: int = 20) -> str:
    """E.g. ``[sweep] ██████░░░░ 3/8 jobs (1 failed) | elapsed 00:41 | ETA 01:08``. The count never exceeds the
    total and the ETA is never negative; with no total there is no bar and no ETA."""
    notes = ", ".join(f"{n} {what}" for n, what in ((skipped, "skipped"), (failed, "failed")) if n)
    notes = f" ({notes})" if notes else ""
    elapsed_text = f"elapsed {tqdm.format_interval(max(elapsed, 0.0))}"
    if total is None:
        return f"[sweep] {done} jobs finished{notes} | {elapsed_text}"
    total = max(total, done)
    ran, remaining = done - skipped, total - done
    filled = round(width * done / total) if total else width
    eta = tqdm.format_interval(max(elapsed, 0.0) / ran * remaining) if ran else ("00:00" if not remaining else "?")
    return f"[sweep] {'█' * filled}{'░' * (width - filled)} {done}/{total} jobs{notes} | {elapsed_text} | ETA {eta}"


def report(sweep_dir: Path, job: int, name: str, outcome: str) -> str:
    record(sweep_dir, job, name, outcome)
    line = render(**status(sweep_dir))
    print(line, file=sys.stderr, flush=True)
    return line

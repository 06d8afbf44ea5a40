"""Sweep progress (jobs done / total, elapsed, ETA), shared through files in the sweep folder so that it also
works when a launcher runs jobs in other processes (joblib) or on other machines (submitit)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from tqdm import tqdm

STATE_FILE = "progress.json"
LOG_FILE = "progress.jsonl"


def count_jobs(overrides: list[str]) -> int:
    """How many jobs the basic sweep of these overrides launches (the product of each sweep's length)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return math.prod(len(list(o.sweep_iterator())) if o.is_sweep_override() else 1 for o in parsed)


def start(sweep_dir: Path, total: int) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / STATE_FILE).write_text(json.dumps({"total": total, "start": time.time()}))


def record(sweep_dir: Path, job: str, ok: bool) -> None:
    """Append one finished job (a single short append, safe from concurrent processes)."""
    line = json.dumps({"job": job, "ok": ok, "time": time.time()}) + "\n"
    fd = os.open(sweep_dir / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def status(sweep_dir: Path) -> tuple[int, int, int, float]:
    """(done, failed, total, elapsed seconds) read back from the sweep folder."""
    state = json.loads((sweep_dir / STATE_FILE).read_text())
    log = sweep_dir / LOG_FILE
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    failed = sum(not e["ok"] for e in entries)
    return len(entries), failed, state["total"], time.time() - state["start"]


def render(done: int, failed: int, total: int, elapsed: float, width: int = 20) -> str:
    """E.g. ``[sweep] ██████░░░░ 3/8 jobs (1 failed) | elapsed 00:41 | ETA 01:08``."""
    filled = round(width * done / total) if total else width
    eta = tqdm.format_interval(elapsed / done * (total - done)) if done else "?"
    failures = f" ({failed} failed)" if failed else ""
    return (
        f"[sweep] {'█' * filled}{'░' * (width - filled)} {done}/{total} jobs{failures} | "
        f"elapsed {tqdm.format_interval(elapsed)} | ETA {eta}"
    )


def report(sweep_dir: Path, job: str, ok: bool) -> str:
    record(sweep_dir, job, ok)
    line = render(*status(sweep_dir))
    print(line, file=sys.stderr, flush=True)
    return line

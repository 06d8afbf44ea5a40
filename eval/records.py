"""The files a job leaves in its folder, and what a re-run makes of them.

- ``items.jsonl``: one line per item, appended as each item finishes (a crash keeps the finished ones);
- ``result.json``: the job's result, written once at the end (atomically: a killed job never leaves half of one);
- ``failure.json``: instead of result.json when the job raised: ``{"schema", "run_name", "overrides", "error",
  "traceback"}``.

A re-run into the same folder resumes: a job whose result.json holds the same config and overrides is skipped;
one whose result.json holds another config is refused (nothing is overwritten); a failed or unfinished job runs
again from its first item.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from pathlib import Path

RESULT_FILE = "result.json"
FAILURE_FILE = "failure.json"
ITEMS_FILE = "items.jsonl"
FAILURE_SCHEMA = 1


class ResumeError(RuntimeError):
    """The job folder already holds the result of a different config."""


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def start_items(job_dir: Path) -> None:
    """A fresh (empty) items.jsonl: the job starts again from its first item."""
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / ITEMS_FILE).write_text("")


def append_item(job_dir: Path, row: dict) -> None:
    """Append one finished item as a single line, flushed to disk before the next item starts."""
    with open(job_dir / ITEMS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def finished_result(job_dir: Path, config: dict, overrides: list[str]) -> dict | None:
    """The existing result.json if it was made with this config and these overrides; None if there is none.
    Raises ResumeError if it was made with another config, naming the keys that differ."""
    path = job_dir / RESULT_FILE
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"{path} exists but cannot be read ({exc}); move it away to re-run this job") from exc
    current = json.loads(json.dumps(config))  # the form it has once stored: tuples as lists, enums as names
    if old.get("config") == current and old.get("overrides") == list(overrides):
        return old
    keys = sorted(_differences(old.get("config") or {}, current))
    if old.get("overrides") != list(overrides):
        keys.insert(0, f"overrides {old.get('overrides')} -> {list(overrides)}")
    raise ResumeError(
        f"{path} holds the result of a different config ({', '.join(keys)}); it is kept as it is. "
        "Use a new hydra.sweep.dir (or hydra.run.dir), or move that folder away, to run this job."
    )


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def clear_failure(job_dir: Path) -> None:
    """Forget an earlier attempt's failure: this attempt writes its own outcome."""
    (job_dir / FAILURE_FILE).unlink(missing_ok=True)


def write_failure(job_dir: Path, run_name: str, overrides: list[str], exc: BaseException) -> Path:
    """``failure.json`` for a job that raised ``exc``."""
    path = job_dir / FAILURE_FILE
    write_json(
        path,
        {
            "schema": FAILURE_SCHEMA,
            "run_name": run_name,
            "overrides": list(overrides),
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        },
    )
    return path

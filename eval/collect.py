"""What a sweep folder holds: the jobs that finished (``result.json``), failed (``failure.json``) or never
reported (expected from the sweep's overrides in Hydra's ``multirun.yaml`` but neither file there), and the
finished jobs grouped by the settings they actually resolved to (two override spellings of one setting are
one group)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper  # its expansion is the one Hydra launched
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from .records import FAILURE_FILE, RESULT_FILE

SWEEP_FILE = "multirun.yaml"
IGNORED_KEYS = ("seed", "logger", "hydra")  # overrides that do not change what a job computes
SKIPPED_DIRS = ("aggregate", "wandb", "media", ".hydra")


class AggregateError(ValueError):
    """Nothing to aggregate, or results that cannot share a table; the message says which and why."""


@dataclass
class Group:
    """The finished jobs of one resolved setting."""

    label: str
    settings: dict  # every resolved setting of the group
    results: list[dict] = field(default_factory=list)

    @property
    def reached_by(self) -> list[str]:
        """The distinct override spellings (minus seed) that resolved to this setting."""
        return list(dict.fromkeys(setting_text(r["overrides"]) for r in self.results))


@dataclass
class Sweep:
    root: Path
    results: list[dict]  # each result.json, with "_dir" (its folder, relative to root)
    failures: list[dict]  # each failure.json, with "_dir"
    expected: list[list[str]] | None  # every job's overrides, from multirun.yaml; None if not a Hydra sweep
    missing: list[list[str]]  # expected jobs with neither a result nor a failure

    @property
    def complete(self) -> bool | None:
        """True when every expected job has a result; None when the expected jobs are unknown."""
        if self.expected is None:
            return None if self.failures == [] else False
        return not self.missing and not self.failures


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """``key=value`` overrides as a dict, without the keys that do not change results (seed, logger, hydra)."""
    pairs = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    return {k: v for k, v in pairs.items() if k.split(".")[0].split("/")[0] not in IGNORED_KEYS}


def setting_text(overrides: list[str]) -> str:
    """The overrides that define a setting, as written (``sampler.guidance=8 sampler.steps=2``), or ``(defaults)``."""
    return " ".join(f"{k}={v}" for k, v in parse_overrides(overrides).items()) or "(defaults)"


def seed_of(overrides: list[str]) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith("seed=")), "default")


def expected_jobs(root: Path) -> list[list[str]] | None:
    """Every job's overrides in Hydra's launch order, expanded from ``multirun.yaml`` as Hydra's basic sweeper
    expands them (its sweep overrides and ``hydra.sweeper.params``)."""
    path = root / SWEEP_FILE
    if not path.is_file():
        return None
    cfg = OmegaConf.load(path)
    overrides = list(OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or [])
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    overrides += [f"{k}={v}" for k, v in params.items()]
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _read(root: Path, name: str) -> list[dict]:
    out = []
    for path in sorted(root.rglob(name), key=_natural):
        rel = path.parent.relative_to(root)
        if any(part in SKIPPED_DIRS for part in rel.parts):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AggregateError(f"{path} cannot be read ({exc}); move it away or re-run that job") from exc
        out.append({**data, "_dir": str(rel)})
    return out


def load_sweep(root: str | Path) -> Sweep:
    """Results, failures and missing jobs of the sweep (or any folder of jobs) at ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise AggregateError(f"{root} is not a folder")
    results = _read(root, RESULT_FILE)
    finished = {r["_dir"] for r in results}
    failures = [f for f in _read(root, FAILURE_FILE) if f["_dir"] not in finished]
    expected = expected_jobs(root)
    if not results and not failures and not expected:
        raise AggregateError(f"no {RESULT_FILE} under {root}: run `python -m eval.run` (or -m for a sweep) first")
    missing = []
    if expected is not None:
        reported = {frozenset(r["overrides"]) for r in results + failures}
        missing = [job for job in expected if frozenset(job) not in reported]
        order = {frozenset(job): i for i, job in enumerate(expected)}
        results.sort(key=lambda r: order.get(frozenset(r["overrides"]), len(order)))
    return Sweep(root, results, failures, expected, missing)


def resolved_settings(result: dict) -> dict:
    """What decides a job's numbers apart from the seed: its resolved settings and checkpoint identity (results
    written before ``settings`` existed fall back to their overrides)."""
    settings = dict(result.get("settings") or parse_overrides(result["overrides"]))
    if result.get("checkpoint_id"):
        settings["checkpoint_id"] = result["checkpoint_id"]
    return settings


def _show(value) -> str:
    return "null" if value is None else str(value)


def group_by_settings(results: list[dict]) -> tuple[list[Group], list[str]]:
    """Groups of identical resolved settings in first-seen order, labelled by the settings that vary between
    groups; and those varying keys."""
    groups: dict[str, Group] = {}
    for r in results:
        settings = resolved_settings(r)
        key = json.dumps(settings, sort_keys=True, default=str)
        groups.setdefault(key, Group("", settings)).results.append(r)
    keys = list(dict.fromkeys(k for g in groups.values() for k in g.settings))
    varying = [k for k in keys if len({_show(g.settings.get(k)) for g in groups.values()}) > 1]
    for g in groups.values():
        g.label = ", ".join(f"{k}={_show(g.settings.get(k))}" for k in varying) or "all"
    return list(groups.values()), varying

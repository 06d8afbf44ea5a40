"""Collect the ``result.json`` of every job under a folder (a sweep) into one table: mean ± std of each metric
per setting (over items and seeds), as CSV and Markdown, plus a plot per metric.

A setting is the job's command-line overrides minus ``seed`` (and minus logger choices, which do not change
results); only keys that vary between jobs become columns. Run it by hand with
``python -m eval.aggregate multirun/2026-11-24/10-00-00``; a multirun runs it at the end by itself.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .job import RESULT_FILE
from .parity import parity_rows
from .plots import plot_metrics

IGNORED_KEYS = ("seed", "logger", "hydra")
ITEM_COLUMNS = ("item", "height", "width", "num_frames")
PARITY_COLUMNS = ("parity_latents_max_abs", "parity_video_max_abs", "parity_within_tolerance")


class AggregateError(ValueError):
    """Results that cannot share one table (none found, or computed with different perceptual backends)."""


@dataclass
class Aggregate:
    table: pd.DataFrame  # one row per setting: n, <metric>_mean, <metric>_std, parity columns
    settings: list[str]  # the setting columns
    fixed: dict[str, str]  # overrides shared by every job
    csv: Path
    markdown: Path
    plots: list[Path]


def load_results(root: Path) -> list[dict]:
    paths = sorted(Path(root).glob(f"**/{RESULT_FILE}"))
    if not paths:
        raise AggregateError(f"no {RESULT_FILE} under {root}: run `python -m eval.run` (or -m for a sweep) first")
    return [json.loads(p.read_text()) for p in paths]


def _parse_overrides(overrides: list[str]) -> dict[str, str]:
    pairs = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    return {k: v for k, v in pairs.items() if k.split(".")[0].split("/")[0] not in IGNORED_KEYS}


def _check_backends(results: list[dict]) -> str | None:
    backends = {r["perceptual_backend"] for r in results if r["perceptual_backend"]}
    if len(backends) > 1:
        runs = {b: [r["run_name"] for r in results if r["perceptual_backend"] == b] for b in sorted(backends)}
        raise AggregateError(
            f"results use different perceptual backends {runs}; their numbers are not comparable, "
            "aggregate them separately or rerun with one metrics.perceptual"
        )
    return backends.pop() if backends else None


def split_settings(results: list[dict]) -> tuple[list[str], dict[str, str]]:
    """Setting keys that vary between jobs (in first-seen order) and the overrides every job shares."""
    parsed = [_parse_overrides(r["overrides"]) for r in results]
    keys = list(dict.fromkeys(k for p in parsed for k in p))
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    fixed = {k: parsed[0][k] for k in keys if k not in varying and k in parsed[0]}
    return varying, fixed


def item_rows(results: list[dict], settings: list[str]) -> pd.DataFrame:
    """One row per (job, item): setting values, seed, and the item's metrics."""
    rows = []
    for r in results:
        values = _parse_overrides(r["overrides"])
        for item in r["items"]:
            rows.append({**{k: values.get(k, "") for k in settings}, "seed": r["seed"], **item})
    return pd.DataFrame(rows)


def summary_table(results: list[dict], settings: list[str]) -> pd.DataFrame:
    """Mean and sample std of each item metric per setting; parity columns are the worst case per setting."""
    items = item_rows(results, settings)
    keys = settings or None
    parts = []
    if not items.empty:
        metrics = [c for c in items.columns if c not in (*settings, "seed", *ITEM_COLUMNS)]
        grouped = items.groupby(keys, sort=False) if keys else items.assign(_all=0).groupby("_all")
        stats = grouped[metrics].agg(["mean", "std"])
        stats.columns = [f"{m}_{s}" for m, s in stats.columns]
        stats.insert(0, "n", grouped.size())
        parts.append(stats)
    jobs = pd.DataFrame(
        [
            {
                **{k: _parse_overrides(r["overrides"]).get(k, "") for k in settings},
                **{c: r["summary"].get(c) for c in PARITY_COLUMNS},
            }
            for r in results
        ]
    )
    parity = [c for c in PARITY_COLUMNS if jobs[c].notna().any()]
    if parity:
        g = jobs.groupby(keys, sort=False) if keys else jobs.assign(_all=0).groupby("_all")
        agg = {c: ("min" if c == "parity_within_tolerance" else "max") for c in parity}
        parts.append(g[parity].agg(agg))
    table = pd.concat(parts, axis=1).reset_index()
    return table.drop(columns=["_all"], errors="ignore")


def _cell(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.4g}" if pd.isna(std) else f"{mean:.4g} ± {std:.2g}"


def to_markdown(table: pd.DataFrame, settings: list[str], fixed: dict[str, str], backend: str | None) -> str:
    """The table with ``mean ± std`` cells, headed by the fixed overrides and the perceptual backend."""
    metrics = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    shown = table[[*settings, "n"]].copy() if "n" in table else table[settings].copy()
    for m in metrics:
        shown[m] = [_cell(a, b) for a, b in zip(table[f"{m}_mean"], table[f"{m}_std"], strict=True)]
    for c in PARITY_COLUMNS:
        if c in table:
            shown[c] = table[c].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3g}")
    lines = ["# Eval results", ""]
    if fixed:
        lines.append("Fixed: " + ", ".join(f"`{k}={v}`" for k, v in fixed.items()))
    lines.append(f"Perceptual metric: `{backend or 'none'}`. Cells: mean ± sample std over items × seeds.")
    return "\n".join(lines) + "\n\n" + shown.to_markdown(index=False) + "\n"


def aggregate(root: str | Path, out_dir: str | Path | None = None) -> Aggregate:
    """Write ``results.csv``, ``results.md``, ``parity.csv`` (if any) and ``plots/*.png`` to ``out_dir``
    (default ``<root>/aggregate``)."""
    root = Path(root)
    out = Path(out_dir) if out_dir else root / "aggregate"
    results = load_results(root)
    backend = _check_backends(results)
    settings, fixed = split_settings(results)
    table = summary_table(results, settings)
    table.insert(len(settings), "perceptual_backend", backend or "none")
    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / "results.csv", out / "results.md"
    table.to_csv(csv, index=False)
    markdown.write_text(to_markdown(table, settings, fixed, backend))
    parity = [{"run": r["run_name"], **row} for r in results for row in parity_rows(r["parity"])]
    if parity:
        pd.DataFrame(parity).to_csv(out / "parity.csv", index=False)
    plots = plot_metrics(table, settings, out / "plots", backend)
    return Aggregate(table, settings, fixed, csv, markdown, plots)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="a folder holding result.json files (a sweep dir or an outputs/ dir)")
    parser.add_argument("--out", help="where to write the table and plots (default: ROOT/aggregate)")
    args = parser.parse_args(argv)
    try:
        agg = aggregate(args.root, args.out)
    except AggregateError as exc:
        raise SystemExit(f"eval.aggregate: {exc}") from exc
    print(agg.markdown.read_text())
    print(f"wrote {agg.csv}, {agg.markdown} and {len(agg.plots)} plots in {agg.csv.parent / 'plots'}")


if __name__ == "__main__":
    main()

"""Aggregate a sweep folder: which jobs finished, failed or are missing (by setting); per resolved setting the
mean ± std of each metric; paired verdicts against a baseline setting (``eval.stats``); plots; and one HTML
report. It runs whatever state the sweep is in, and says when the sweep is incomplete.

Writes ``<root>/aggregate/``: ``results.csv`` / ``results.md`` (one row per setting), ``verdicts.csv``,
``items.csv`` (one row per setting × image × seed), for long videos ``segments.csv`` (one row per segment of
each) and ``segment_verdicts.csv``, ``parity.csv`` (if any), ``plots/*.png`` and ``report.html``. Run it by
hand with ``python -m eval.aggregate multirun/eval/2026-11-24/10-00-00``; a multirun runs it at the end by itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import CATALOG, CURVES, TIMING, info
from .collect import AggregateError, Group, group_by_settings, load_sweep
from .per_segment import segment_rows, segment_verdicts
from .plots import plot_curves, plot_metrics
from .report import write_report
from .stats import compare_settings
from .summary import Aggregate, parity_tables, status_line, summary_table, to_markdown, versions_text

ITEM_COLUMNS = ("item", "height", "width", "num_frames", "curves", "segments")

__all__ = ["Aggregate", "AggregateError", "aggregate", "main"]


def _versions(result: dict) -> dict[str, str]:
    versions = dict(result.get("metric_versions") or {})
    if result.get("perceptual_backend") and "perceptual" not in versions:
        versions["perceptual"] = result["perceptual_backend"]
    return versions


def mixed_versions(results: list[dict]) -> dict[str, str]:
    """Metrics whose values were produced by different metric versions or backends across results (they are
    left out of every table and verdict, never mixed), with the reason."""
    seen: dict[str, dict[str, list[str]]] = {}
    for r in results:
        for key, value in _versions(r).items():
            seen.setdefault(key, {}).setdefault(value, []).append(r["run_name"])
    conflicts = {k: v for k, v in seen.items() if len(v) > 1}
    metrics = {c for r in results for item in r["items"] for c in item if c not in ITEM_COLUMNS}
    metrics |= {c for r in results for item in r["items"] for seg in item.get("segments", ()) for c in seg}
    excluded = {}
    for metric in sorted(metrics):
        clash = [k for k in info(metric).uses if k in conflicts]
        if clash:
            excluded[metric] = "; ".join(f"{k} differs: {conflicts[k]}" for k in clash)
    return excluded


def item_rows(groups: list[Group], excluded: dict[str, str]) -> pd.DataFrame:
    """One row per (job, item): setting label, seed, job, contended flag and the item's metrics."""
    rows = []
    for g in groups:
        for r in g.results:
            for item in r["items"]:
                values = {k: v for k, v in item.items() if k not in excluded and k not in ("curves", "segments")}
                job = {"setting": g.label, "seed": r["seed"], "job": r["_dir"], "contended": bool(r.get("contended"))}
                rows.append(job | {"metric_versions": versions_text(r)} | values)
    return pd.DataFrame(rows)


def mean_curves(groups: list[Group], excluded: dict[str, str]) -> dict[str, dict[str, np.ndarray]]:
    """Per curve name, per setting: the mean over its items × seeds, frame by frame."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, metric in CURVES.items():
        if metric in excluded:  # computed with different feature backbones: not averaged together either
            continue
        for g in groups:
            curves = [item["curves"][name] for r in g.results for item in r["items"] if name in item.get("curves", {})]
            if curves and len({len(c) for c in curves}) == 1:
                out.setdefault(name, {})[g.label] = np.mean(np.array(curves, dtype=float), axis=0)
    return out


def verdict_metrics(items: pd.DataFrame) -> list[str]:
    """The metric columns with a verdict, in catalog order."""
    return [m for m in CATALOG if m in items and info(m).verdict and info(m).family != TIMING]


def aggregate(
    root: str | Path, out_dir: str | Path | None = None, baseline: str | None = None, seed: int = 0
) -> Aggregate:
    """Aggregate the jobs under ``root`` into ``out_dir`` (default ``<root>/aggregate``); ``baseline`` is the
    label of the setting the others are compared with (default: the first)."""
    root = Path(root)
    out = Path(out_dir) if out_dir else root / "aggregate"
    sweep = load_sweep(root)
    excluded = mixed_versions(sweep.results)
    groups, settings = group_by_settings(sweep.results)
    items = item_rows(groups, excluded)
    labels = [g.label for g in groups]
    if baseline is not None and baseline not in labels:
        raise AggregateError(f"--baseline {baseline!r} is not a setting of this sweep; the settings are {labels}")
    baseline = baseline or (labels[0] if labels else None)
    metrics = verdict_metrics(items) if not items.empty else []
    verdicts = compare_settings(items, "setting", metrics, baseline, seed) if len(groups) > 1 and metrics else None
    table = summary_table(groups, settings, items)
    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / "results.csv", out / "results.md"
    table.to_csv(csv, index=False)
    items.to_csv(out / "items.csv", index=False)
    verdicts = verdicts if verdicts is not None else pd.DataFrame()
    verdicts.to_csv(out / "verdicts.csv", index=False)
    segments = segment_rows(groups, excluded)
    by_segment = segment_verdicts(segments, baseline, seed)
    if not segments.empty:
        segments.to_csv(out / "segments.csv", index=False)
        by_segment.to_csv(out / "segment_verdicts.csv", index=False)
    parity, reference = parity_tables(sweep.results)
    if not parity.empty:
        parity.to_csv(out / "parity.csv", index=False)
    plots = plot_metrics(table, settings, out / "plots") if not items.empty else []
    plots += plot_curves(mean_curves(groups, excluded), out / "plots")
    agg = Aggregate(sweep, groups, settings, table, verdicts, baseline, excluded, reference, csv, markdown, plots)
    agg.segments, agg.segment_verdicts = segments, by_segment
    markdown.write_text(to_markdown(agg), encoding="utf-8")
    agg.report = write_report(agg, out / "report.html")
    return agg


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="a folder holding result.json files (a sweep dir or an outputs/ dir)")
    parser.add_argument("--out", help="where to write the tables, plots and report (default: ROOT/aggregate)")
    parser.add_argument("--baseline", help="the setting the others are compared with (default: the first)")
    args = parser.parse_args(argv)
    try:
        agg = aggregate(args.root, args.out, args.baseline)
    except AggregateError as exc:
        raise SystemExit(f"eval.aggregate: {exc}") from exc
    print(agg.markdown.read_text(encoding="utf-8"))
    print(f"wrote {agg.csv.parent}: results.csv, results.md, verdicts.csv, {len(agg.plots)} plots, report.html")
    print(status_line(agg.sweep))


if __name__ == "__main__":
    main()

"""Metric-vs-setting plots of an aggregate table: the first varying setting on the x axis, one line per
combination of the others, error bars = sample std over items × seeds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LOWER_IS_BETTER = {"first_frame_perceptual", "warping_error", "consecutive_perceptual", "flicker", "generation_s"}


def _ordered(values: pd.Series) -> list[str]:
    """Distinct values, numerically sorted when they all parse as numbers, else in first-seen order."""
    distinct = list(dict.fromkeys(values.astype(str)))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct


def plot_metric(table: pd.DataFrame, settings: list[str], metric: str, path: Path, backend: str | None) -> Path:
    """One PNG for ``metric`` (columns ``<metric>_mean`` / ``<metric>_std`` of ``table``)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    x_key, series_keys = (settings[0], settings[1:]) if settings else (None, [])
    xs = _ordered(table[x_key]) if x_key else ["all"]
    groups = table.groupby(series_keys, sort=False) if series_keys else [((), table)]
    for label, group in groups:
        label = label if isinstance(label, tuple) else (label,)
        by_x = group.set_index(group[x_key].astype(str)) if x_key else group.set_index(pd.Index(["all"]))
        means = [by_x[f"{metric}_mean"].get(x, np.nan) for x in xs]
        stds = [by_x[f"{metric}_std"].get(x, np.nan) for x in xs]
        name = ", ".join(f"{k}={v}" for k, v in zip(series_keys, label, strict=True)) or None
        ax.errorbar(range(len(xs)), means, yerr=np.nan_to_num(stds), marker="o", capsize=3, label=name)
    ax.set_xticks(range(len(xs)), xs)
    ax.set_xlabel(x_key or "")
    direction = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    shown = metric.replace("perceptual", backend or "perceptual")
    ax.set_ylabel(shown)
    ax.set_title(f"{shown} ({direction})", fontsize=10)
    if series_keys:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_metrics(table: pd.DataFrame, settings: list[str], out_dir: Path, backend: str | None) -> list[Path]:
    """A plot per metric with finite means; returns the PNG paths."""
    metrics = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    finite = [m for m in metrics if np.isfinite(table[f"{m}_mean"].astype(float)).any()]
    return [plot_metric(table, settings, m, out_dir / f"{m}.png", backend) for m in finite]

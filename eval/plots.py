"""Plots of an aggregate: each metric against the settings (the first varying setting on the x axis, one line
per combination of the others, error bars = sample std over images × seeds, titled with which way is better;
timing measured while other jobs shared the device drawn hollow and marked), and per-frame curves per setting."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .catalog import direction, info  # noqa: E402

CURVE_TITLES = {"input_similarity": "similarity of each frame to the input (higher is more faithful)"}


def _ordered(values: pd.Series) -> list[str]:
    """Distinct values, numerically sorted when they all parse as numbers, else in first-seen order."""
    distinct = list(dict.fromkeys(values.astype(str)))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct


def plot_metric(table: pd.DataFrame, settings: list[str], metric: str, path: Path) -> Path:
    """One PNG for ``metric`` (columns ``<metric>_mean`` / ``<metric>_std`` of ``table``)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    x_key, series_keys = (settings[0], settings[1:]) if settings else (None, [])
    xs = _ordered(table[x_key]) if x_key else ["all"]
    groups = table.groupby(series_keys, sort=False, dropna=False) if series_keys else [((), table)]
    contended_any = False
    for label, group in groups:
        label = label if isinstance(label, tuple) else (label,)
        by_x = group.set_index(group[x_key].astype(str)) if x_key else group.set_index(pd.Index(["all"]))
        means = np.array([by_x[f"{metric}_mean"].get(x, np.nan) for x in xs], dtype=float)
        stds = np.array([by_x[f"{metric}_std"].get(x, np.nan) for x in xs], dtype=float)
        name = ", ".join(f"{k}={v}" for k, v in zip(series_keys, label, strict=True)) or None
        line = ax.errorbar(range(len(xs)), means, yerr=np.nan_to_num(stds), marker="o", capsize=3, label=name)
        flag = f"{metric}_contended"
        if flag in by_x:
            contended = np.array([bool(by_x[flag].get(x, False)) for x in xs])
            if contended.any():
                contended_any = True
                color = line.lines[0].get_color()
                ax.plot(np.arange(len(xs))[contended], means[contended], "o", mfc="white", mec=color, ms=9)
    ax.set_xticks(range(len(xs)), xs)
    ax.set_xlabel(x_key or "")
    ax.set_ylabel(metric)
    note = "; hollow: contended, not comparable" if contended_any else ""
    ax.set_title(f"{info(metric).label}\n({direction(metric)}{note})", fontsize=9)
    if series_keys:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_metrics(table: pd.DataFrame, settings: list[str], out_dir: Path) -> list[Path]:
    """A plot per metric with finite means; returns the PNG paths."""
    metrics = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    finite = [m for m in metrics if np.isfinite(table[f"{m}_mean"].astype(float)).any()]
    return [plot_metric(table, settings, m, out_dir / f"{m}.png") for m in finite]


def plot_curves(curves: dict[str, dict[str, np.ndarray]], out_dir: Path) -> list[Path]:
    """One PNG per curve name: the mean curve of each setting against the frame index."""
    paths = []
    for name, by_setting in curves.items():
        fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
        for label, values in by_setting.items():
            ax.plot(np.arange(len(values)), values, marker=".", label=label)
        ax.set_xlabel("frame")
        ax.set_title(CURVE_TITLES.get(name, name), fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"curve_{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths

"""Long videos in the aggregate: one row per (setting, image, seed, segment) with that segment's scores
(``segments.csv``), their mean per setting and segment, and paired verdicts segment by segment (the
comparisons of ``eval.stats``, made on each segment's rows: is B's second segment better than A's?)."""

from __future__ import annotations

import pandas as pd

from .catalog import CATALOG, TIMING, info
from .collect import Group
from .stats import compare_settings

SEGMENT_COLUMNS = ("segment", "start", "end")


def segment_rows(groups: list[Group], excluded: dict[str, str]) -> pd.DataFrame:
    """Every scored segment of every long video: setting, seed, job, item, segment, its frames and scores
    (metrics computed with mixed versions left out, as in every table)."""
    rows = []
    for g in groups:
        for r in g.results:
            for item in r["items"]:
                for seg in item.get("segments", ()):
                    job = {"setting": g.label, "seed": r["seed"], "job": r["_dir"], "item": item["item"]}
                    rows.append(job | {k: v for k, v in seg.items() if k not in excluded})
    return pd.DataFrame(rows)


def _metrics(segments: pd.DataFrame) -> list[str]:
    return [m for m in CATALOG if m in segments]


def segment_means(segments: pd.DataFrame) -> pd.DataFrame:
    """Mean of each segment metric per (setting, segment) over images × seeds, settings in sweep order."""
    if segments.empty:
        return segments
    return segments.groupby(["setting", "segment"], sort=False)[_metrics(segments)].mean().reset_index()


def segment_verdicts(segments: pd.DataFrame, baseline: str | None, seed: int = 0) -> pd.DataFrame:
    """``compare_settings`` on each segment's rows against ``baseline`` (skipped for segments the baseline has
    none of, e.g. when it is an image-to-video setting); one row per (segment, candidate, metric)."""
    if segments.empty or baseline is None:
        return pd.DataFrame()
    metrics = [m for m in _metrics(segments) if info(m).verdict and info(m).family != TIMING]
    out = []
    for index, part in segments.groupby("segment", sort=True):
        if part["setting"].nunique() < 2 or baseline not in set(part["setting"]):
            continue
        verdicts = compare_settings(part, "setting", metrics, baseline, seed)
        verdicts.insert(0, "segment", index)
        out.append(verdicts)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()

"""The aggregate's content, as tables and Markdown: the sweep's status (failed and missing jobs by setting),
the verdicts, one row per resolved setting (mean ± sample std over images × seeds), and parity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import CATALOG, TIMING, direction, info
from .collect import Group, Sweep, seed_of, setting_text
from .parity import parity_rows
from .per_segment import segment_means

META_COLUMNS = ("setting", "seed", "job", "contended", "metric_versions", "item", "height", "width", "num_frames")
CASES_DIR = Path(__file__).resolve().parent / "parity" / "data" / "cases"
CASE_SETTINGS = ("num_frames", "height", "width", "num_inference_steps", "guidance_scale", "use_distill")


@dataclass
class Aggregate:
    sweep: Sweep
    groups: list[Group]
    settings: list[str]  # the resolved settings that vary between groups (the table's setting columns)
    table: pd.DataFrame  # one row per setting
    verdicts: pd.DataFrame  # one row per (candidate setting, metric)
    baseline: str | None
    excluded: dict[str, str]  # metric → why it is left out (computed with different metric versions)
    reference: pd.DataFrame  # parity on the original's reference cases, per (case, engine)
    csv: Path
    markdown: Path
    plots: list[Path] = field(default_factory=list)
    report: Path | None = None  # report.html
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)  # long videos: one row per segment
    segment_verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (segment, candidate, metric)


@dataclass
class Media:
    """The files the local and W&B loggers write for one item of one job (either may be missing)."""

    mp4: Path | None
    png: Path | None  # the first-frame comparison
    seed: int


def group_media(root: Path, group: Group) -> dict[str, Media]:
    """Per item: the media of the group's lowest-seed job that has any for it (else that job, with none)."""
    out: dict[str, Media] = {}
    for r in sorted(group.results, key=lambda r: r["seed"]):
        folder = root / r["_dir"] / "media"
        for item in r["items"]:
            name = item["item"]
            if name in out and (out[name].mp4 or out[name].png):
                continue
            mp4, png = folder / f"{name}.mp4", folder / f"{name}_first_frame.png"
            found = Media(mp4 if mp4.is_file() else None, png if png.is_file() else None, r["seed"])
            if name not in out or found.mp4 or found.png:
                out[name] = found
    return out


def metric_columns(items: pd.DataFrame) -> list[str]:
    """Metric columns in catalog order, then any others (e.g. ``vs_native_*``)."""
    cols = [c for c in items.columns if c not in META_COLUMNS]
    return [m for m in CATALOG if m in cols] + [c for c in cols if c not in CATALOG]


def _live_parity(results: list[dict]) -> dict[str, float]:
    live = [p for r in results for p in r.get("parity", []) if p.get("mode") == "live"]
    if not live:
        return {}
    latents = [p["final_latents"]["max_abs"] for p in live] + [s["max_abs"] for p in live for s in p["steps"]]
    videos = [p["video"]["max_abs"] for p in live if "video" in p]
    return {
        "parity_latents_max_abs": max(latents),
        "parity_video_max_abs": max(videos) if videos else np.nan,
        "parity_within_tolerance": float(all(p["within_tolerance"] for p in live)),
    }


def versions_text(result: dict) -> str:
    versions = result.get("metric_versions") or {"perceptual": result.get("perceptual_backend") or "none"}
    return "; ".join(f"{k}={v}" for k, v in versions.items())


def summary_table(groups: list[Group], settings: list[str], items: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: its varying settings, n (distinct image × seed pairs), jobs, the overrides that
    reached it, mean and std of each metric (timing only from jobs that ran alone on their device, unless none
    did: then ``<metric>_contended`` is true), parity of live runs of that setting, and the metric versions."""
    metrics = metric_columns(items) if not items.empty else []
    per_pair = items.groupby(["setting", "item", "seed"], sort=False)[metrics].mean() if metrics else None
    rows = []
    for g in groups:
        row: dict = {"setting": g.label, **{k: g.settings.get(k) for k in settings}}
        row["jobs"] = len(g.results)
        row["reached_by"] = " | ".join(g.reached_by)
        mine = items[items["setting"] == g.label] if not items.empty else items
        pairs = per_pair.xs(g.label, level="setting") if per_pair is not None and not mine.empty else None
        row["n"] = 0 if pairs is None else len(pairs)
        for m in metrics:
            values = pairs[m] if pairs is not None else pd.Series(dtype=float)
            if info(m).family == TIMING and not mine.empty:
                alone = mine[~mine["contended"]]
                row[f"{m}_contended"] = alone.empty
                values = (alone if not alone.empty else mine)[m]
            row[f"{m}_mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{m}_std"] = float(values.std()) if len(values) > 1 else np.nan
        row.update(_live_parity(g.results))
        row["code_version"] = " | ".join(sorted({str(r.get("code_version")) for r in g.results}))
        row["metric_versions"] = versions_text(g.results[0])
        rows.append(row)
    return pd.DataFrame(rows)


def _case_settings(case: str) -> dict:
    path = CASES_DIR / f"{case}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: data.get(k) for k in CASE_SETTINGS}


def parity_tables(results: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every parity quantity of every job (for parity.csv), and the reference cases per (case, engine) with the
    settings those cases ran (their own, not the sweep's), the worst differences and the jobs that ran them."""
    detail = pd.DataFrame([{"job": r["_dir"], **row} for r in results for row in parity_rows(r.get("parity", []))])
    ref = {}
    for r in results:
        for p in r.get("parity", []):
            if p.get("mode") != "reference":
                continue
            key = (p["case"], p.get("engine", "native"))
            entry = ref.setdefault(
                key,
                {
                    "case": key[0],
                    "engine": key[1],
                    **_case_settings(key[0]),
                    "jobs": 0,
                    "latents_max_abs": 0.0,
                    "video_max_abs": np.nan,
                    "within_tolerance": True,
                },
            )
            entry["jobs"] += 1
            worst = max([p["final_latents"]["max_abs"]] + [s["max_abs"] for s in p["steps"]])
            entry["latents_max_abs"] = max(entry["latents_max_abs"], worst)
            if "video" in p:
                entry["video_max_abs"] = np.nanmax([entry["video_max_abs"], p["video"]["max_abs"]])
            entry["within_tolerance"] &= bool(p["within_tolerance"])
    return detail, pd.DataFrame(list(ref.values()))


def status_line(sweep: Sweep) -> str:
    """E.g. ``INCOMPLETE: 6 of 8 jobs have results; 1 failed, 1 missing``."""
    done, failed, missing = len(sweep.results), len(sweep.failures), len(sweep.missing)
    if sweep.complete:
        return f"complete: {done} of {len(sweep.expected)} jobs have results"
    if sweep.complete is None:
        return f"{done} jobs have results; no multirun.yaml in {sweep.root}, so the expected jobs are unknown"
    total = len(sweep.expected) if sweep.expected is not None else done + failed
    return f"INCOMPLETE: {done} of {total} jobs have results; {failed} failed, {missing} missing"


def problem_jobs(sweep: Sweep) -> pd.DataFrame:
    """Failed and missing jobs, each with its setting (its overrides minus seed), seed and what happened."""
    rows = [
        {
            "setting": setting_text(f["overrides"]),
            "seed": seed_of(f["overrides"]),
            "status": "failed",
            "job": f["_dir"],
            "error": f.get("error", "?"),
        }
        for f in sweep.failures
    ]
    rows += [
        {
            "setting": setting_text(job),
            "seed": seed_of(job),
            "status": "missing",
            "job": "",
            "error": "no result.json and no failure.json (killed, still running, or never launched)",
        }
        for job in sweep.missing
    ]
    table = pd.DataFrame(rows, columns=["setting", "seed", "status", "job", "error"])
    return table.sort_values(["setting", "status", "seed"], kind="stable")


def fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a" if value is None or np.isnan(value) else str(value)
    return f"{value:.4g}"


def cell(row: pd.Series, metric: str) -> str:
    """``mean ± std``; a timing cell measured while other jobs shared the device is marked."""
    mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
    text = fmt(mean) if pd.isna(std) else f"{fmt(mean)} ± {std:.2g}"
    if row.get(f"{metric}_contended") in (True, np.True_):
        text += " † contended"
    return text


def verdict_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per candidate setting, which metrics say it is better or worse than the baseline, and how many cannot tell."""
    rows = []
    for candidate, v in verdicts.groupby("candidate", sort=False):
        named = v[v["better"].notna()]
        rows.append(
            {
                "setting": candidate,
                "better than baseline on": ", ".join(named[named["better"] == candidate]["metric"]) or "–",
                "worse on": ", ".join(named[named["better"] != candidate]["metric"]) or "–",
                "motion": ", ".join(v[v["verdict"].str.endswith((" higher", " lower"))]["verdict"]) or "–",
                "no detectable difference": int(v["verdict"].str.startswith("no detectable").sum()),
                "other": ", ".join(
                    f"{m}: {t}"
                    for m, t in zip(v["metric"], v["verdict"], strict=True)
                    if t.startswith(("too few", "inconclusive", "no pairs"))
                )
                or "–",
            }
        )
    return pd.DataFrame(rows)


def verdict_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdicts for display: one row per (candidate, metric)."""
    if verdicts.empty:
        return verdicts
    return pd.DataFrame(
        {
            "metric": verdicts["metric"],
            "better is": [direction(m).replace(" is better", "") for m in verdicts["metric"]],
            "vs baseline": verdicts["candidate"],
            "baseline mean": verdicts["baseline_mean"].map(fmt),
            "mean": verdicts["candidate_mean"].map(fmt),
            "Δ (paired)": verdicts["mean_diff"].map(fmt),
            "95 % CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(verdicts["ci_low"], verdicts["ci_high"], strict=True)],
            "Wilcoxon p": verdicts["p_value"].map(lambda p: "n/a" if pd.isna(p) else f"{p:.2g}"),
            "n": verdicts["n"],
            "verdict": verdicts["verdict"],
            "pairs for 80 % power": verdicts["pairs_needed"].map(lambda v: "–" if pd.isna(v) else str(int(v))),
        }
    )


def setting_table(agg: Aggregate) -> pd.DataFrame:
    """One row per setting with ``mean ± std`` cells, for display."""
    t = agg.table
    shown = t[["setting", "n", "jobs"]].copy()
    for m in [c[: -len("_mean")] for c in t.columns if c.endswith("_mean")]:
        shown[m] = [cell(row, m) for _, row in t.iterrows()]
    for c in ("parity_latents_max_abs", "parity_video_max_abs", "parity_within_tolerance"):
        if c in t:
            shown[c] = t[c].map(fmt)
    return shown


def segment_table(agg: Aggregate) -> pd.DataFrame:
    """Per (setting, segment) the mean of each segment score, for display."""
    means = segment_means(agg.segments)
    return means.assign(**{c: means[c].map(fmt) for c in means.columns if c not in ("setting", "segment")})


def segment_verdict_table(agg: Aggregate) -> pd.DataFrame:
    """The per-segment verdicts for display: ``verdict_table``'s columns after the segment."""
    table = verdict_table(agg.segment_verdicts)
    table.insert(0, "segment", agg.segment_verdicts["segment"].to_numpy())
    return table


def fixed_settings(agg: Aggregate) -> dict:
    """Resolved settings every group shares."""
    first = agg.groups[0].settings if agg.groups else {}
    return {k: v for k, v in first.items() if k not in agg.settings}


def to_markdown(agg: Aggregate) -> str:
    """The whole aggregate as Markdown (results.md)."""
    lines = ["# Eval results", "", f"**{status_line(agg.sweep)}**", ""]
    problems = problem_jobs(agg.sweep)
    if not problems.empty:
        lines += ["## Failed and missing jobs", "", problems.to_markdown(index=False), ""]
    if not agg.verdicts.empty:
        lines += [f"## Verdicts (paired by image × seed, baseline `{agg.baseline}`)", ""]
        lines += [verdict_summary(agg.verdicts).to_markdown(index=False), ""]
        lines += [verdict_table(agg.verdicts).to_markdown(index=False), ""]
    if not agg.table.empty:
        lines += [
            "## Per setting (mean ± sample std over images × seeds)",
            "",
            setting_table(agg).to_markdown(index=False),
        ]
        lines += ["", "† contended: measured while other jobs shared the device, not comparable.", ""]
    if not agg.segments.empty:
        lines += ["## Long videos per segment (mean over images × seeds; segment 0 is the image-to-video one)", ""]
        lines += [segment_table(agg).to_markdown(index=False), ""]
        if not agg.segment_verdicts.empty:
            lines += [f"Per-segment verdicts against `{agg.baseline}`:", ""]
            lines += [segment_verdict_table(agg).to_markdown(index=False), ""]
    fixed = fixed_settings(agg)
    if fixed:
        lines += ["Fixed: " + ", ".join(f"`{k}={str(v)[:60]}`" for k, v in fixed.items()), ""]
    if not agg.reference.empty:
        lines += ["## Parity with the original (reference cases run their own settings, not the sweep's)", ""]
        lines += [agg.reference.to_markdown(index=False), ""]
    for metric, why in agg.excluded.items():
        lines.append(f"- `{metric}` left out: {why}")
    if not agg.table.empty:
        lines += ["", "Metric versions: " + " | ".join(dict.fromkeys(agg.table["metric_versions"]))]
    return "\n".join(lines).rstrip() + "\n"

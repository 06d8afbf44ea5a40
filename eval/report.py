"""The sweep report a person reads: one self-contained HTML page (opens offline, nothing fetched) with the
sweep's status, failed and missing jobs, the verdict table, the per-setting table, the plots (embedded), and a
side-by-side grid of the videos per image across settings.

Videos are the mp4s the local and W&B loggers write (``<job>/media/<item>.mp4``); they are embedded while the
grid stays under ``EMBED_LIMIT`` bytes, and linked by relative path beside the page otherwise (so the page
stays openable; the links work while it sits in the sweep folder).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import pandas as pd

from .summary import (
    Aggregate,
    fixed_settings,
    group_media,
    problem_jobs,
    segment_table,
    segment_verdict_table,
    setting_table,
    status_line,
    verdict_summary,
    verdict_table,
)

EMBED_LIMIT = 40 * 1024 * 1024
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.bad{background:#fde2e1;border:1px solid #e0a09b;padding:.6em}.ok{background:#e5f5e5;padding:.6em}
.better{background:#dff3df}.worse{background:#fbe3e1}.plots img{max-width:48%;margin:4px}
.wide{overflow-x:auto}summary{cursor:pointer;margin:.5em 0}
.grid video,.grid img{width:220px;display:block}.small{font-size:12px;color:#555}
"""


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _table(df: pd.DataFrame, classes: list[str] | None = None) -> str:
    """A DataFrame as an escaped HTML table (in a horizontally scrolling box); ``classes`` style its rows."""
    if df.empty:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, (_, row) in enumerate(df.iterrows()):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def video_grid(agg: Aggregate, page: Path) -> str:
    """Rows: images; columns: settings; each cell the video (embedded or linked) and its first-frame PNG."""
    media = {g.label: group_media(agg.sweep.root, g) for g in agg.groups}
    items = list(dict.fromkeys(i for m in media.values() for i in m))
    if not any(m.mp4 or m.png for per in media.values() for m in per.values()):
        return "<p>No media: run with <code>logger=local</code> (the default) or <code>logger=wandb</code>.</p>"
    size = sum(m.mp4.stat().st_size for per in media.values() for m in per.values() if m.mp4)
    embed = size <= EMBED_LIMIT

    def src(path: Path, mime: str) -> str:
        return _data_uri(path, mime) if embed else html.escape(os.path.relpath(path, page.parent))

    head = "".join(f"<th>{html.escape(g.label)}</th>" for g in agg.groups)
    rows = []
    for item in items:
        cells = []
        for g in agg.groups:
            m = media[g.label].get(item)
            mp4, png = (m.mp4, m.png) if m else (None, None)
            parts = [f'<video src="{src(mp4, "video/mp4")}" controls loop muted autoplay></video>' if mp4 else ""]
            parts.append(f'<img src="{src(png, "image/png")}" alt="first frame">' if png else "")
            label = "not generated" if m is None else f"seed {m.seed}" if mp4 or png else f"no media (seed {m.seed})"
            cells.append(f'<td>{"".join(parts)}<span class="small">{label}</span></td>')
        rows.append(f"<tr><th>{html.escape(item)}</th>{''.join(cells)}</tr>")
    note = "embedded" if embed else f"linked (over {EMBED_LIMIT >> 20} MiB to embed; keep this page in the sweep)"
    caption = f'<p class="small">Videos {note}. First-frame PNG: input | frame 0 | 4×|difference|.</p>'
    return f'{caption}<table class="grid"><tr><th>image</th>{head}</tr>{"".join(rows)}</table>'


def _shades(verdicts: pd.DataFrame) -> list[str]:
    """Row styles: green where the candidate is better than the baseline, red where worse."""
    pairs = zip(verdicts["better"], verdicts["candidate"], strict=True)
    return ["better" if b == c else "worse" if isinstance(b, str) else "" for b, c in pairs]


def _verdicts(agg: Aggregate) -> list[str]:
    v = agg.verdicts
    baseline = html.escape(str(agg.baseline))
    shades = _shades(v)
    return [
        f"<h2>Verdicts</h2><p>Paired by image × seed against the baseline <b>{baseline}</b>. A setting is named "
        "better only when the 95 % bootstrap CI of the paired difference excludes 0 and the Wilcoxon signed-rank "
        "test agrees (p < 0.05); green: better than the baseline, red: worse.</p>",
        _table(verdict_summary(v)),
        f"<details><summary>All {len(v)} comparisons</summary>{_table(verdict_table(v), shades)}</details>",
    ]


def _segments(agg: Aggregate) -> list[str]:
    parts = [
        "<h2>Long videos per segment</h2><p>Each segment's own frames (segment 0: the image-to-video one; later: "
        "each continuation's new frames), mean over images × seeds. Drift and seam scores of the whole video are "
        "in the tables above (family <i>long video</i>).</p>",
        _table(segment_table(agg)),
    ]
    v = agg.segment_verdicts
    if not v.empty:
        table = _table(segment_verdict_table(agg), _shades(v))
        parts.append(f"<details><summary>Per-segment verdicts ({len(v)} comparisons)</summary>{table}</details>")
    return parts


def render(agg: Aggregate, page: Path) -> str:
    status = status_line(agg.sweep)
    banner = "ok" if agg.sweep.complete else "bad"
    parts = [f"<h1>Eval sweep report</h1><p class='small'>{html.escape(str(agg.sweep.root))}</p>"]
    parts.append(f'<p class="{banner}"><b>{html.escape(status)}</b></p>')
    problems = problem_jobs(agg.sweep)
    if not problems.empty:
        parts += ["<h2>Failed and missing jobs</h2>", _table(problems)]
    if not agg.verdicts.empty:
        parts += _verdicts(agg)
    parts += ["<h2>Videos per image across settings</h2>", video_grid(agg, page)]
    if not agg.table.empty:
        parts += ["<h2>Per setting</h2><p>mean ± sample std over images × seeds; † contended: not comparable.</p>"]
        parts.append(_table(setting_table(agg)))
    if not agg.segments.empty:
        parts += _segments(agg)
    fixed = ", ".join(f"{k}={str(v)[:60]}" for k, v in fixed_settings(agg).items())
    if fixed:
        parts.append(f"<p class='small'>Fixed: {html.escape(fixed)}</p>")
    if agg.plots:
        imgs = "".join(f'<img src="{_data_uri(p, "image/png")}" alt="{html.escape(p.stem)}">' for p in agg.plots)
        parts.append(f'<h2>Plots</h2><div class="plots">{imgs}</div>')
    if not agg.reference.empty:
        parts.append(
            "<h2>Parity with the original</h2><p>The reference cases run their own settings, not the sweep's.</p>"
        )
        parts.append(_table(agg.reference))
    if agg.excluded:
        items = "".join(f"<li><code>{html.escape(m)}</code>: {html.escape(w)}</li>" for m, w in agg.excluded.items())
        parts.append(f"<h2>Left out</h2><ul>{items}</ul>")
    if not agg.table.empty:
        versions = " | ".join(dict.fromkeys(agg.table["metric_versions"]))
        parts.append(f"<p class='small'>Metric versions: {html.escape(versions)}</p>")
    head = f"<meta charset='utf-8'><title>Eval sweep report</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{chr(10).join(parts)}</body></html>"


def write_report(agg: Aggregate, page: Path) -> Path:
    page.write_text(render(agg, page), encoding="utf-8")
    return page

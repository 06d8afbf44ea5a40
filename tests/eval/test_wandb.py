"""``logger=wandb`` offline: the run directory holds the metrics, the results table and the media."""

from __future__ import annotations

import datetime
import json
import os
import struct
import time

import pytest

from .conftest import SMOKE, run_eval

wandb_pb2 = pytest.importorskip("wandb.proto.wandb_internal_pb2")

BLOCK = 32768  # .wandb files use the LevelDB log format: 32 KiB blocks of (crc, length, type) records


def read_records(path):
    data, pos, records, chunk = path.read_bytes(), 7, [], b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            pos += BLOCK - pos % BLOCK
            continue
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_pb2.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def finished_records(path, timeout_s=60.0):
    """The records once W&B's writer has written the run's exit record: in-process, ``run.finish()`` can return
    while its service process is still writing the file."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = read_records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def items(update):
    """{key: value} of a history/summary/config update (wandb stores some keys as ``nested_key`` paths)."""
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in update}


def test_offline_run_holds_metrics_and_table(tmp_path):
    run_eval(
        [*SMOKE, "dataset.limit=2", "logger=wandb", f"hydra.run.dir={tmp_path}"],
        env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    records = read_records(next(run_dir.glob("run-*.wandb")))

    history = [items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    assert [h["_step"] for h in history] == [0, 1]
    result = json.loads((tmp_path / "result.json").read_text())
    for step, item in zip(history, result["items"], strict=True):
        assert step["item/vae_roundtrip_psnr"] == pytest.approx(item["vae_roundtrip_psnr"])
        assert step["item/warping_error"] == pytest.approx(item["warping_error"])
        assert step[f"video/{item['item']}/_type"] == "video-file"
        assert step[f"first_frame/{item['item']}/_type"] == "image-file"
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            summary.update(items(record.summary.update))
            for removed in record.summary.remove:
                for key in [k for k in summary if k.split("/")[0] == (removed.key or removed.nested_key[0])]:
                    del summary[key]
    means = {k: v for k, v in result["summary"].items() if v is not None}
    assert {k: v for k, v in summary.items() if not k.startswith("_")} == pytest.approx(means)  # means only
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    config = items(run.config.update)
    assert config["sampler"]["num_frames"] == 5 and config["logger"]["name"] == "wandb"
    configs = [items(r.config.update) for r in records if r.WhichOneof("record_type") == "config"]
    later = {k: v for c in configs for k, v in c.items()}
    assert later["perceptual_backend"] == result["perceptual_backend"]
    assert later["metric_versions"] == result["metric_versions"]

    (table_file,) = (run_dir / "files" / "media" / "table").glob("results_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][0] == "item" and "vae_roundtrip_psnr" in table["columns"]
    assert [row[0] for row in table["data"]] == ["hills_sunset", "ball_on_floor"]
    assert len(list((run_dir / "files" / "media" / "videos").rglob("*.mp4"))) == 2
    assert len(list((run_dir / "files" / "media" / "images").rglob("*.png"))) == 2


def test_mode_follows_login_and_environment(monkeypatch, tmp_path):
    from eval.loggers.wandb_logger import resolve_mode

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert resolve_mode(None) == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password k3y\n")
    assert resolve_mode(None) == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode(None) == "disabled"
    assert resolve_mode("offline") == "offline"


def test_sweep_groups_are_named_by_date_and_time(tmp_path):
    from eval.loggers.wandb_logger import sweep_group

    assert sweep_group(tmp_path / "multirun" / "eval" / "2026-11-24" / "10-00-00") == "2026-11-24_10-00-00"
    sweep = tmp_path / "my-sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}")
    os.utime(sweep / "multirun.yaml", (1795000000, 1795000000))
    stamp = datetime.datetime.fromtimestamp(1795000000).strftime("%Y-%m-%d_%H-%M-%S")
    assert sweep_group(sweep) == f"my-sweep_{stamp}"


def test_sweep_report_run_holds_verdicts_numeric_tables_failures_and_media(tmp_path, monkeypatch):
    from eval.aggregate import aggregate
    from eval.config import LoggerConfig
    from eval.loggers.wandb_logger import log_sweep_summary
    from eval.media import save_video

    from .conftest import panning_clip
    from .test_aggregate import ITEMS, item, write_failure, write_job, write_sweep_file

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    write_sweep_file(tmp_path, ["sampler.guidance=1,8,9"])
    for num, guidance in enumerate((1.0, 8.0)):
        rows = [item(n, flicker=0.1 + 0.01 * k + 0.02 * num) for k, n in enumerate(ITEMS)]
        job = write_job(tmp_path, num, [f"sampler.guidance={guidance:g}"], guidance, 0, rows)
        save_video(panning_clip(frames=5), job / "media" / f"{ITEMS[0]}.mp4", fps=15)
    write_failure(tmp_path, 2, ["sampler.guidance=9"], "RuntimeError: boom")
    agg = aggregate(tmp_path)
    log_sweep_summary(LoggerConfig(), agg, "sweep-x", agg.report)

    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    records = finished_records(next(run_dir.glob("run-*.wandb")))
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.run_group, run.display_name) == ("sweep-x", "sweep-x-report")
    tables = run_dir / "files" / "media" / "table"
    aggregate_table = json.loads(next(tables.glob("aggregate_*.table.json")).read_text())
    column = aggregate_table["columns"].index("flicker_mean")
    assert [row[column] for row in aggregate_table["data"]] == pytest.approx([0.125, 0.145])  # numbers, not text
    verdicts = json.loads(next(tables.glob("verdicts_*.table.json")).read_text())
    assert verdicts["data"][0][verdicts["columns"].index("verdict")] == "guidance_scale=1.0 better"
    failed = json.loads(next(tables.glob("failed_or_missing_*.table.json")).read_text())
    assert failed["data"] == [["sampler.guidance=9", "default", "failed", "2", "RuntimeError: boom"]]
    media = json.loads(next(tables.glob("media_*.table.json")).read_text())
    assert [row[:2] for row in media["data"]] == [["guidance_scale=1.0", ITEMS[0]], ["guidance_scale=8.0", ITEMS[0]]]
    history = [items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    for setting in ("guidance_scale=1.0", "guidance_scale=8.0"):  # one panel per (image, setting)
        assert history[0][f"video/{ITEMS[0]}/{setting}/_type"] == "video-file"
    assert len(list((run_dir / "files" / "media" / "videos").rglob("*.mp4"))) == 2
    assert (run_dir / "files" / "report.html").is_file()
    assert {p.name.split("_0_")[0] for p in (run_dir / "files" / "media" / "images" / "plots").glob("*.png")} >= {
        "flicker"
    }

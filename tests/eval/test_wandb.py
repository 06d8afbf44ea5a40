"""``logger=wandb`` offline: the run directory holds the metrics, the results table and the media."""

from __future__ import annotations

import json
import struct

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
        assert step["item/first_frame_psnr"] == pytest.approx(item["first_frame_psnr"])
        assert step["item/warping_error"] == pytest.approx(item["warping_error"])
        assert step[f"video/{item['item']}/_type"] == "video-file"
        assert step[f"first_frame/{item['item']}/_type"] == "image-file"
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            summary.update(items(record.summary.update))
    assert summary["flicker"] == pytest.approx(result["summary"]["flicker"])
    assert summary["perceptual_backend"] == result["perceptual_backend"]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    config = items(run.config.update)
    assert config["sampler"]["num_frames"] == 5 and config["logger"]["name"] == "wandb"

    (table_file,) = (run_dir / "files" / "media" / "table").glob("results_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][0] == "item" and "first_frame_psnr" in table["columns"]
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


def test_sweep_summary_run_holds_the_aggregate_table_and_plots(tmp_path, monkeypatch):
    import pandas as pd

    from eval.config import LoggerConfig
    from eval.loggers.wandb_logger import log_sweep_summary
    from eval.plots import plot_metrics

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    table = pd.DataFrame(
        {"sampler.steps": ["8", "16"], "n": [2, 2], "flicker_mean": [0.2, 0.1], "flicker_std": [0.01, 0]}
    )
    plots = plot_metrics(table, ["sampler.steps"], tmp_path / "plots", None)
    log_sweep_summary(LoggerConfig(), tmp_path, table, plots, "sweep-x")
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    (table_file,) = (run_dir / "files" / "media" / "table").glob("aggregate_*.table.json")
    assert json.loads(table_file.read_text())["data"] == [["8", "2", "0.2", "0.01"], ["16", "2", "0.1", "0.0"]]
    assert [p.name.split("_0_")[0] for p in (run_dir / "files" / "media" / "images" / "plots").glob("*.png")] == [
        "flicker"
    ]

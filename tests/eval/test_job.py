"""One job in this process, with the generation replaced by a constructed clip: the manifest is checked before
the model loads, finished items reach the disk one by one, the model is loaded once for several jobs, and the
result records the code version, the checkpoint identity and whether the step times were contended."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from eval import job, records, workers
from eval.dataset import DatasetError
from eval.engines import EngineRun
from eval.workers import Placement

from .conftest import compose_eval, panning_clip

FAST = ["sampler=tiny", "metrics=fast", "logger=none"]


class FakePipe:
    """Stands in for a loaded LongCatI2V: only its checkpoint folder is read."""

    def __init__(self, checkpoint_dir):
        self.checkpoint_dir = checkpoint_dir


class FakeEngine:
    """Returns a panning clip for the first ``ok`` items, then raises as a device failure would."""

    name = "native"

    def __init__(self, ok: int):
        self.ok, self.calls = ok, 0

    def generate(self, image, prompt, request, seed, on_step, keep_steps):
        self.calls += 1
        if self.calls > self.ok:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        frames = panning_clip(frames=5, shift=seed + 1)
        return EngineRun(frames, frames[0], torch.zeros(1), [0.5, 0.25])

    def close(self):
        pass


@pytest.fixture
def checkpoint(tmp_path):
    root = tmp_path / "ckpt"
    (root / "dit").mkdir(parents=True)
    (root / "dit" / "config.json").write_text('{"num_layers": 2}')
    (root / "dit" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    return root


@pytest.fixture
def fake_model(monkeypatch, checkpoint):
    """Loading counts calls and returns a FakePipe; the engine is a FakeEngine that succeeds for 10 items."""
    loads = []
    monkeypatch.setattr(workers, "_pipelines", {})
    monkeypatch.setattr(workers, "load_pipeline", lambda *args, **kw: loads.append(args) or FakePipe(checkpoint))
    engine = FakeEngine(ok=10)
    monkeypatch.setattr(job, "make_engine", lambda *args: engine)
    return loads, engine


def test_a_bad_image_in_item_3_is_reported_before_item_1_is_generated(tmp_path, fake_model):
    for name in ("a", "b"):
        Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / f"{name}.png")
    (tmp_path / "c.png").write_bytes(b"GIF89a, but only the header")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "items:\n  - {image: a.png, prompt: x}\n  - {image: b.png, prompt: y}\n  - {image: c.png, prompt: z}\n"
    )
    cfg = compose_eval([*FAST, "dataset=folder", f"dataset.manifest={manifest}"])
    loads, engine = fake_model
    with pytest.raises(DatasetError, match="m.yaml:4: .*c.png is not an image"):
        job.run_job(cfg, tmp_path / "job", [], "job", None)
    assert loads == [] and engine.calls == 0
    assert not (tmp_path / "job" / records.ITEMS_FILE).exists()


def test_finished_items_are_on_disk_when_a_later_item_fails(tmp_path, fake_model):
    loads, engine = fake_model
    engine.ok = 1
    cfg = compose_eval([*FAST, "dataset.limit=2"])
    with pytest.raises(RuntimeError, match="illegal memory access"):
        job.run_job(cfg, tmp_path, [], "job", None)
    rows = [json.loads(line) for line in (tmp_path / records.ITEMS_FILE).read_text().splitlines()]
    assert [r["item"] for r in rows] == ["hills_sunset"]
    assert rows[0]["step_s"] == pytest.approx(0.375) and rows[0]["num_frames"] == 5
    assert not (tmp_path / records.RESULT_FILE).exists()


def test_two_jobs_in_one_process_load_the_model_once_and_record_what_ran(tmp_path, fake_model, checkpoint):
    loads, engine = fake_model
    for seed in (0, 1):
        cfg = compose_eval([*FAST, "dataset.limit=1", f"seed={seed}"])
        placement = Placement("cpu", contended=seed == 1)
        job.run_job(cfg, tmp_path / str(seed), [f"seed={seed}"], f"seed={seed}", None, placement)
    assert len(loads) == 1 and engine.calls == 2
    first, second = (json.loads((tmp_path / s / records.RESULT_FILE).read_text()) for s in "01")
    assert (first["contended"], second["contended"]) == (False, True)
    assert first["checkpoint_id"].startswith("ckpt:") and first["checkpoint_id"].endswith(":64")
    assert first["code_version"] and first["code_version"] == second["code_version"]
    assert first["settings"]["num_inference_steps"] == 2 and first["device"] == "cpu"
    assert [r["item"] for r in first["items"]] == ["hills_sunset"]


def test_a_rerun_skips_a_matching_result_and_refuses_another_configs(tmp_path, fake_model):
    loads, engine = fake_model
    cfg = compose_eval([*FAST, "dataset.limit=1"])
    assert job.run_or_skip(cfg, tmp_path, ["dataset.limit=1"], "a", None) == "done"
    before = (tmp_path / records.RESULT_FILE).read_text()
    assert job.run_or_skip(cfg, tmp_path, ["dataset.limit=1"], "a", None) == "skipped"
    assert engine.calls == 1
    other = compose_eval([*FAST, "dataset.limit=1", "sampler.steps=3"])
    with pytest.raises(records.ResumeError, match=r"different config \(sampler.steps\); it is kept"):
        job.run_or_skip(other, tmp_path, ["dataset.limit=1"], "a", None)
    assert (tmp_path / records.RESULT_FILE).read_text() == before and engine.calls == 1

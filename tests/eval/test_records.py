"""What a job leaves behind: failure.json's fields, result.json written whole or not at all, and the code version
and checkpoint identity that tell results apart."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from eval import provenance, records
from eval.callbacks import check_resume


def test_failure_json_names_the_error_and_keeps_the_traceback(tmp_path):
    try:
        raise ValueError("sampler.num_frames=6 is invalid")
    except ValueError as exc:
        path = records.write_failure(tmp_path, "sampler.num_frames=6", ["sampler.num_frames=6"], exc)
    failure = json.loads(path.read_text())
    assert path.name == "failure.json"
    assert set(failure) == {"schema", "run_name", "overrides", "error", "traceback"} and failure["schema"] == 1
    assert failure["error"] == "ValueError: sampler.num_frames=6 is invalid"
    assert failure["overrides"] == ["sampler.num_frames=6"]
    assert "test_failure_json_names_the_error" in failure["traceback"]


def test_a_write_that_fails_leaves_the_previous_file_and_no_debris(tmp_path):
    records.write_json(tmp_path / "result.json", {"a": 1})
    with pytest.raises(TypeError):
        records.write_json(tmp_path / "result.json", {"a": object()})
    assert json.loads((tmp_path / "result.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_an_unreadable_result_is_refused_not_overwritten(tmp_path):
    (tmp_path / "result.json").write_text('{"cut off')
    with pytest.raises(records.ResumeError, match="cannot be read"):
        records.finished_result(tmp_path, {}, [])
    assert records.finished_result(tmp_path / "nothing", {}, []) is None


def test_a_folder_that_is_not_a_sweep_is_refused_and_an_empty_one_is_new(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(records.ResumeError, match=r"already holds \['notes.txt'\] but no multirun.yaml"):
        check_resume(tmp_path, None)
    assert check_resume(tmp_path / "new", None) is False


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_code_version_is_git_describe_or_the_package_version(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "f.py").write_text("x = 1\n")
    _git(repo, "add", "f.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "v9.9", "-m", "v")
    monkeypatch.setattr(provenance, "REPO_ROOT", repo.resolve())
    provenance.code_version.cache_clear()
    assert provenance.code_version() == "v9.9"
    (repo / "f.py").write_text("x = 2\n")
    provenance.code_version.cache_clear()
    assert provenance.code_version() == "v9.9-dirty"
    monkeypatch.setattr(provenance, "REPO_ROOT", (tmp_path / "installed").resolve())  # not a checkout
    provenance.code_version.cache_clear()
    assert provenance.code_version() == "0.1.0"
    provenance.code_version.cache_clear()


@pytest.mark.parametrize("dit", ["dit", "transformer"])
def test_checkpoint_id_is_name_config_hash_and_weight_bytes(tmp_path, dit):
    root = tmp_path / "LongCat-Video"
    (root / dit).mkdir(parents=True)
    (root / "vae").mkdir()
    config = b'{"hidden_size": 4096}'
    (root / dit / "config.json").write_bytes(config)
    (root / dit / "model-00001.safetensors").write_bytes(b"\1" * 100)
    (root / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"\2" * 23)
    (root / "README.md").write_text("not a weight")
    expected = f"LongCat-Video:{hashlib.sha256(config).hexdigest()[:16]}:123"
    assert provenance.checkpoint_id(root) == expected
    (root / dit / "config.json").write_bytes(b'{"hidden_size": 2048}')
    assert provenance.checkpoint_id(root) != expected

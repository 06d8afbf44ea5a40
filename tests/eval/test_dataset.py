"""Manifests: YAML or JSONL, paths relative to the manifest, clear errors for malformed items."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from eval.dataset import DatasetError, load_manifest


@pytest.fixture
def folder(tmp_path):
    for name in ("a", "b"):
        Image.new("RGB", (32, 16), (10, 20, 30)).save(tmp_path / f"{name}.png")
    return tmp_path


def test_builtin_set_has_twelve_distinct_small_images_with_motion_prompts():
    items = load_manifest()
    assert [i.id for i in items][:4] == ["hills_sunset", "ball_on_floor", "lighthouse_sea", "city_night"]
    assert len(items) == 12 and len({i.id for i in items}) == 12
    images = [Image.open(i.image) for i in items]
    assert len({im.tobytes() for im in images}) == 12 and all(max(im.size) <= 320 for im in images)
    assert all(i.image.stat().st_size < 20_000 and len(i.prompt) > 40 for i in items)
    assert [i.id for i in load_manifest(limit=2)] == ["hills_sunset", "ball_on_floor"]


def test_yaml_list_and_jsonl_manifests(folder):
    (folder / "m.yaml").write_text("- {image: a.png, prompt: first}\n- {id: second, image: b.png, prompt: ' two '}\n")
    items = load_manifest(folder / "m.yaml")
    assert [(i.id, i.prompt) for i in items] == [("a", "first"), ("second", "two")]
    assert items[0].image == (folder / "a.png").resolve()
    lines = [json.dumps({"image": "a.png", "prompt": "x"}), "", json.dumps({"image": "b.png", "prompt": "y"})]
    (folder / "m.jsonl").write_text("\n".join(lines))
    assert [i.id for i in load_manifest(folder / "m.jsonl")] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items:\n  - {image: missing.png, prompt: x}\n", "image 'missing.png' not found"),
        ("items:\n  - {image: a.png, prompt: x, fps: 3}\n", "unknown keys \\['fps'\\]"),
        ("items:\n  - {image: a.png}\n", "'prompt' must be a non-empty string"),
        ("items:\n  - {image: a.png, prompt: x}\n  - {image: a.png, prompt: y}\n", "duplicate item ids \\['a'\\]"),
        ("items: []\n", "no items"),
        ("just text\n", "expected a list of items"),
    ],
)
def test_malformed_manifests_name_the_problem(folder, text, message):
    (folder / "m.yaml").write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_manifest(folder / "m.yaml")


def test_unknown_manifest_type_and_bad_jsonl(folder):
    (folder / "m.txt").write_text("a.png x")
    with pytest.raises(DatasetError, match="unknown manifest type '.txt'"):
        load_manifest(folder / "m.txt")
    (folder / "m.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match="m.jsonl:1: not a JSON object"):
        load_manifest(folder / "m.jsonl")

"""Manifests: YAML or JSONL, paths relative to the manifest, ids made into safe file names, every problem
(including undecodable images) reported at once with file:line before anything is generated."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from eval.dataset import DatasetError, load_manifest, safe_id


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
        ("items:\n  - {image: a.png, prompt: x}\n  - {image: a.png, prompt: y}\n", "m.yaml:3: id 'a' names the same"),
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


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../escape", "escape"),
        ("/etc/passwd", "etc_passwd"),
        ("a/../../b", "a_.._.._b"),
        ("C:\\Windows\\x", "C_Windows_x"),
        (".hidden", "hidden"),
        ("\uff0e\uff0e\uff0fup", "up"),  # fullwidth "../" (NFKC makes it ASCII)
        ("con", "con_"),
        ("hills sunset #2", "hills_sunset_2"),
        ("x" * 300, "x" * 100),
    ],
)
def test_ids_become_file_names_inside_the_job_folder(tmp_path, raw, safe):
    assert safe_id(raw) == safe
    job = tmp_path / "job"
    for written in (job / "media" / f"{safe}.mp4", job / "media" / f"{safe}_first_frame.png"):
        assert written.resolve().parent == (job / "media").resolve()


def test_hostile_ids_in_a_manifest_are_made_safe_or_refused(folder):
    (folder / "m.yaml").write_text(
        "- {id: ../../escape, image: a.png, prompt: x}\n- {id: /abs/b, image: b.png, prompt: y}\n"
    )
    assert [i.id for i in load_manifest(folder / "m.yaml")] == ["escape", "abs_b"]
    (folder / "m.yaml").write_text("- {id: ../.., image: a.png, prompt: x}\n")
    with pytest.raises(DatasetError, match="m.yaml:1: id '../..' has no letters or digits"):
        load_manifest(folder / "m.yaml")


def test_ids_that_collide_once_safe_are_refused_naming_both_items(folder):
    (folder / "m.yaml").write_text(
        "items:\n  - {id: a/b, image: a.png, prompt: x}\n  - {id: c, image: b.png, prompt: y}\n"
        "  - {id: A_B, image: b.png, prompt: z}\n"
    )
    with pytest.raises(DatasetError, match="m.yaml:4: id 'A_B' names the same files as 'a_b' at m.yaml:2"):
        load_manifest(folder / "m.yaml")


def test_every_problem_is_reported_at_once_with_its_line(folder):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "m.yaml").write_text(
        "items:\n"
        "  - {image: a.png, prompt: fine}\n"
        "  - {image: b.png, prompt: ''}\n"
        "  - image: broken.png\n"
        "    prompt: third\n"
    )
    with pytest.raises(DatasetError) as err:
        load_manifest(folder / "m.yaml")
    message = str(err.value)
    assert "2 problem(s), nothing was generated" in message
    assert "m.yaml:3: 'prompt' must be a non-empty string" in message
    assert "m.yaml:4: cannot decode image" in message and "broken.png" in message


def test_images_outside_the_limit_are_not_decoded_but_must_exist(folder):
    (folder / "broken.png").write_bytes(b"nothing")
    (folder / "m.jsonl").write_text(
        "\n".join(json.dumps(e) for e in [{"image": "a.png", "prompt": "x"}, {"image": "broken.png", "prompt": "y"}])
    )
    assert [i.id for i in load_manifest(folder / "m.jsonl", limit=1)] == ["a"]
    with pytest.raises(DatasetError, match="m.jsonl:2: .*not an image PIL can read"):
        load_manifest(folder / "m.jsonl")
    (folder / "m.jsonl").write_text(
        json.dumps({"image": "a.png", "prompt": "x"}) + "\n" + '{"image": "gone.png", "prompt": "y"}'
    )
    with pytest.raises(DatasetError, match="m.jsonl:2: image 'gone.png' not found"):
        load_manifest(folder / "m.jsonl", limit=1)


def test_prompts_must_be_valid_text(folder):
    (folder / "m.jsonl").write_text('{"image": "a.png", "prompt": "bad \\ud800 surrogate"}\n')
    with pytest.raises(DatasetError, match="m.jsonl:1: 'prompt' is not valid Unicode text"):
        load_manifest(folder / "m.jsonl")
    (folder / "m.yaml").write_text("- {image: a.png, prompt: 42}\n")
    with pytest.raises(DatasetError, match="m.yaml:1: 'prompt' must be a non-empty string, got 42"):
        load_manifest(folder / "m.yaml")

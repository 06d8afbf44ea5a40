"""The evaluation set: a folder of images plus a manifest of prompts.

A manifest is YAML (a list of items, or a mapping with an ``items`` list) or JSONL (one item per line).
Each item has ``image`` (a path relative to the manifest), ``prompt``, and optionally ``id`` (default: the
image file's stem). Example::

    items:
      - id: hills
        image: hills.png
        prompt: The camera pans slowly to the right over green hills.

Ids name the files a job writes (``media/<id>.mp4``), so each is turned into a safe file name (letters, digits,
``.``, ``_``, ``-``; no path separators, no leading dot) and two ids that collide once made safe are refused.
The whole manifest is checked before anything is generated: every problem is reported at once, each naming
``file:line``, so a bad image in item 30 cannot cost the 29 generations before it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from longcat_i2v.errors import ImageInputError
from longcat_i2v.images import load_image

from .config import BUILTIN_MANIFEST

ITEM_KEYS = {"id", "image", "prompt"}
MAX_ID_LENGTH = 100
MAX_REPORTED = 20  # problems listed in one error; the rest are counted
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Names Windows reserves whatever the extension (a ``con.mp4`` cannot be created there).
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


class DatasetError(ValueError):
    """A manifest that cannot be read or has malformed items; the message names the file, line and item."""


@dataclass(frozen=True)
class Item:
    id: str  # a safe file name (see ``safe_id``)
    image: Path
    prompt: str
    where: str = ""  # "manifest.yaml:12": where the item is written, for messages


def safe_id(raw: str) -> str:
    """``raw`` as a file name that stays inside its folder: runs of other characters become ``_``, leading and
    trailing ``._-`` are dropped (no ``..``, no hidden file), at most MAX_ID_LENGTH characters. Empty if nothing
    usable is left."""
    text = UNSAFE.sub("_", unicodedata.normalize("NFKC", raw)).strip("._-")[:MAX_ID_LENGTH].rstrip("._-")
    return f"{text}_" if text.lower() in RESERVED else text


def _yaml_entries(path: Path, text: str) -> list[tuple[int, object]]:
    """(line, entry) pairs; the line comes from the YAML node, so messages can point at the item."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: invalid YAML: {exc}") from exc
    node = root
    if isinstance(data, dict):
        data = data.get("items")
        node = next((v for k, v in root.value if k.value == "items"), None)
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise DatasetError(f"{path}: expected a list of items or a mapping with an 'items' list")
    return [(child.start_mark.line + 1, entry) for child, entry in zip(node.value, data, strict=True)]


def _jsonl_entries(path: Path, text: str) -> list[tuple[int, object]]:
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not a JSON object: {exc}") from exc
    return entries


def _read_entries(path: Path) -> list[tuple[int, object]]:
    if path.suffix not in (".jsonl", ".yaml", ".yml"):
        raise DatasetError(f"{path}: unknown manifest type {path.suffix!r}; use .yaml, .yml or .jsonl")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the manifest: {exc}") from exc
    return _jsonl_entries(path, text) if path.suffix == ".jsonl" else _yaml_entries(path, text)


def _text_problem(key: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"'{key}' must be a non-empty string, got {value!r}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"'{key}' is not valid Unicode text ({exc.reason} at position {exc.start})"
    return None


def _parse_item(entry: object, where: str, root: Path) -> Item:
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: an item must be a mapping with image and prompt, got {entry!r}")
    unknown = set(entry) - ITEM_KEYS
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(ITEM_KEYS)}")
    for key in ("image", "prompt"):
        if problem := _text_problem(key, entry.get(key)):
            raise DatasetError(f"{where}: {problem}")
    image = (root / entry["image"]).resolve()
    if not image.is_file():
        raise DatasetError(f"{where}: image {entry['image']!r} not found (looked for {image})")
    raw_id = entry.get("id", image.stem)
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise DatasetError(f"{where}: 'id' must be a string, got {raw_id!r}")
    if (problem := _text_problem("id", str(raw_id))) or not (item_id := safe_id(str(raw_id))):
        raise DatasetError(f"{where}: {problem or f'id {raw_id!r} has no letters or digits to name files with'}")
    return Item(id=item_id, image=image, prompt=entry["prompt"].strip(), where=where)


def _image_problem(item: Item) -> str | None:
    """Why the item's image cannot be used (not an image, corrupt, too large), or None; decodes it fully."""
    try:
        load_image(item.image).close()
    except ImageInputError as exc:
        return f"{item.where}: {exc}"
    return None


def _duplicate_problems(items: list[Item]) -> list[str]:
    """Ids that name the same file (compared case-insensitively, as macOS and Windows file systems do)."""
    first: dict[str, Item] = {}
    problems = []
    for item in items:
        other = first.setdefault(item.id.casefold(), item)
        if other is not item:
            problems.append(
                f"{item.where}: id {item.id!r} names the same files as {other.id!r} at {other.where}; "
                "give each item a unique 'id'"
            )
    return problems


def load_manifest(path: str | Path | None = None, limit: int | None = None) -> list[Item]:
    """Items of the manifest at ``path`` (the built-in set when None), the first ``limit`` of them if given.

    Every entry is parsed, every id checked and every image looked for; the images of the returned items are
    decoded (so a bad image is found before the first generation). All problems are raised together in one
    DatasetError."""
    path = Path(path) if path else BUILTIN_MANIFEST
    if not path.is_file():
        raise DatasetError(f"manifest {path} does not exist")
    name = path.name
    items, problems = [], []
    for line, entry in _read_entries(path):
        try:
            items.append(_parse_item(entry, f"{name}:{line}", path.parent))
        except DatasetError as exc:
            problems.append(str(exc))
    if not items and not problems:
        raise DatasetError(f"{path}: no items")
    problems += _duplicate_problems(items)
    selected = items[:limit] if limit else items
    problems += [p for item in selected if (p := _image_problem(item))]
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        listed = "\n  ".join(shown)
        raise DatasetError(f"{path}: {len(problems)} problem(s), nothing was generated:\n  {listed}{more}")
    return selected

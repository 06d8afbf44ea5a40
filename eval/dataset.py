"""The evaluation set: a folder of images plus a manifest of prompts.

A manifest is YAML (a list of items, or a mapping with an ``items`` list) or JSONL (one item per line).
Each item has ``image`` (a path relative to the manifest), ``prompt``, and optionally ``id`` (default: the
image file's stem). Example::

    items:
      - id: hills
        image: hills.png
        prompt: The camera pans slowly to the right over green hills.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import BUILTIN_MANIFEST

ITEM_KEYS = {"id", "image", "prompt"}


class DatasetError(ValueError):
    """A manifest that cannot be read or has a malformed item; the message names the file and the item."""


@dataclass(frozen=True)
class Item:
    id: str
    image: Path
    prompt: str


def _read_entries(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        entries = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not a JSON object: {exc}") from exc
        return entries
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DatasetError(f"{path}: invalid YAML: {exc}") from exc
        if isinstance(data, dict):
            data = data.get("items")
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a list of items or a mapping with an 'items' list")
        return data
    raise DatasetError(f"{path}: unknown manifest type {path.suffix!r}; use .yaml, .yml or .jsonl")


def _parse_item(entry: object, where: str, root: Path) -> Item:
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: an item must be a mapping with image and prompt, got {entry!r}")
    unknown = set(entry) - ITEM_KEYS
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(ITEM_KEYS)}")
    for key in ("image", "prompt"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise DatasetError(f"{where}: '{key}' must be a non-empty string")
    image = (root / entry["image"]).resolve()
    if not image.is_file():
        raise DatasetError(f"{where}: image {entry['image']!r} not found (looked for {image})")
    item_id = str(entry.get("id") or image.stem)
    return Item(id=item_id, image=image, prompt=entry["prompt"].strip())


def load_manifest(path: str | Path | None = None, limit: int | None = None) -> list[Item]:
    """Items of the manifest at ``path`` (the built-in set when None), the first ``limit`` of them if given."""
    path = Path(path) if path else BUILTIN_MANIFEST
    if not path.is_file():
        raise DatasetError(f"manifest {path} does not exist")
    entries = _read_entries(path)
    items = [_parse_item(e, f"{path} item {i}", path.parent) for i, e in enumerate(entries)]
    if not items:
        raise DatasetError(f"{path}: no items")
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DatasetError(f"{path}: duplicate item ids {duplicates}; give each item a unique 'id'")
    return items[:limit] if limit else items

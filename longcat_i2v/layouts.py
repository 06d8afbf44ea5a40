"""The two on-disk layouts of a LongCat-Video I2V checkpoint and the one table that maps between them.

``hub``: the original release (``dit/`` with fused ``attn.qkv`` / ``cross_attn.kv_linear``, LoRA in
``lora/*.safetensors`` with ``lora_down``/``lora_up``/``alpha_scale`` keys). ``fastvideo``: what FastVideo's
``VideoGenerator`` loads (``model_index.json`` naming ``LongCatImageToVideoPipeline``, ``transformer/`` with
split ``to_q``/``to_k``/``to_v``, ``patch_embed``, ... and LoRA in ``lora/<adapter>/*.safetensors`` with
``lora_A``/``lora_B``/``lora_alpha`` keys). Fused tensors are split into equal row blocks, so a conversion
there and back reproduces every tensor bit for bit. VAE, text encoder, tokenizer and scheduler folders are
the same in both layouts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from .errors import CheckpointError, LoRAError
from .files import read_json
from .lora import HYPHEN, PREFIX, parse_lora, read_lora_file

HUB, FASTVIDEO = "hub", "fastvideo"
LAYOUTS = (HUB, FASTVIDEO)
DIT_DIR = {HUB: "dit", FASTVIDEO: "transformer"}
DIT_CLASS = {HUB: "LongCatVideoTransformer3DModel", FASTVIDEO: "LongCatTransformer3DModel"}
PIPELINE_CLASS = {HUB: "LongCatVideoPipeline", FASTVIDEO: "LongCatImageToVideoPipeline"}
FASTVIDEO_PIPELINES = ("LongCatImageToVideoPipeline", "LongCatPipeline", "LongCatVideoContinuationPipeline")
HEADS_KEY = {HUB: "num_heads", FASTVIDEO: "num_attention_heads"}
DIFFUSERS_VERSION = "0.35.1"  # written into FastVideo's model_index.json, which must name one
ADDED_KEY = "_longcat_i2v_added"
SHARED_COMPONENTS = ("vae", "text_encoder", "tokenizer", "scheduler")
COMPONENT_ENTRIES = {
    HUB: {"dit": ["longcat_video", DIT_CLASS[HUB]], "scheduler": ["longcat_video", "FlowMatchEulerDiscreteScheduler"],
          "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
          "vae": ["longcat_video", "AutoencoderKLWan"]},
    FASTVIDEO: {"transformer": ["diffusers", DIT_CLASS[FASTVIDEO]],
                "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
                "vae": ["diffusers", "AutoencoderKLWan"]},
}  # fmt: skip
# LoRA files: hub lora/<file> <-> FastVideo lora/<adapter folder>/<file>.
LORA_FOLDERS = {"cfg_step_lora.safetensors": "distilled", "refinement_lora.safetensors": "refinement"}

# The mapping table: original module name -> FastVideo module name(s); several names split a fused
# Linear into equal row blocks in that order. "{i}" is a block index.
MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("x_embedder.proj", ("patch_embed.proj",)),
    ("t_embedder.mlp.0", ("time_embedder.linear_1",)),
    ("t_embedder.mlp.2", ("time_embedder.linear_2",)),
    ("y_embedder.y_proj.0", ("caption_embedder.linear_1",)),
    ("y_embedder.y_proj.2", ("caption_embedder.linear_2",)),
    ("blocks.{i}.adaLN_modulation.1", ("blocks.{i}.adaln_linear_1",)),
    ("blocks.{i}.pre_crs_attn_norm", ("blocks.{i}.norm_cross",)),
    ("blocks.{i}.attn.qkv", ("blocks.{i}.self_attn.to_q", "blocks.{i}.self_attn.to_k", "blocks.{i}.self_attn.to_v")),
    ("blocks.{i}.attn.proj", ("blocks.{i}.self_attn.to_out",)),
    ("blocks.{i}.attn.q_norm", ("blocks.{i}.self_attn.q_norm",)),
    ("blocks.{i}.attn.k_norm", ("blocks.{i}.self_attn.k_norm",)),
    ("blocks.{i}.cross_attn.q_linear", ("blocks.{i}.cross_attn.to_q",)),
    ("blocks.{i}.cross_attn.kv_linear", ("blocks.{i}.cross_attn.to_k", "blocks.{i}.cross_attn.to_v")),
    ("blocks.{i}.cross_attn.proj", ("blocks.{i}.cross_attn.to_out",)),
    ("blocks.{i}.cross_attn.q_norm", ("blocks.{i}.cross_attn.q_norm",)),
    ("blocks.{i}.cross_attn.k_norm", ("blocks.{i}.cross_attn.k_norm",)),
    ("blocks.{i}.ffn.w1", ("blocks.{i}.ffn.w1",)),
    ("blocks.{i}.ffn.w2", ("blocks.{i}.ffn.w2",)),
    ("blocks.{i}.ffn.w3", ("blocks.{i}.ffn.w3",)),
    ("final_layer.adaLN_modulation.1", ("final_layer.adaln_linear",)),
    ("final_layer.linear", ("final_layer.proj",)),
)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{i}"), r"(?P<i>\d+)") + r"$")


_TO_FV = [(_pattern(ours), fv) for ours, fv in MODULES]
_TO_HUB = [(_pattern(name), ours, part, len(fv)) for ours, fv in MODULES for part, name in enumerate(fv)]


def _fill(template: str, match: re.Match[str]) -> str:
    return template.replace("{i}", match["i"]) if "{i}" in template else template


def fastvideo_modules(module: str) -> tuple[str, ...] | None:
    """FastVideo module name(s) of an original module (several for a fused Linear), None if unmapped."""
    for pattern, names in _TO_FV:
        if m := pattern.match(module):
            return tuple(_fill(n, m) for n in names)
    return None


def hub_module(module: str) -> tuple[str, int, int] | None:
    """(original module, part index, number of parts) of a FastVideo module name, None if unmapped."""
    for pattern, ours, part, parts in _TO_HUB:
        if m := pattern.match(module):
            return _fill(ours, m), part, parts
    return None


def fastvideo_keys(key: str) -> tuple[str, ...]:
    """FastVideo parameter name(s) of an original parameter name (``<module>.weight`` / ``.bias``)."""
    module, _, param = key.rpartition(".")
    names = fastvideo_modules(module)
    if names is None:
        raise CheckpointError(f"DiT weight {key!r} has no FastVideo counterpart in the mapping table")
    return tuple(f"{n}.{param}" for n in names)


def _listing(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# How to build one output tensor: (input key, row block j, of n blocks) pieces, concatenated.
Pieces = dict[str, list[tuple[str, int, int]]]


def plan(keys: Iterable[str], src: str, to: str, source: str = "DiT weights") -> Pieces:
    """Output key -> pieces, mapping parameter names of layout ``src`` to layout ``to``. Raises
    CheckpointError naming every key outside the table and every absent part of a split Linear."""
    keys = list(keys)
    if src == to:
        return {k: [(k, 0, 1)] for k in keys}
    if to == FASTVIDEO:
        unmapped = sorted(k for k in keys if fastvideo_modules(k.rpartition(".")[0]) is None)
        if unmapped:
            raise CheckpointError(f"{source}: {len(unmapped)} key(s) not in the mapping table: {_listing(unmapped)}")
        return {n: [(k, j, len(ns))] for k in keys for ns in [fastvideo_keys(k)] for j, n in enumerate(ns)}
    groups: dict[str, list[str | None]] = {}
    unmapped = []
    for key in keys:
        module, _, param = key.rpartition(".")
        found = hub_module(module)
        if found is None:
            unmapped.append(key)
            continue
        ours, part, parts = found
        groups.setdefault(f"{ours}.{param}", [None] * parts)[part] = key
    if unmapped:
        raise CheckpointError(
            f"{source}: {len(unmapped)} FastVideo key(s) not in the mapping table: {_listing(sorted(unmapped))}"
        )
    missing = sorted(n for k, got in groups.items() for n, g in zip(fastvideo_keys(k), got, strict=True) if g is None)
    if missing:
        raise CheckpointError(f"{source}: missing {len(missing)} FastVideo key(s): {_listing(missing)}")
    return {k: [(g, 0, 1) for g in got if g is not None] for k, got in groups.items()}


def check_split(pieces: Pieces, shapes: Mapping[str, list[int]], source: str) -> None:
    for name, _, n in (p for ps in pieces.values() for p in ps):
        if not shapes[name] or shapes[name][0] % n:
            raise CheckpointError(f"{source}: {name!r} of shape {list(shapes[name])} cannot split into {n} row blocks")


def convert_state(
    state: Mapping[str, torch.Tensor], src: str, to: str, source: str = "DiT weights"
) -> dict[str, torch.Tensor]:
    """A DiT state dict in layout ``src`` -> layout ``to`` (split, joined and renamed by ``MODULES``)."""
    pieces = plan(state, src, to, source)
    check_split(pieces, {k: list(v.shape) for k, v in state.items()}, source)
    return {out: torch.cat([state[k].chunk(n)[j] for k, j, n in ps]) for out, ps in pieces.items()}


def convert_dit_config(raw: Mapping, to: str) -> dict:
    """DiT config.json of one layout -> the other's: the class name and the heads key differ."""
    src = FASTVIDEO if to == HUB else HUB
    out = {}
    for key, value in raw.items():
        if key == HEADS_KEY[src]:
            key = HEADS_KEY[to]
        out[key] = DIT_CLASS[to] if key == "_class_name" else value
    return out


def detect_layout(root: str | Path) -> str:
    """``fastvideo`` when ``transformer/`` is present without ``dit/`` (and model_index.json, if any, names a
    FastVideo LongCat pipeline), else ``hub``, whose missing folders ``checkpoint.check_layout`` reports."""
    root = Path(root).expanduser()
    has_dit, has_transformer = (root / "dit").is_dir(), (root / "transformer").is_dir()
    if has_dit and has_transformer:
        raise CheckpointError(f"{root} has both dit/ (original layout) and transformer/ (FastVideo layout); keep one")
    if not has_transformer:
        return HUB
    index = root / "model_index.json"
    name = read_json(index).get("_class_name") if index.is_file() else None
    if name is not None and name not in FASTVIDEO_PIPELINES:
        raise CheckpointError(
            f"{index} names pipeline {name!r}; a FastVideo-layout LongCat checkpoint names one of "
            f"{', '.join(FASTVIDEO_PIPELINES)}"
        )
    return FASTVIDEO


def _lora_key(target: str, part: str) -> str:
    return PREFIX + target.replace(".", HYPHEN) + "." + part


def lora_to_fastvideo(state: Mapping[str, torch.Tensor], source: str = "LoRA") -> dict[str, torch.Tensor]:
    """Original-format LoRA -> FastVideo's (``<module>.lora_A``, ``.lora_B``, ``.lora_alpha`` = alpha_scale·rank).

    A fused Linear becomes one LoRA per part: with up blocks, part j takes down rows j and up block j
    (the original's block-diagonal form); with a single up matrix, every part takes the whole down and
    its row block of up."""
    out: dict[str, torch.Tensor] = {}
    for mod in parse_lora(dict(state), source):
        names = fastvideo_modules(mod.target)
        if names is None:
            raise CheckpointError(f"{source}: LoRA target {mod.target!r} is not in the mapping table")
        n = len(names)
        if len(mod.ups) == n:
            pairs = list(zip(mod.down.chunk(n), mod.ups, strict=True))
        elif len(mod.ups) == 1:
            pairs = [(mod.down, up) for up in mod.ups[0].chunk(n)]
        else:
            raise CheckpointError(f"{source}: {mod.target} has {len(mod.ups)} up blocks for a {n}-part layer")
        for name, (down, up) in zip(names, pairs, strict=True):
            out[f"{name}.lora_A"] = down.clone()
            out[f"{name}.lora_B"] = up.clone()
            out[f"{name}.lora_alpha"] = (mod.alpha_scale.double() * down.shape[0]).float()
    return out


def lora_to_hub(state: Mapping[str, torch.Tensor], source: str = "LoRA") -> dict[str, torch.Tensor]:
    """FastVideo-format LoRA -> the original format (fused parts become up blocks of one module)."""
    groups: dict[str, dict[int, dict[str, torch.Tensor]]] = {}
    parts_of: dict[str, int] = {}
    for key, tensor in state.items():
        module, _, kind = key.rpartition(".")
        found = hub_module(module)
        if kind not in ("lora_A", "lora_B", "lora_alpha") or found is None:
            raise CheckpointError(f"{source}: key {key!r} is not <mapped module>.lora_A / .lora_B / .lora_alpha")
        ours, part, parts = found
        groups.setdefault(ours, {}).setdefault(part, {})[kind] = tensor
        parts_of[ours] = parts
    out: dict[str, torch.Tensor] = {}
    for ours, by_part in sorted(groups.items()):
        names = fastvideo_modules(ours) or ()
        lacking = [f"{names[p]}.{k}" for p in range(parts_of[ours]) for k in ("lora_A", "lora_B", "lora_alpha")
                   if k not in by_part.get(p, {})]  # fmt: skip
        if lacking:
            raise CheckpointError(f"{source}: missing {', '.join(lacking)}")
        downs = [by_part[p]["lora_A"] for p in range(parts_of[ours])]
        scales = {float(by_part[p]["lora_alpha"]) / downs[p].shape[0] for p in range(parts_of[ours])}
        if len(scales) != 1:
            raise CheckpointError(f"{source}: the parts of {ours} have different alpha/rank {sorted(scales)}")
        out[_lora_key(ours, "lora_down.weight")] = torch.cat(downs).clone()
        if parts_of[ours] == 1:
            out[_lora_key(ours, "lora_up.weight")] = by_part[0]["lora_B"].clone()
        else:
            out.update((_lora_key(ours, f"lora_up.blocks.{p}.weight"), by_part[p]["lora_B"].clone()) for p in by_part)
        out[_lora_key(ours, "alpha_scale")] = (by_part[0]["lora_alpha"].double() / downs[0].shape[0]).float()
    return out


def lora_files(root: Path, layout: str) -> dict[str, Path]:
    """LoRA file name -> path, in either layout (hub ``lora/X``, FastVideo ``lora/<adapter>/X``)."""
    pattern = "*.safetensors" if layout == HUB else "*/*.safetensors"
    return {p.name: p for p in sorted((root / "lora").glob(pattern))}


def lora_path(root: Path, layout: str, name: str) -> Path:
    """Where LoRA file ``name`` lives in a checkpoint of ``layout``."""
    if layout == HUB:
        return root / "lora" / name
    return root / "lora" / LORA_FOLDERS.get(name, Path(name).stem) / name


def read_lora(root: str | Path, name: str) -> dict[str, torch.Tensor]:
    """LoRA file ``name`` of a checkpoint in either layout, as an original-format state dict."""
    root = Path(root)
    layout = detect_layout(root)
    path = lora_path(root, layout, name)
    if not path.is_file():
        searched = "; ".join(f"the {kind} layout keeps it at {lora_path(Path(), kind, name)}" for kind in LAYOUTS)
        raise LoRAError(
            f"LoRA file not found: {path} ({root} is a {layout}-layout checkpoint; {searched}). Download the "
            f"checkpoint's lora/ folder with it, or convert a checkpoint that has it (longcat-i2v convert)"
        )
    state = read_lora_file(path)
    return state if layout == HUB else lora_to_hub(state, str(path))


def model_index(source: Mapping, to: str) -> dict:
    """model_index.json for layout ``to``: its pipeline class and component entries, plus the source's private
    ``_`` fields (e.g. the tiny checkpoint's marker). FastVideo requires ``_diffusers_version``: when the source
    lacks it, it is added and listed under ``_longcat_i2v_added`` so that converting back drops it again."""
    added = set(source.get(ADDED_KEY, ()))
    extras = {k: v for k, v in source.items() if k.startswith("_") and k not in {"_class_name", ADDED_KEY, *added}}
    if to == FASTVIDEO and "_diffusers_version" not in extras:
        extras = {"_diffusers_version": DIFFUSERS_VERSION, **extras, ADDED_KEY: ["_diffusers_version"]}
    return {"_class_name": PIPELINE_CLASS[to], **extras, **COMPONENT_ENTRIES[to]}

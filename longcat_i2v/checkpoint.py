"""Reading a LongCat-Video checkpoint directory in the original hub layout, with no conversion.

Layout: ``dit/`` (config.json + one safetensors file or shards with an index), ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``, and optionally ``lora/``. Every failure names the
file or key at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from .dit import FP32_MODULES, DiTConfig, LongCatDiT
from .errors import CheckpointError

COMPONENTS = ("dit", "vae", "text_encoder", "tokenizer", "scheduler")
SINGLE_FILE = "diffusion_pytorch_model.safetensors"
INDEX_FILE = "diffusion_pytorch_model.safetensors.index.json"


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"missing file: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"malformed JSON in {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def check_layout(root: str | Path) -> Path:
    """Return the checkpoint root if it has every component folder, else say which are missing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {root}")
    missing = [c for c in COMPONENTS if not (root / c).is_dir()]
    if missing:
        raise CheckpointError(
            f"{root} is not a LongCat-Video checkpoint: missing folder(s) {', '.join(missing)} "
            f"(expected {', '.join(COMPONENTS)}/ as on the model hub)"
        )
    return root


def dit_weight_files(dit_dir: Path) -> list[Path]:
    """The DiT's safetensors files: the single file, or every shard named by the index."""
    if (dit_dir / SINGLE_FILE).is_file():
        return [dit_dir / SINGLE_FILE]
    if (dit_dir / INDEX_FILE).is_file():
        index = read_json(dit_dir / INDEX_FILE)
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{dit_dir / INDEX_FILE} has no 'weight_map'")
        files = [dit_dir / name for name in sorted(set(weight_map.values()))]
        absent = [f.name for f in files if not f.is_file()]
        if absent:
            raise CheckpointError(f"{dit_dir}: shard(s) named in {INDEX_FILE} are missing: {', '.join(absent)}")
        return files
    shards = sorted(dit_dir.glob("*.safetensors"))
    if not shards:
        raise CheckpointError(f"no DiT weights in {dit_dir} (expected {SINGLE_FILE} or {INDEX_FILE} with shards)")
    return shards


def _target_dtype(name: str, dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if any(p in name for p in FP32_MODULES) else dtype


def load_dit(dit_dir: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> LongCatDiT:
    """Build the DiT from ``config.json`` and load the original-named weights, strictly."""
    dit_dir = Path(dit_dir)
    raw = read_json(dit_dir / "config.json")
    try:
        cfg = DiTConfig.from_dict(raw)
        with torch.device("meta"):
            model = LongCatDiT(cfg)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid DiT config {dit_dir / 'config.json'}: {exc}") from exc
    expected = {k: v for k, v in model.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    for file in dit_weight_files(dit_dir):
        try:
            with safe_open(str(file), framework="pt", device="cpu") as f:
                for key in f.keys():
                    if key not in expected:
                        raise CheckpointError(
                            f"{file.name}: weight {key!r} has no place in a DiT with config {dit_dir / 'config.json'} "
                            f"(depth {cfg.depth}, hidden {cfg.hidden_size})"
                        )
                    tensor = f.get_tensor(key)
                    if tuple(tensor.shape) != tuple(expected[key].shape):
                        raise CheckpointError(
                            f"{file.name}: weight {key!r} has shape {list(tensor.shape)}, but config.json implies "
                            f"{list(expected[key].shape)}; config and weights disagree"
                        )
                    state[key] = tensor.to(device=device, dtype=_target_dtype(key, dtype))
        except CheckpointError:
            raise
        except Exception as exc:  # safetensors raises several types for a truncated/corrupt file
            raise CheckpointError(f"cannot read DiT weights {file}: {exc}") from exc
    missing = sorted(set(expected) - set(state))
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise CheckpointError(f"DiT weights in {dit_dir} are missing {len(missing)} key(s): {shown}")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


@dataclass
class Components:
    """Everything a pipeline needs, loaded and on its device."""

    root: Path
    dit: LongCatDiT
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any


def load_components(
    root: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Components:
    """Load every component of a hub-layout checkpoint (diffusers VAE/scheduler, transformers umT5)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import AutoTokenizer, UMT5EncoderModel

    root = check_layout(root)
    read_json(root / "vae" / "config.json")
    read_json(root / "text_encoder" / "config.json")
    read_json(root / "scheduler" / "scheduler_config.json")

    def load(name: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"cannot load {name} from {root / name}: {exc}") from exc

    dit = load_dit(root / "dit", device, dtype)
    vae = load("vae", AutoencoderKLWan.from_pretrained, root / "vae", torch_dtype=dtype)
    text_encoder = load("text_encoder", UMT5EncoderModel.from_pretrained, root / "text_encoder", dtype=dtype)
    tokenizer = load("tokenizer", AutoTokenizer.from_pretrained, root / "tokenizer")
    scheduler = load("scheduler", FlowMatchEulerDiscreteScheduler.from_pretrained, root / "scheduler")
    return Components(
        root=root,
        dit=dit,
        vae=vae.to(device).eval().requires_grad_(False),
        text_encoder=text_encoder.to(device).eval().requires_grad_(False),
        tokenizer=tokenizer,
        scheduler=scheduler,
    )

"""Reading a LongCat-Video checkpoint directory: the original hub layout as it is, or FastVideo's layout
with its DiT weights mapped to the original names on the fly (see ``layouts``).

Hub layout: ``dit/`` (config.json + one safetensors file or shards with an index), ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``, and optionally ``lora/``. FastVideo layout: the same
with ``transformer/`` in place of ``dit/``. Every failure names the file or key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import layouts
from .dit import FP32_MODULES, DiTConfig, LongCatDiT
from .errors import CheckpointError
from .files import read_json
from .weights import DiTWeights


def check_layout(root: str | Path) -> Path:
    """Return the checkpoint root if it has every component folder of its layout, else say which are missing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {root}")
    layout = layouts.detect_layout(root)
    expected = [layouts.DIT_DIR[layout], *layouts.SHARED_COMPONENTS]
    missing = [c for c in expected if not (root / c).is_dir()]
    if missing:
        hint = "as on the model hub; FastVideo's layout has transformer/ for dit/" if layout == layouts.HUB else ""
        raise CheckpointError(
            f"{root} is not a LongCat-Video checkpoint ({layout} layout): missing folder(s) {', '.join(missing)} "
            f"(expected {', '.join(expected)}/{', ' + hint if hint else ''})"
        )
    return root


def _target_dtype(name: str, dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if any(p in name for p in FP32_MODULES) else dtype


def load_dit(
    dit_dir: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    layout: str = layouts.HUB,
) -> LongCatDiT:
    """Build the DiT from ``config.json`` and load its weights strictly, under the original names
    (a FastVideo-layout ``transformer/`` is mapped through ``layouts.MODULES``)."""
    dit_dir = Path(dit_dir)
    raw = read_json(dit_dir / "config.json")
    if layout != layouts.HUB:
        raw = layouts.convert_dit_config(raw, layouts.HUB)
    try:
        cfg = DiTConfig.from_dict(raw)
        with torch.device("meta"):
            model = LongCatDiT(cfg)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid DiT config {dit_dir / 'config.json'}: {exc}") from exc
    expected = {k: v for k, v in model.state_dict().items()}
    weights = DiTWeights(dit_dir, layout, layouts.HUB)
    state: dict[str, torch.Tensor] = {}
    for key in weights.keys():
        if key not in expected:
            raise CheckpointError(
                f"{weights.origin(key)}: weight {key!r} has no place in a DiT with config {dit_dir / 'config.json'} "
                f"(depth {cfg.depth}, hidden {cfg.hidden_size})"
            )
        if weights.shape(key) != list(expected[key].shape):
            raise CheckpointError(
                f"{weights.origin(key)}: weight {key!r} has shape {weights.shape(key)}, but config.json implies "
                f"{list(expected[key].shape)}; config and weights disagree"
            )
        try:
            tensor = weights.read(key)
        except Exception as exc:  # safetensors raises several types for a truncated/corrupt file
            raise CheckpointError(f"cannot read DiT weights {weights.origin(key)}: {exc}") from exc
        state[key] = tensor.to(device=device, dtype=_target_dtype(key, dtype))
    missing = sorted(set(expected) - set(state))
    if missing:
        if layout == layouts.FASTVIDEO:
            missing = sorted(n for k in missing for n in layouts.fastvideo_keys(k))
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
    """Load every component of a checkpoint in either layout (diffusers VAE/scheduler, transformers umT5)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import AutoTokenizer, UMT5EncoderModel

    root = check_layout(root)
    layout = layouts.detect_layout(root)
    read_json(root / "vae" / "config.json")
    read_json(root / "text_encoder" / "config.json")
    read_json(root / "scheduler" / "scheduler_config.json")

    def load(name: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"cannot load {name} from {root / name}: {exc}") from exc

    dit = load_dit(root / layouts.DIT_DIR[layout], device, dtype, layout)
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

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

from . import configs, layouts
from .dit import FP32_MODULES, DiTConfig, LongCatDiT
from .errors import CheckpointError
from .files import check_safetensors, read_json
from .finite import check_finite_weights, is_finite
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


def dit_config(dit_dir: Path, layout: str = layouts.HUB) -> DiTConfig:
    """The DiT's ``config.json``, every value and how they fit together checked (keys named as in the file)."""
    path = dit_dir / "config.json"
    raw = read_json(path)
    if layout != layouts.HUB:
        raw = layouts.convert_dit_config(raw, layouts.HUB)
    heads = layouts.HEADS_KEY[layout]
    configs.check_values(raw, configs.DIT, path, {"num_heads": heads})
    cfg = DiTConfig.from_dict(raw)
    head_dim, rest = divmod(cfg.hidden_size, cfg.num_heads)
    if rest:
        raise CheckpointError(f"{path}: 'hidden_size' {cfg.hidden_size} is not divisible by {heads!r} {cfg.num_heads}")
    if head_dim % 8:
        raise CheckpointError(
            f"{path}: 'hidden_size' / {heads!r} = {head_dim} must be a multiple of 8 (3D RoPE splits each head in 3)"
        )
    if cfg.patch_size[0] != 1:
        raise CheckpointError(f"{path}: 'patch_size' must be [1, h, w] (the original's), got {list(cfg.patch_size)}")
    return cfg


def load_dit(
    dit_dir: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    layout: str = layouts.HUB,
) -> LongCatDiT:
    """Build the DiT from ``config.json`` and load its weights strictly, under the original names
    (a FastVideo-layout ``transformer/`` is mapped through ``layouts.MODULES``); every weight must be finite."""
    dit_dir = Path(dit_dir)
    cfg = dit_config(dit_dir, layout)
    try:
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
        if not is_finite(state[key]):  # checked once cast: a value past the dtype's range is caught too
            raise CheckpointError(
                f"{dit_dir}/{weights.origin(key)}: DiT weight {key!r} holds NaN or infinite values "
                f"(as {str(state[key].dtype).removeprefix('torch.')}); the checkpoint is damaged"
            )
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


def _check_configs(root: Path, cfg: DiTConfig) -> None:
    """Every component config's values, and that the DiT fits the VAE and the text encoder."""
    index = root / "model_index.json"
    if index.is_file():
        read_json(index)
    vae_path, text_path = root / "vae" / "config.json", root / "text_encoder" / "config.json"
    vae, text = read_json(vae_path), read_json(text_path)
    configs.check_values(vae, configs.VAE, vae_path)
    configs.check_values(text, configs.TEXT_ENCODER, text_path)
    scheduler_path = root / "scheduler" / "scheduler_config.json"
    configs.check_values(read_json(scheduler_path), configs.SCHEDULER, scheduler_path)
    z_dim = vae.get("z_dim")
    for key in ("latents_mean", "latents_std"):
        if z_dim is not None and key in vae and len(vae[key]) != z_dim:
            raise CheckpointError(f"{vae_path}: {key!r} has {len(vae[key])} values, 'z_dim' is {z_dim}")
    fits = [("in_channels", cfg.in_channels, vae_path, "z_dim", z_dim),
            ("out_channels", cfg.out_channels, vae_path, "z_dim", z_dim),
            ("caption_channels", cfg.caption_channels, text_path, "d_model", text.get("d_model"))]  # fmt: skip
    for key, value, other_path, other_key, other in fits:
        if other is not None and value != other:
            raise CheckpointError(
                f"the DiT's {key!r} {value} does not match {other_key!r} {other} in {other_path}; "
                "the components come from different models"
            )


def load_components(
    root: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Components:
    """Load every component of a checkpoint in either layout (diffusers VAE/scheduler, transformers umT5).
    Configs and safetensors headers are checked before any weight is read, and every weight must be finite."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import AutoTokenizer, UMT5EncoderModel

    root = check_layout(root)
    layout = layouts.detect_layout(root)
    _check_configs(root, dit_config(root / layouts.DIT_DIR[layout], layout))
    for name in layouts.SHARED_COMPONENTS:
        check_safetensors(root / name)

    def load(name: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the libraries raise many types (tokenizers a bare Exception)
            for file in sorted((root / name).glob("*.json")):  # name the file when it is malformed JSON
                read_json(file)
            raise CheckpointError(f"cannot load {name} from {root / name}: {type(exc).__name__}: {exc}") from exc

    dit = load_dit(root / layouts.DIT_DIR[layout], device, dtype, layout)
    vae = load("vae", AutoencoderKLWan.from_pretrained, root / "vae", torch_dtype=dtype)
    text_encoder = load("text_encoder", UMT5EncoderModel.from_pretrained, root / "text_encoder", dtype=dtype)
    tokenizer = load("tokenizer", AutoTokenizer.from_pretrained, root / "tokenizer")
    scheduler = load("scheduler", FlowMatchEulerDiscreteScheduler.from_pretrained, root / "scheduler")
    vae = vae.to(device).eval().requires_grad_(False)
    text_encoder = text_encoder.to(device).eval().requires_grad_(False)
    check_finite_weights(vae.named_parameters(), "VAE", root / "vae")
    check_finite_weights(text_encoder.named_parameters(), "text encoder", root / "text_encoder")
    return Components(root=root, dit=dit, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)

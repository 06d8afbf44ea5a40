"""LoRA in the original LongCat key format (e.g. the distill ``cfg_step_lora``), applied with hooks.

Keys: ``lora___lorahyphen___<module path with '.' → '___lorahyphen___'>.{lora_down.weight,
lora_up.weight | lora_up.blocks.<j>.weight, alpha_scale}``. For fused layers (qkv, kv_linear) the
down projection's output is split into equal parts and part j goes through up block j. The forward
is the original's: ``W x + b + (up(down(x)) · multiplier) · alpha_scale``, with ``alpha_scale`` read
per module from the file. The rank is taken from the file (the original takes it from an argument).

Hooks instead of merged weights keep the base weights untouched (no rounding drift when toggled)
and keep the original's order of operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from .errors import LoRAError

PREFIX = "lora___lorahyphen___"
HYPHEN = "___lorahyphen___"
_KEY = re.compile(
    r"^(?P<name>.+?)\.(?P<part>lora_down\.weight|lora_up\.weight|lora_up\.blocks\.(?P<j>\d+)\.weight|alpha_scale)$"
)


@dataclass
class LoRAModule:
    """One adapted Linear: down [r·n, in], up blocks [out/n, r] each, alpha_scale scalar."""

    target: str
    down: torch.Tensor
    ups: list[torch.Tensor]
    alpha_scale: torch.Tensor

    def like(self, layer: nn.Linear, device: torch.device | str | None = None) -> LoRAModule:
        """The same LoRA in the layer's dtype on ``device``, by default the layer's (no copy when already there);
        an offloaded layer's weight is not where it computes, so the pipeline says where."""
        w = layer.weight
        device = w.device if device is None else device
        return LoRAModule(
            self.target,
            self.down.to(device, w.dtype),
            [u.to(device, w.dtype) for u in self.ups],
            self.alpha_scale.to(device),
        )

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        h = x.to(self.down.dtype) @ self.down.T
        parts = h.chunk(len(self.ups), dim=-1)
        return torch.cat([p @ up.T for p, up in zip(parts, self.ups, strict=True)], dim=-1)


def module_path(lora_name: str) -> str:
    """``lora___lorahyphen___blocks___lorahyphen___0...`` → ``blocks.0...``."""
    if not lora_name.startswith(PREFIX):
        raise LoRAError(f"LoRA key {lora_name!r} does not start with {PREFIX!r} (the original LongCat format)")
    return lora_name[len(PREFIX) :].replace(HYPHEN, ".")


def parse_lora(state: dict[str, torch.Tensor], source: str = "LoRA") -> list[LoRAModule]:
    """Group a LongCat-format LoRA state dict per target module, checking every key is understood."""
    groups: dict[str, dict] = {}
    for key, value in state.items():
        m = _KEY.match(key)
        if m is None:
            raise LoRAError(
                f"{source}: unexpected key {key!r}; expected <name>.lora_down.weight, .lora_up.weight, "
                ".lora_up.blocks.<j>.weight or .alpha_scale"
            )
        g = groups.setdefault(m["name"], {"ups": {}})
        if m["j"] is not None:
            g["ups"][int(m["j"])] = value
        elif m["part"] == "lora_up.weight":
            g["ups"][0] = value
        else:
            g[m["part"]] = value
    modules = []
    for name, g in sorted(groups.items()):
        missing = [p for p in ("lora_down.weight", "alpha_scale") if p not in g] + ([] if g["ups"] else ["lora_up"])
        if missing:
            raise LoRAError(f"{source}: module {name!r} lacks {', '.join(missing)}")
        ups = [g["ups"][j] for j in sorted(g["ups"])]
        if sorted(g["ups"]) != list(range(len(ups))):
            raise LoRAError(f"{source}: module {name!r} has up blocks {sorted(g['ups'])}, expected 0..{len(ups) - 1}")
        modules.append(LoRAModule(module_path(name), g["lora_down.weight"], ups, g["alpha_scale"].float()))
    return modules


def check_fits(model: nn.Module, modules: list[LoRAModule], source: str = "LoRA") -> None:
    """Raise LoRAError unless every LoRA module targets a Linear of matching shape."""
    named = dict(model.named_modules())
    for mod in modules:
        layer = named.get(mod.target)
        if not isinstance(layer, nn.Linear):
            what = "no such module" if layer is None else f"a {type(layer).__name__}, not a Linear"
            raise LoRAError(f"{source}: target {mod.target!r} is {what} in the DiT")
        rank_total, in_dim = mod.down.shape
        n = len(mod.ups)
        if in_dim != layer.in_features or rank_total % n:
            raise LoRAError(
                f"{source}: {mod.target}.lora_down is {list(mod.down.shape)}, "
                f"the layer takes {layer.in_features} inputs"
            )
        for j, up in enumerate(mod.ups):
            if list(up.shape) != [layer.out_features // n, rank_total // n]:
                raise LoRAError(
                    f"{source}: {mod.target} up block {j} is {list(up.shape)}, expected "
                    f"{[layer.out_features // n, rank_total // n]} for a {layer.out_features}-output layer"
                )


def fit_lora(
    state: dict[str, torch.Tensor], model: nn.Module, source: str = "LoRA", device: torch.device | str | None = None
) -> list[LoRAModule]:
    """Parse an original-format LoRA state dict, check it fits ``model`` and place each module in its layer's
    dtype on ``device`` (default: the layer's), once, so that enabling it for a generation copies nothing."""
    modules = parse_lora(state, source)
    check_fits(model, modules, source)
    named = dict(model.named_modules())
    return [mod.like(named[mod.target], device) for mod in modules]


def read_lora_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A LoRA safetensors file's tensors, with LoRAError for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise LoRAError(f"LoRA file not found: {path}")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a corrupt file
        raise LoRAError(f"cannot read LoRA file {path}: {exc}") from exc


class LoRAHandle:
    """Active LoRA hooks on a model; ``remove()`` restores the base behaviour exactly."""

    def __init__(
        self,
        model: nn.Module,
        modules: list[LoRAModule],
        multiplier: float = 1.0,
        device: torch.device | str | None = None,
    ) -> None:
        named = dict(model.named_modules())
        self._handles = []
        for mod in modules:
            layer = named[mod.target]
            self._handles.append(layer.register_forward_hook(_hook(mod.like(layer, device), multiplier)))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> LoRAHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _hook(mod: LoRAModule, multiplier: float):
    def hook(_layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        return output + mod.delta(inputs[0]).to(output.dtype) * multiplier * mod.alpha_scale

    return hook

"""Where the components' weights live during a generation: the offload modes, behind ``offload=``.

- ``none``: every component on the device, always;
- ``model``: each component (text encoder, VAE, DiT) on the device only while it works; bringing one in
  releases the others;
- ``group``: as ``model``, and the DiT's blocks live in pinned CPU memory and stream to the device one group
  ahead on a side stream (two groups resident; the embedders and final layer come in with the DiT);
- ``sequential``: the lowest-memory mode: every DiT layer is on the device only for its own forward, the text
  encoder runs on the CPU, the VAE comes in while it works (0.25 GB, a whole-VAE unit: its causal-conv cache
  makes a per-layer stream slow for no gain);
- ``auto``: the planner's cheapest mode that fits the device's free memory (``choose_mode``).

``text_encoder_device`` (e.g. "cpu") keeps the text encoder on that device for good, whatever the mode. The
stages call ``use(name)`` before a component works; forward pre-hooks on the components' parts call it too, so
a pass that starts elsewhere (the KV cache's conditioning pass) still finds its weights. Every mode computes the
same numbers as ``none``: only where the weights sit changes (``streaming`` holds the mechanism).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
from torch import nn

from .checkpoint import Components
from .defaults import OFFLOAD_MODES
from .errors import InvalidInputError
from .planner import GIB, GROUP_BLOCKS, Models, Request, pick_mode, plan
from .streaming import Unit, stream_groups, stream_layers

COMPONENTS = ("text", "vae", "dit")


class Placement:
    """The offload mode of a pipeline's components on ``device``; ``use(name)`` brings component ``name`` in."""

    def __init__(
        self, components: Components, device: torch.device | str, mode: str = "none", text_device: str | None = None
    ) -> None:
        if mode not in OFFLOAD_MODES:
            raise InvalidInputError(f"offload={mode!r} is invalid: must be one of {', '.join(OFFLOAD_MODES)}, auto")
        self.mode = mode
        self.device = torch.device(device)
        if text_device is None and mode == "sequential":
            text_device = "cpu"
        self.text_fixed = text_device is not None  # the text encoder stays on text_device, never moved
        self.text_device = torch.device(text_device) if text_device is not None else self.device
        self.models = {"text": components.text_encoder, "vae": components.vae, "dit": components.dit}
        self.whole: dict[str, list[Unit]] = {name: [] for name in COMPONENTS}  # loaded by use(name)
        self.streamed: dict[str, list[Unit]] = {name: [] for name in COMPONENTS}  # loaded by their hooks
        self.active: str | None = None
        self._place()

    def _place(self) -> None:
        dit, offloaded = self.models["dit"], self.mode != "none"
        self.models["text"].to(self.text_device)
        if offloaded and not self.text_fixed:
            self.whole["text"] = [Unit(self.models["text"].modules(), self.device)]
        if not offloaded:
            for name in ("vae", "dit"):
                self.models[name].to(self.device)
            return
        self.whole["vae"] = [Unit(self.models["vae"].modules(), self.device)]
        if self.mode == "model":
            self.whole["dit"] = [Unit(dit.modules(), self.device, pin=True)]
        elif self.mode == "group":
            blocks = list(dit.get_submodule("blocks"))
            outer = [m for name, m in dit.named_modules() if not name.startswith("blocks")]
            self.whole["dit"] = [Unit(outer, self.device, pin=True)]
            groups = [blocks[i : i + GROUP_BLOCKS] for i in range(0, len(blocks), GROUP_BLOCKS)]
            self.streamed["dit"] = stream_groups(groups, self.device)
        else:
            self.streamed["dit"] = stream_layers(dit, self.device, functional=(nn.LayerNorm,))
        self._hook_entries()

    def _hook_entries(self) -> None:
        """Pre-hooks that bring a component in when one of its parts starts, however it was entered."""
        vae = self.models["vae"]
        entries: dict[str, Iterable[nn.Module]] = {
            "text": [self.models["text"]] if self.whole["text"] else [],
            "vae": [vae.get_submodule(n) for n in ("encoder", "quant_conv", "post_quant_conv", "decoder")],
            "dit": [*self.models["dit"].children(), *self.models["dit"].get_submodule("blocks")],
        }
        for name, modules in entries.items():
            for module in modules:
                module.register_forward_pre_hook(_use_hook(self, name))

    def use(self, name: str) -> torch.device:
        """Component ``name`` ("text", "vae", "dit") ready to work, the others released; returns the device it
        computes on."""
        if name not in COMPONENTS:
            raise InvalidInputError(f"unknown component {name!r}; one of {', '.join(COMPONENTS)}")
        if self.active != name:
            for other in COMPONENTS:
                if other != name:
                    for unit in self.whole[other] + self.streamed[other]:
                        unit.drop()
            for unit in self.whole[name]:
                unit.load()
            self.active = name
        return self.text_device if name == "text" else self.device

    def device_weight_bytes(self) -> int:
        """Bytes of weights on the device now (what a CPU run counts as device memory)."""
        units = [u for name in COMPONENTS for u in self.whole[name] + self.streamed[name]]
        total = sum(u.nbytes for u in units if u.loaded)
        for name, model in self.models.items():
            if not self.whole[name] and not self.streamed[name] and self._home(name) == self.device:
                total += sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
        return total

    def _home(self, name: str) -> torch.device:
        return self.text_device if name == "text" else self.device

    def describe(self) -> str:
        text = "" if self.text_device == self.device else f", text encoder on {self.text_device}"
        return f"offload {self.mode}{text}"


def _use_hook(placement: Placement, name: str):
    @torch.compiler.disable
    def hook(*_args) -> None:
        placement.use(name)

    return hook


def choose_mode(models: Models, request: Request, device: torch.device | str) -> str:
    """offload="auto": the planner's cheapest mode that fits the device's free memory ("none" on a CPU; the
    lowest-memory mode, with a warning, when the estimate says nothing fits)."""
    device = torch.device(device)
    if device.type != "cuda":
        return "none"
    free, _ = torch.cuda.mem_get_info(device)
    mode = pick_mode(plan(request, models), free)
    if mode is None:
        warnings.warn(
            f"the planner estimates that no offload mode fits the {free / GIB:.1f} GiB free on {device} for "
            f"{request.height}x{request.width}x{request.num_frames}; trying sequential (see longcat-i2v plan)",
            stacklevel=2,
        )
        return "sequential"
    return mode

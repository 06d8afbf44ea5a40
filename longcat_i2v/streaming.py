"""Weights kept in CPU memory and put on the device only while they compute: the mechanism of the offload modes
(``offload`` decides what goes where).

A ``Unit`` is some modules' own parameters and buffers. Offloaded, each one is a meta tensor of its shape and
dtype, and its values sit in CPU storage (pinned for a CUDA device, so that copies are asynchronous); loaded,
each one is a copy on the device (on a CPU device the storage itself: nothing is copied). A weight used while
offloaded is a meta tensor, so the mistake shows on the CPU too (an error, or frames that differ), and which
weights are on the device can be counted (``Unit.loaded``, or ``is_meta``).

Why not diffusers' ``apply_group_offloading`` (0.35.1), which works on any ``nn.Module``: it hooks ``forward``
only, so the VAE's ``encode``/``decode`` methods and any DiT pass that does not enter through ``forward`` would
run on offloaded weights; its leaf level hooks every LayerNorm, whose weights our blocks read through
``layer_norm_fp32`` without calling the norm; and with a stream it blocks the host at every group
(``stream.synchronize()`` before each onload and, without ``record_stream``, ``current_stream().synchronize()``
at each offload), which the denoising loop must not do. Here the copy stream and the compute stream meet through
CUDA events only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .quant import stored_bytes


@dataclass
class _Slot:
    """One parameter or buffer of a module: its CPU storage and the placeholder it holds while offloaded."""

    module: nn.Module
    kind: str  # "_parameters" or "_buffers"
    name: str
    storage: torch.Tensor
    placeholder: torch.Tensor

    def install(self, tensor: torch.Tensor) -> None:
        if self.kind == "_parameters" and not isinstance(tensor, nn.Parameter):
            tensor = nn.Parameter(tensor, requires_grad=False)
        getattr(self.module, self.kind)[self.name] = tensor


def _is_plain(t: torch.Tensor) -> bool:
    return not hasattr(t, "__tensor_flatten__")  # torchao's quantized weights are tensor subclasses


def _record(t: torch.Tensor, stream: torch.cuda.Stream) -> None:
    """Tell the caching allocator that ``stream`` uses ``t`` (and a subclass's inner tensors)."""
    if _is_plain(t):
        t.record_stream(stream)
    else:
        for name in t.__tensor_flatten__()[0]:  # type: ignore[attr-defined]  # tensor subclasses (torchao)
            _record(getattr(t, name), stream)


class Unit:
    """The own parameters and buffers of each of ``modules`` (not of their children), moved to CPU storage
    (offloaded) now."""

    def __init__(self, modules: Iterable[nn.Module], device: torch.device, pin: bool = False) -> None:
        self.device = device
        self.slots: list[_Slot] = []
        pin = pin and device.type == "cuda"
        for module in modules:
            for kind in ("_parameters", "_buffers"):
                for name, t in list(getattr(module, kind).items()):
                    if t is not None:
                        self.slots.append(_Slot(module, kind, name, _store(t, kind, pin), _placeholder(t)))
        self.nbytes = sum(stored_bytes(s.storage) for s in self.slots)
        self.loaded = False
        self._pending: tuple[list[torch.Tensor], torch.cuda.Event] | None = None
        self.drop()

    def _copies(self) -> list[torch.Tensor]:
        if self.device.type == "cpu":
            return [s.storage for s in self.slots]
        return [s.storage.detach().to(self.device, non_blocking=True) for s in self.slots]

    def load(self) -> None:
        """Onto the device now, in the current stream's order (no host synchronization from pinned storage)."""
        if self.loaded:
            return
        if self._pending is not None:
            self.activate()
            return
        for slot, copy in zip(self.slots, self._copies(), strict=True):
            slot.install(copy)
        self.loaded = True

    def prefetch(self, stream: torch.cuda.Stream | None) -> None:
        """Start copying onto the device on the side ``stream`` (on a CPU device: load)."""
        if self.loaded or self._pending is not None:
            return
        if stream is None:
            self.load()
            return
        with torch.cuda.stream(stream):
            copies = self._copies()
            done = torch.cuda.Event()
            done.record(stream)
        self._pending = (copies, done)

    def activate(self) -> None:
        """Ready to compute in the current stream: a prefetch is waited for on the device, not on the host."""
        if self.loaded:
            return
        if self._pending is None:
            self.load()
            return
        copies, done = self._pending
        self._pending = None
        current = torch.cuda.current_stream(self.device)
        current.wait_event(done)
        for slot, copy in zip(self.slots, copies, strict=True):
            _record(copy, current)  # freed copies are reused only once the compute stream is past them
            slot.install(copy)
        self.loaded = True

    def drop(self) -> None:
        """Offload: the device copies are released, placeholders take their place."""
        self._pending = None
        for slot in self.slots:
            slot.install(slot.placeholder)
        self.loaded = False


def _store(t: torch.Tensor, kind: str, pin: bool) -> torch.Tensor:
    data = t.detach().to("cpu")
    if pin and _is_plain(data):
        data = data.pin_memory()
    return nn.Parameter(data, requires_grad=False) if kind == "_parameters" else data


def _placeholder(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(t.shape, dtype=t.dtype, device="meta")


def _hook(fn: Callable[[], None]) -> Callable[..., None]:
    """A forward (pre-)hook that calls ``fn``; torch.compile leaves it out of the graph (it swaps weights)."""

    @torch.compiler.disable
    def hook(*_args) -> None:
        fn()

    return hook


def stream_groups(groups: list[list[nn.Module]], device: torch.device, pin: bool = True) -> list[Unit]:
    """Group offloading: each group of modules (called in this order) is one unit, activated when its first
    module starts and released when its last one ends; as a group starts, the next one (cyclically, so the first
    group is ready for the next pass) is copied on a side stream, so a group's copy overlaps the previous group's
    compute and at most two groups are on the device."""
    units = [Unit([m for module in group for m in module.modules()], device, pin) for group in groups]
    side = torch.cuda.Stream(device) if device.type == "cuda" else None
    for i, (group, unit) in enumerate(zip(groups, units, strict=True)):
        ahead = units[(i + 1) % len(units)]

        def start(unit: Unit = unit, ahead: Unit = ahead) -> None:
            unit.activate()
            ahead.prefetch(side)

        group[0].register_forward_pre_hook(_hook(start))
        group[-1].register_forward_hook(_hook(unit.drop))
    return units


def stream_layers(model: nn.Module, device: torch.device, functional: tuple[type, ...] = (), pin: bool = True):
    """Sequential offloading: every module with its own weights is a unit, loaded just before its forward and
    released right after it. A module of a ``functional`` type is not called (its parent reads its weights, as
    ``layer_norm_fp32`` does), so its weights load with its parent's forward instead."""
    owners: dict[nn.Module, list[nn.Module]] = {}
    parents = {child: parent for parent in model.modules() for child in parent.children()}
    for module in model.modules():
        if not any(True for _ in module.parameters(recurse=False)) and not any(True for _ in module.buffers(False)):
            continue
        owner = parents[module] if isinstance(module, functional) else module
        owners.setdefault(owner, []).append(module)
    units = []
    for owner, members in owners.items():
        unit = Unit(members, device, pin)
        owner.register_forward_pre_hook(_hook(unit.load))
        owner.register_forward_hook(_hook(unit.drop))
        units.append(unit)
    return units

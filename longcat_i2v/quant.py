"""Weight-only quantization of the DiT's big matmuls (opt-in; the one option that changes the numbers).

``fp8``: float8_e4m3fn weights with one float32 scale per output channel; ``int8``: symmetric int8 weights with
one scale per output channel. Activations stay in the model dtype and the matmul runs there (bf16 for a bf16
model) on a dequantized weight: that is what weight-only means on every device, so CPU runs the same path as a
GPU. torchao does the work (``Float8WeightOnlyConfig``, ``Int8WeightOnlyConfig``); no kernels of our own.

Only the blocks' attention and feed-forward Linear layers are quantized (99 % of the real DiT's parameters). The
adaLN modulation, the patch/timestep/caption embedders, the norms and the final layer keep their precision (the
``FP32_MODULES`` stay float32), as other DiT quantizations do: they are small, and their error would reach every
token of every block.
"""

from __future__ import annotations

import importlib
import re
import typing
import warnings
from types import ModuleType

import torch
from torch import nn

from . import defaults
from .errors import InvalidInputError, MissingDependencyError, QuantizationError

QUANT_MODES = defaults.QUANT_MODES
QUANTIZED_LAYERS = (
    "attn.qkv", "attn.proj", "cross_attn.q_linear", "cross_attn.kv_linear", "cross_attn.proj",
    "ffn.w1", "ffn.w2", "ffn.w3",
)  # fmt: skip
INSTALL_HINT = 'pip install "longcat-i2v[quant]" (torchao)'
_LAYER_NAME = re.compile(r"^blocks\.\d+\.(?P<layer>.+)$")
_STORED = {"fp8": torch.float8_e4m3fn, "int8": torch.int8}


def is_quantized_layer(name: str) -> bool:
    """True for the Linear layers ``quantize_dit`` quantizes, by their name in the DiT (``blocks.3.ffn.w1``)."""
    m = _LAYER_NAME.match(name)
    return m is not None and m["layer"] in QUANTIZED_LAYERS


def quantized_weight_bytes(out_features: int, in_features: int, mode: str, dtype_bytes: int) -> int:
    """Stored bytes of one quantized weight: one byte per element plus, per output channel, fp8's float32 scale
    or int8's scale (in the model dtype) and int64 zero point (torchao's layouts)."""
    per_channel = 4 if mode == "fp8" else dtype_bytes + 8
    return out_features * (in_features + per_channel)


def _torchao() -> ModuleType:
    try:
        return importlib.import_module("torchao.quantization")
    except ImportError as exc:
        msg = f"quantized DiT weights need torchao, which is not installed: {INSTALL_HINT}"
        raise MissingDependencyError(msg) from exc


def _check_device(mode: str, device: torch.device, dtype: torch.dtype) -> None:
    """Refuse a device that cannot hold the stored type or convert it back to the compute dtype."""
    stored = _STORED[mode]
    try:
        torch.zeros(2, dtype=stored, device=device).to(dtype)
    except (RuntimeError, TypeError) as exc:
        raise QuantizationError(
            f"{mode} weights are stored as {stored}, which {device} cannot convert to {dtype} ({exc}); "
            f"use another mode of {QUANT_MODES} or another device"
        ) from exc


def quantize_dit(dit: nn.Module, mode: str) -> nn.Module:
    """Quantize the DiT's block Linear weights in place (``mode`` 'fp8' or 'int8') and return it."""
    if mode not in QUANT_MODES:
        raise InvalidInputError(f"quantize must be one of {QUANT_MODES}, got {mode!r}")
    layers = {name for name, m in dit.named_modules() if isinstance(m, nn.Linear) and is_quantized_layer(name)}
    if not layers:
        raise QuantizationError(f"no block Linear layers ({', '.join(QUANTIZED_LAYERS)}) found to quantize")
    weights = [typing.cast(nn.Linear, dit.get_submodule(name)).weight for name in sorted(layers)]
    if any(type(w) not in (nn.Parameter, torch.Tensor) for w in weights):
        raise QuantizationError("the DiT's weights are already quantized; load it again to change the mode")
    dtype, device = weights[0].dtype, weights[0].device
    if dtype not in (torch.bfloat16, torch.float16, torch.float32):
        raise QuantizationError(f"weight-only {mode} needs bfloat16, float16 or float32 weights, got {dtype}")
    if device.type == "meta":
        raise QuantizationError("quantize_dit needs materialized weights, not meta tensors")
    _check_device(mode, device, dtype)
    ao = _torchao()
    # set_inductor_config=False: quantizing must not change torch's global compiler settings behind the caller.
    if mode == "fp8":
        config = ao.Float8WeightOnlyConfig(set_inductor_config=False)
    else:
        # torchao 0.15 is the newest release diffusers 0.35.1 imports with; its int8 "version 2" rounds the scales
        # to bf16 and measured 3x version 1's error on the parity DiT, so version 1 (deprecated there, not broken).
        config = ao.Int8WeightOnlyConfig(set_inductor_config=False, version=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Config Deprecation")
        ao.quantize_(dit, config, filter_fn=lambda module, name: name in layers)
    return dit


def parameter_bytes(model: nn.Module) -> int:
    """Bytes the model's parameters and buffers occupy, quantized ones by their stored data and scales."""
    return sum(stored_bytes(t) for t in list(model.parameters()) + list(model.buffers()))


def stored_bytes(t: torch.Tensor) -> int:
    """A plain tensor's bytes, or the sum over a tensor subclass's inner tensors (recursively)."""
    if not hasattr(t, "__tensor_flatten__"):
        return t.numel() * t.element_size()
    return sum(stored_bytes(getattr(t, name)) for name in t.__tensor_flatten__()[0])


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """‖out − ref‖ / ‖ref‖ over all elements, in float64."""
    ref64 = ref.double()
    return float((out.double() - ref64).norm() / ref64.norm())

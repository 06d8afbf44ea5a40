"""Weight-only fp8/int8 DiT quantization: what is stored, how far the output moves, and the refusals.

The bounds below were measured on the parity checkpoint's DiT with the dit_cond1 inputs (torchao 0.15, CPU):
relative L2 error against the same model unquantized, bf16 model: fp8 0.0177, int8 0.0074; float32 model:
fp8 0.0174, int8 0.0040 (bf16 itself is 0.044 from float32 there, the original's timestep rounding included).
Each bound is about twice the measurement. Weight-only means the matmul runs on the dequantized weight in the
model dtype on every device, so this CPU path is the GPU path too.
"""

import sys

import pytest
import torch

from longcat_i2v import quant
from longcat_i2v.checkpoint import load_dit
from longcat_i2v.dit import FP32_MODULES
from longcat_i2v.errors import InvalidInputError, MissingDependencyError, QuantizationError
from longcat_i2v.lora import LoRAHandle, fit_lora, read_lora_file
from longcat_i2v.quant import parameter_bytes, quantize_dit, quantized_weight_bytes, relative_error
from tests.conftest import PARITY_CKPT, load_case

BOUND = {("fp8", torch.bfloat16): 0.04, ("int8", torch.bfloat16): 0.015, ("fp8", torch.float32): 0.035,
         ("int8", torch.float32): 0.01}  # fmt: skip
STORED = {"fp8": torch.float8_e4m3fn, "int8": torch.int8}


def _dit(dtype):
    return load_dit(PARITY_CKPT / "dit", dtype=dtype)


def _forward(dit):
    meta, t = load_case("dit_cond1")
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])
    with torch.no_grad():
        return dit(*args, num_cond_latents=meta["num_cond_latents"])


def _inner(weight):
    """The stored tensors of a torchao weight: {name: tensor}, one level of nesting unwrapped."""
    names = weight.__tensor_flatten__()[0]
    if names == ["tensor_impl"]:
        return _inner(weight.tensor_impl)
    return {n: getattr(weight, n) for n in names}


def test_relative_error_known_answers():
    ref = torch.tensor([3.0, -4.0])
    assert relative_error(ref, ref) == 0.0
    assert relative_error(ref * 1.1, ref) == pytest.approx(0.1)
    assert relative_error(ref + torch.tensor([0.0, 5.0]), ref) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", quant.QUANT_MODES)
def test_only_block_linears_are_stored_quantized_with_per_channel_scales(mode):
    pytest.importorskip("torchao")
    dit = quantize_dit(_dit(torch.bfloat16), mode)
    quantized = 0
    for name, module in dit.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if quant.is_quantized_layer(name):
            inner = _inner(module.weight)
            data = next(v for k, v in inner.items() if k in ("qdata", "int_data"))
            assert data.dtype == STORED[mode] and data.shape == module.weight.shape
            assert inner["scale"].numel() == module.out_features  # one scale per output channel
            assert module.weight.dtype == torch.bfloat16  # the compute dtype
            quantized += 1
        else:
            assert type(module.weight) is torch.nn.Parameter
            expected = torch.float32 if any(p in name for p in FP32_MODULES) else torch.bfloat16
            assert module.weight.dtype == expected, name
    assert quantized == dit.config.depth * len(quant.QUANTIZED_LAYERS)


@pytest.mark.parametrize("mode", quant.QUANT_MODES)
def test_parameter_bytes_shrink_by_the_stored_layout(mode):
    pytest.importorskip("torchao")
    plain = _dit(torch.bfloat16)
    layers = [m for n, m in plain.named_modules() if isinstance(m, torch.nn.Linear) and quant.is_quantized_layer(n)]
    before = parameter_bytes(plain)
    saved = sum(m.weight.numel() * 2 - quantized_weight_bytes(m.out_features, m.in_features, mode, 2) for m in layers)
    after = parameter_bytes(quantize_dit(plain, mode))
    assert after == before - saved
    assert after < 0.7 * before  # the tiny model's high-precision parts are a large share; 0.51 at the real width


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("mode", quant.QUANT_MODES)
def test_quantized_output_stays_within_the_measured_bound(mode, dtype):
    pytest.importorskip("torchao")
    ref = _forward(_dit(dtype))
    err = relative_error(_forward(quantize_dit(_dit(dtype), mode)), ref)
    assert 1e-3 < err < BOUND[(mode, dtype)]  # moved (it is quantized), but not far


def test_lora_applies_on_top_of_quantized_weights():
    pytest.importorskip("torchao")
    dit = quantize_dit(_dit(torch.bfloat16), "fp8")
    lora = fit_lora(read_lora_file(PARITY_CKPT / "lora" / "cfg_step_lora.safetensors"), dit)
    base = _forward(dit)
    with LoRAHandle(dit, lora):
        adapted = _forward(dit)
    assert (adapted - base).abs().max() > 1e-2
    assert torch.equal(_forward(dit), base)


def test_missing_torchao_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchao", None)
    monkeypatch.setitem(sys.modules, "torchao.quantization", None)
    with pytest.raises(MissingDependencyError, match=r"torchao.*longcat-i2v\[quant\]"):
        quantize_dit(_dit(torch.float32), "fp8")


def test_device_without_float8_is_refused_naming_it(monkeypatch):
    real_zeros = torch.zeros

    def zeros(*args, dtype=None, **kwargs):
        if dtype == torch.float8_e4m3fn:
            raise RuntimeError("float8 is not supported on this device")
        return real_zeros(*args, dtype=dtype, **kwargs)

    monkeypatch.setattr(torch, "zeros", zeros)
    with pytest.raises(QuantizationError, match=r"fp8.*float8_e4m3fn.*cpu.*torch.float32.*int8"):
        quantize_dit(_dit(torch.float32), "fp8")


def test_bad_mode_dtype_and_double_quantization_are_refused():
    with pytest.raises(InvalidInputError, match=r"quantize must be one of \('fp8', 'int8'\), got 'int4'"):
        quantize_dit(_dit(torch.float32), "int4")
    with pytest.raises(QuantizationError, match="torch.float64"):
        quantize_dit(_dit(torch.float32).double(), "int8")
    pytest.importorskip("torchao")
    dit = quantize_dit(_dit(torch.float32), "int8")
    with pytest.raises(QuantizationError, match="already quantized"):
        quantize_dit(dit, "fp8")

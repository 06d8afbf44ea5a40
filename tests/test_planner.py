"""The memory planner: its estimates against peaks measured on CPU (TensorMemory), its counts against the
models, and the plan command."""

import dataclasses

import pytest
import torch
from PIL import Image

from longcat_i2v import cli, planner
from longcat_i2v.checkpoint import load_dit
from longcat_i2v.dit import DiTConfig, LongCatDiT
from longcat_i2v.loading import auto_request, generation_request
from longcat_i2v.planner import (
    GIB,
    Models,
    ModePlan,
    Request,
    Stage,
    TextEncoderShape,
    dit_activation_bytes,
    dit_weights,
    kv_cache_bytes,
    pick_mode,
    plan,
    refine_latents,
    text_activation_bytes,
    tokens,
    vae_decode_bytes,
    vae_encode_bytes,
    vae_weights,
)
from longcat_i2v.quant import parameter_bytes
from longcat_i2v.settings import ContinuationSettings, I2VSettings, RefineSettings, RuntimeSettings
from longcat_i2v.tensor_memory import TensorMemory
from tests.conftest import PARITY_CKPT

# head_dim 128 and an FFN 2.67× wide, as the real DiT (the tiny checkpoints' FFN is 4× wide).
REAL_LIKE = DiTConfig(hidden_size=384, depth=2, num_heads=3, caption_channels=64, adaln_tembed_dim=64)
TOLERANCE = 0.2


def test_tensor_memory_counts_new_storages_not_views_or_inputs():
    x = torch.zeros(1000)
    with TensorMemory() as m:
        a = x * 2  # 4000 bytes
        b = a.view(10, 100)  # a view: nothing new
        c = torch.empty(500, dtype=torch.float64)  # 4000 bytes
        del a, b
        d = x[:10]  # a view of an input
        peak_then = m.peak
    assert peak_then == 8000
    assert m.current == 4000 and c.numel() == 500 and d.numel() == 10


@pytest.mark.parametrize(
    "grid,batch,dtype",
    [((3, 8, 8), 2, torch.float32), ((5, 12, 16), 2, torch.float32), ((9, 12, 16), 1, torch.float32),
     ((3, 8, 12), 2, torch.bfloat16), ((5, 8, 16), 2, torch.bfloat16), ((9, 8, 16), 1, torch.bfloat16)],
)  # fmt: skip
def test_dit_activation_estimate_within_20_percent_of_measured(grid, batch, dtype):
    torch.manual_seed(0)
    dit = LongCatDiT(REAL_LIKE).to(dtype).eval()
    t, h, w = grid
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 16, t, 2 * h, 2 * w, generator=g)
    text = torch.randn(batch, 1, 16, 64, generator=g)
    timestep = torch.full((batch, t), 500.0)
    with torch.no_grad(), TensorMemory() as m:
        dit(x, timestep, text, torch.ones(batch, 16, dtype=torch.long), num_cond_latents=1)
    estimate = dit_activation_bytes(REAL_LIKE, t * h * w, batch, 2 if dtype == torch.bfloat16 else 4)
    assert abs(estimate - m.peak) <= TOLERANCE * m.peak, (estimate, m.peak)


def test_vae_estimates_within_20_percent_of_measured(parity_pipe):
    vae = parity_pipe.components.vae  # float32, base_dim 8
    base = vae.config.base_dim
    z = torch.randn(1, 16, 3, 8, 8)
    with torch.no_grad(), TensorMemory() as m:
        frames = parity_pipe.decode(z)  # the pipeline's decode: VAE, then float frames
    decode = vae_decode_bytes(base, 64, 64, frames.shape[0], 4)
    assert abs(decode - m.peak) <= TOLERANCE * m.peak, (decode, m.peak)
    for n in (1, 5):
        video = torch.randn(1, 3, n, 64, 64)
        with torch.no_grad(), TensorMemory() as m:
            vae.encode(video)
        encode = vae_encode_bytes(base, 64, 64, n, 4)
        assert abs(encode - m.peak) <= TOLERANCE * m.peak, (n, encode, m.peak)


def test_text_encoder_estimate_within_20_percent_of_measured(parity_pipe):
    encoder = parity_pipe.components.text_encoder
    shape = TextEncoderShape.from_dict(encoder.config.to_dict())
    ids = torch.randint(0, shape.vocab_size, (2, 512))
    with torch.no_grad(), TensorMemory() as m:
        encoder(ids, attention_mask=torch.ones_like(ids))
    estimate = text_activation_bytes(shape, 2, 512, 4)
    assert abs(estimate - m.peak) <= TOLERANCE * m.peak, (estimate, m.peak)


def test_weight_counts_match_the_built_models(parity_pipe):
    dit = load_dit(PARITY_CKPT / "dit", dtype=torch.bfloat16)  # float32 modulation, the rest bf16
    assert dit_weights(dit.config, 2).total == parameter_bytes(dit)
    assert dit_weights(dit.config, 4).total == parameter_bytes(load_dit(PARITY_CKPT / "dit"))
    encoder = parity_pipe.components.text_encoder
    shape = TextEncoderShape.from_dict(encoder.config.to_dict())
    assert shape.parameters() == sum(p.numel() for p in encoder.parameters())
    vae = parity_pipe.components.vae
    assert vae_weights(dict(vae.config), 4).total == sum(p.numel() * 4 for p in vae.parameters())


def test_quantized_weight_count_matches_the_quantized_model():
    pytest.importorskip("torchao")
    from longcat_i2v.quant import quantize_dit

    for mode in ("fp8", "int8"):
        dit = quantize_dit(load_dit(PARITY_CKPT / "dit", dtype=torch.bfloat16), mode)
        assert dit_weights(dit.config, 2, mode).total == parameter_bytes(dit)


def test_real_model_known_answers():
    real = dit_weights(DiTConfig(), 2)
    params = 13_581_071_424  # LONGCAT_REFERENCE: 13.58B; 604M of them (adaLN, embedders, final) in float32
    assert 2 * params < real.total < 2 * params + 2 * 0.7e9
    assert TextEncoderShape().parameters() == 5_680_910_336  # UMT5EncoderModel(umt5-xxl config), counted on meta
    assert tokens(24, 480, 832) == 37_440  # 93 frames at 480x832 (the reference notes)
    assert kv_cache_bytes(DiTConfig(), 1560, 2) == 2 * 48 * 1560 * 4096 * 2
    fp8 = dit_weights(DiTConfig(), 2, "fp8")
    assert 0.5 < fp8.total / real.total < 0.56  # block Linears at 1 byte; float32 modulation stays


def test_refinement_latents_match_the_parity_cases():
    assert refine_latents(9) == (4, 12)  # refine_i2v: T=12
    assert refine_latents(9, spatial_only=True) == (4, 8)  # refine_i2v_sro_bsa: T=8
    assert refine_latents(13, cond_frames=5, spatial_only=True) == (4, 8)  # refine_vc_sro: 4 cond latents, T=8
    assert refine_latents(93) == (4, 52)


def test_modes_order_and_what_shrinks_what():
    req = Request(480, 832, 93)
    plans = {p.mode: p for p in plan(req)}
    peaks = [plans[m].peak for m in planner.OFFLOAD_MODES]
    assert peaks == sorted(peaks, reverse=True)
    stage = {p.mode: {s.name: s for s in p.stages} for p in plans.values()}
    assert stage["sequential"]["text"].total == 0  # text encoder on the CPU
    fp8 = {p.mode: p for p in plan(Request(480, 832, 93, quantize="fp8"))}
    assert fp8["model"].peak < plans["model"].peak - 10 * GIB
    sp2 = {p.mode: {s.name: s for s in p.stages} for p in plan(Request(480, 832, 93, sp=2))}
    one, two = stage["group"]["denoise"].activations, sp2["group"]["denoise"].activations
    assert 0.45 < two / one < 0.55
    refine = {p.mode: p for p in plan(Request(480, 832, 93, refine=True, refine_size=(704, 1312)))}
    assert [s.name for s in refine["none"].stages][-3:] == ["refine encode", "refine", "refine decode"]


def test_a_refined_continuation_plans_its_refinement_and_kv_cache():
    """A continuation on 13 frames refines on 2 x 13 = 26 (the input at 30 fps): 93 -> 186 frames, 26 of them
    conditioning -> 1 + ceil(25/4) = 8 latents (whole blocks of 4), 160 new -> 40: 48 latents, where image-to-video
    (1 frame -> 4 latents, 185 new -> 47 -> 48) has 52. Its K/V cache (4 latents x 30 x 52 tokens, 48 blocks) is on
    the GPU whole in every mode, or two blocks of it with offload_kv_cache."""
    cfg, size = DiTConfig(), (704, 1280)  # 44 x 80 = 3520 tokens per latent

    def refine_stage(r: Request) -> int:
        return {s.name: s for s in plan(r)[0].stages}["refine"].activations

    def held(latents: int) -> int:  # the text embedding and 8 float32 latent copies at the refine size
        return 512 * cfg.caption_channels * 2 + 8 * 16 * latents * 88 * 160 * 4

    vc = Request(480, 832, 93, cond_frames=13, kv_cache=True, refine=True, refine_size=size)
    assert refine_stage(vc) == dit_activation_bytes(cfg, 48 * 3520, 1) + held(48)
    i2v = Request(480, 832, 93, refine=True, refine_size=size)
    assert refine_stage(i2v) == dit_activation_bytes(cfg, 52 * 3520, 1) + held(52)
    streamed = dataclasses.replace(vc, offload_kv_cache=True)
    whole, two = (2 * blocks * 4 * 1560 * 4096 * 2 for blocks in (48, 2))
    for full, part in zip(plan(vc), plan(streamed), strict=True):
        denoise = [{s.name: s.activations for s in p.stages}["denoise"] for p in (full, part)]
        assert denoise[0] - denoise[1] == whole - two, full.mode


def test_generation_request_carries_the_continuation_and_the_refinement():
    vc = ContinuationSettings(height=480, width=832, num_cond_frames=13, offload_kv_cache=True, refine=True)
    r = generation_request(vc, RuntimeSettings(), torch.bfloat16, (704, 1280))
    assert (r.cond_frames, r.kv_cache, r.offload_kv_cache, r.refine, r.refine_size) == (
        13,
        True,
        True,
        True,
        (704, 1280),
    )
    r = generation_request(I2VSettings(height=480, width=832), RuntimeSettings(), torch.bfloat16, (704, 1280))
    assert (r.cond_frames, r.kv_cache, r.offload_kv_cache, r.refine, r.refine_size) == (1, True, False, False, None)
    # --offload auto plans the generation at its input's bucket, with the refinement at its 64-grid 720p size
    image, auto = Image.new("RGB", (832, 480)), RuntimeSettings(offload="auto", device="cpu")
    r = auto_request(I2VSettings(refine=True), RefineSettings(), auto, image)
    assert (r.height, r.width, r.refine, r.refine_size) == (480, 832, True, (704, 1280))
    assert auto_request(I2VSettings(refine=True), RefineSettings(), RuntimeSettings(), image) is None


def test_pick_mode_takes_the_first_that_fits_with_slack_and_reserve():
    plans = [ModePlan(m, (Stage("denoise", 0, int(g * GIB)),)) for m, g in (("none", 30), ("model", 20), ("group", 9))]
    assert pick_mode(plans, 24 * GIB) == "model"
    assert pick_mode(plans, 22 * GIB) == "model"  # 20 · 1.05 + 1 = 22
    assert pick_mode(plans, 21.9 * GIB) == "group"
    assert pick_mode(plans, 10 * GIB) is None  # 9 · 1.05 + 1 = 10.45


def test_plan_command_prints_every_mode_and_the_pick(capsys):
    argv = ["plan", "--gpu-memory", "24", "--resolution", "480p", "--num-frames", "93", "--quantize", "fp8"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "480x832" in out and "37,440 tokens" in out and "estimated" in out
    rows = [line.split()[0] for line in out.splitlines()[3:8]]
    assert rows == ["mode", "none", "model", "group", "sequential"]
    assert out.count("<- cheapest that fits") == 1


def test_plan_command_reads_a_checkpoint_and_refuses_bad_values(capsys):
    assert cli.main(["plan", "--gpu-memory", "2", "--checkpoint", str(PARITY_CKPT), "--num-frames", "5"]) == 0
    assert "none" in capsys.readouterr().out.split("<- cheapest that fits")[0].splitlines()[-1]
    for argv, message in [
        (["--gpu-memory", "0"], "--gpu-memory must be a positive"),
        (["--gpu-memory", "24", "--num-frames", "10"], "4k\\+1"),
        (["--gpu-memory", "24", "--aspect", "wide"], "WIDTH:HEIGHT"),
        (["--gpu-memory", "24", "--height", "100", "--width", "64"], "multiples of 16"),
        (["--gpu-memory", "24", "--sp", "0"], "--sp must be"),
    ]:
        assert cli.main(["plan", *argv]) == 2
        assert message.replace("\\", "") in capsys.readouterr().err


def test_models_from_checkpoint_reads_its_configs():
    models = Models.from_checkpoint(PARITY_CKPT)
    assert models.dit.hidden_size == 128 and models.text.d_model == 64 and models.vae_dims() == (8, 8)

"""A deterministic tiny random-weight checkpoint in the original hub layout, so that every part of the
project runs on a CPU with no download. Its videos are noise; only shapes and plumbing are real."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from . import defaults
from .dit import DiTConfig, LongCatDiT
from .files import SINGLE_FILE
from .lora import HYPHEN, PREFIX

TINY_MARKER = "_longcat_i2v_tiny"  # in model_index.json: the built-in random-weight checkpoint
TINY_VERSION = "tiny-v2"  # v2: the refinement LoRA and the hub's bsa_params
# Where a front end starts on the tiny checkpoint (unless told otherwise): seconds per video on a CPU.
SMALL_SETTINGS = {"num_frames": 9, "num_inference_steps": 8, "height": 144, "width": 256}
# ... and its refinement (--refine): twice that in frames on a small 64-pixel-grid size, its shape; the VAE decoding
# the doubled frames is most of the time (at 128x256 a tiny refinement already takes over a minute on 2 CPU cores).
SMALL_REFINE_SETTINGS = {"height": 64, "width": 128}
SEED = 20251123
DIT = DiTConfig(
    hidden_size=128, depth=2, num_heads=4, caption_channels=64, adaln_tembed_dim=64, text_tokens_zero_pad=True
)
TEXT_DIM = 64
BSA_PARAMS = {"sparsity": 0.9375, "chunk_3d_shape_q": [4, 4, 4], "chunk_3d_shape_k": [4, 4, 4]}  # the hub's
LORA_RANK = 4
LORA_TARGETS = ("attn.qkv", "attn.proj", "cross_attn.q_linear", "cross_attn.kv_linear", "cross_attn.proj",
                "ffn.w1", "ffn.w2", "ffn.w3", "adaLN_modulation.1")  # fmt: skip
FUSED_PARTS = {"attn.qkv": 3, "cross_attn.kv_linear": 2}
WORDS = ("a the of and in on at with to from by is are camera pans over across slowly moves walks runs jumps sits "
         "cat dog woman man person child bird car road street city forest tree river lake sea sky cloud sun light "
         "night day snow rain mountain valley field flower house room table window chair cup small large red green "
         "blue orange white black gray bright dark soft warm cold video scene shot close wide view"
).split()  # fmt: skip
LATENTS_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]  # fmt: skip
LATENTS_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
               3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916]  # fmt: skip


def _randomize(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Matrices ~ N(0, 1/fan_in), norm gains ~ 1 + 0.1·N, biases ~ 0.1·N: a well-scaled random net."""
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() >= 2:
                p.copy_(noise / (p[0].numel() ** 0.5))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)


def _write_dit(root: Path, gen: torch.Generator) -> LongCatDiT:
    dit = LongCatDiT(DIT)
    _randomize(dit, gen)
    (root / "dit").mkdir()
    save_file(
        {k: v.contiguous() for k, v in dit.state_dict().items()},
        str(root / "dit" / SINGLE_FILE),
    )
    config = {"_class_name": "LongCatVideoTransformer3DModel", **DIT.__dict__, "patch_size": list(DIT.patch_size),
              "enable_flashattn2": False, "enable_flashattn3": False, "enable_xformers": False, "enable_bsa": False,
              "bsa_params": BSA_PARAMS, "cp_split_hw": [1, 1]}  # fmt: skip
    (root / "dit" / "config.json").write_text(json.dumps(config, indent=2))
    return dit


def _write_lora(root: Path, dit: LongCatDiT, gen: torch.Generator, name: str) -> None:
    state = {}
    named = dict(dit.named_modules())
    targets = [f"blocks.{i}.{t}" for i in range(DIT.depth) for t in LORA_TARGETS]
    for target in targets + ["final_layer.adaLN_modulation.1", "final_layer.linear"]:
        layer = named[target]
        parts = FUSED_PARTS.get(target.split(".", 2)[-1], 1)
        key = PREFIX + target.replace(".", HYPHEN)
        state[f"{key}.lora_down.weight"] = torch.randn(LORA_RANK * parts, layer.in_features, generator=gen) * 0.1
        ups = [torch.randn(layer.out_features // parts, LORA_RANK, generator=gen) * 0.1 for _ in range(parts)]
        if parts == 1:
            state[f"{key}.lora_up.weight"] = ups[0]
        else:
            state.update({f"{key}.lora_up.blocks.{j}.weight": up for j, up in enumerate(ups)})
        state[f"{key}.alpha_scale"] = torch.tensor(0.5)
    (root / "lora").mkdir(exist_ok=True)
    save_file(state, str(root / "lora" / name))


def _write_tokenizer(root: Path) -> int:
    """A small Unigram tokenizer saved as T5TokenizerFast (no download); returns its vocabulary size."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import T5TokenizerFast

    chars = sorted({c for w in WORDS for c in w} | set("0123456789.,!?'-"))
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{w}", -1.0) for w in WORDS] + [(c, -5.0) for c in chars] + [(f"▁{c}", -6.0) for c in chars]
    tok = Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    fast = T5TokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", extra_ids=0)
    fast.model_max_length = 512
    fast.save_pretrained(str(root / "tokenizer"))
    return len(vocab)


def _write_components(root: Path, gen: torch.Generator) -> None:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    vocab_size = _write_tokenizer(root)
    torch.manual_seed(SEED)  # the VAE and umT5 constructors draw their init from the global RNG
    vae = AutoencoderKLWan(
        base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, temperal_downsample=[False, True, True],
        latents_mean=LATENTS_MEAN, latents_std=LATENTS_STD,
    )  # fmt: skip
    vae.save_pretrained(str(root / "vae"))  # type: ignore[attr-defined]  # ModelMixin's, hidden by lazy imports
    text_cfg = UMT5Config(vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                          relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", is_encoder_decoder=False,
                          use_cache=False, tie_word_embeddings=False)  # fmt: skip
    encoder = UMT5EncoderModel(text_cfg)
    _randomize(encoder, gen)
    encoder.save_pretrained(str(root / "text_encoder"))
    FlowMatchEulerDiscreteScheduler(shift=12.0).save_pretrained(str(root / "scheduler"))  # type: ignore[attr-defined]


def make_tiny_checkpoint(path: str | Path) -> Path:
    """Write the tiny checkpoint to ``path`` (which must not exist yet); the same bytes every time."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose a new directory for the tiny checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=path.parent))
    try:
        with torch.random.fork_rng(devices=[]):
            gen = torch.Generator().manual_seed(SEED)
            dit = _write_dit(tmp, gen)
            _write_lora(tmp, dit, gen, defaults.DISTILL_LORA_NAME)
            _write_components(tmp, gen)
            # Its own generator, so the other files are those of tiny-v1.
            _write_lora(tmp, dit, torch.Generator().manual_seed(SEED + 1), defaults.REFINEMENT_LORA_NAME)
        index = {"_class_name": "LongCatVideoPipeline", TINY_MARKER: True, "_tiny_version": TINY_VERSION,
                 "dit": ["longcat_video", "LongCatVideoTransformer3DModel"],
                 "scheduler": ["longcat_video", "FlowMatchEulerDiscreteScheduler"],
                 "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
                 "vae": ["longcat_video", "AutoencoderKLWan"]}  # fmt: skip
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2))
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("LONGCAT_I2V_CACHE", Path.home() / ".cache" / "longcat-i2v")).expanduser()


def ensure_tiny_checkpoint() -> Path:
    """The built-in tiny checkpoint, written on first use (atomically, so concurrent first uses are safe)."""
    path = cache_dir() / TINY_VERSION
    if (path / "model_index.json").is_file():
        return path
    try:
        return make_tiny_checkpoint(path)
    except (FileExistsError, OSError):
        if (path / "model_index.json").is_file():  # another process won the race
            return path
        raise

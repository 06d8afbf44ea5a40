"""Checking a checkpoint's config values before any model is built from them: a nonsensical value (a zero or
negative size, a wrong type, a non-finite number) becomes a CheckpointError naming the file and the key, instead
of an error from deep inside a constructor. Keys that are absent keep the constructors' defaults and are not
checked here; how sizes fit together is checked where the configs are combined (``checkpoint``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import CheckpointError

Rule = tuple[Callable[[Any], bool], str]  # (accepts the value, what is allowed — for the message)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _list_of(ok: Callable[[Any], bool], length: int | None = None) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and bool(v) and (length is None or len(v) == length) and all(map(ok, v))


POSITIVE_INT: Rule = (lambda v: _is_int(v) and v > 0, "a positive integer")
POSITIVE_NUMBER: Rule = (lambda v: _is_number(v) and v > 0, "a positive finite number")
BOOL: Rule = (lambda v: isinstance(v, bool), "true or false")
POSITIVE_INTS: Rule = (_list_of(POSITIVE_INT[0]), "a non-empty list of positive integers")
NUMBERS: Rule = (_list_of(_is_number), "a non-empty list of finite numbers")
POSITIVE_NUMBERS: Rule = (_list_of(POSITIVE_NUMBER[0]), "a non-empty list of positive finite numbers")
BOOLS: Rule = (_list_of(BOOL[0]), "a non-empty list of true/false")

_DIT_SIZES = ("in_channels", "out_channels", "hidden_size", "depth", "num_heads", "caption_channels", "mlp_ratio",
              "adaln_tembed_dim", "frequency_embedding_size")  # fmt: skip
DIT: dict[str, Rule] = {
    **dict.fromkeys(_DIT_SIZES, POSITIVE_INT),
    "patch_size": (_list_of(POSITIVE_INT[0], 3), "a list of 3 positive integers [t, h, w]"),
    "text_tokens_zero_pad": BOOL,
}
VAE: dict[str, Rule] = {
    **dict.fromkeys(("base_dim", "z_dim", "num_res_blocks", "in_channels", "out_channels"), POSITIVE_INT),
    "dim_mult": POSITIVE_INTS,
    "temperal_downsample": BOOLS,  # sic: diffusers' spelling
    "latents_mean": NUMBERS,
    "latents_std": POSITIVE_NUMBERS,
}
_TEXT_SIZES = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "relative_attention_num_buckets",
               "relative_attention_max_distance")  # fmt: skip
TEXT_ENCODER: dict[str, Rule] = dict.fromkeys(_TEXT_SIZES, POSITIVE_INT)
SCHEDULER: dict[str, Rule] = {"num_train_timesteps": POSITIVE_INT, "shift": POSITIVE_NUMBER}


def check_values(
    raw: Mapping[str, Any], rules: Mapping[str, Rule], path: Path, names: Mapping[str, str] | None = None
) -> None:
    """Every key of ``rules`` present in ``raw`` must pass its rule; ``names`` gives a key's name in the file
    when it differs (FastVideo's ``num_attention_heads`` for ``num_heads``)."""
    for key, (ok, allowed) in rules.items():
        if key in raw and not ok(raw[key]):
            name = (names or {}).get(key, key)
            raise CheckpointError(f"{path}: {name!r} must be {allowed}, got {raw[key]!r}")

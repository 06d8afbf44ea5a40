"""Prompt validation, then cleaning and umT5 encoding as the original pipeline does them."""

from __future__ import annotations

import html
import re

import ftfy
import torch

_SPACES = re.compile(r"\s+")


def clean_prompt(text: str) -> str:
    """ftfy mojibake repair, HTML unescaped twice, whitespace runs collapsed to one space."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return _SPACES.sub(" ", text).strip()


@torch.no_grad()
def encode_prompts(
    tokenizer, text_encoder, prompts: list[str], max_sequence_length: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode prompts padded to ``max_sequence_length``: embeddings [B, 1, L, C] and the mask [B, L] (int64)."""
    tokens = tokenizer(
        [clean_prompt(p) for p in prompts],
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids, mask = tokens.input_ids.to(device), tokens.attention_mask.to(device)
    embeds = text_encoder(ids, mask).last_hidden_state
    return embeds[:, None], mask

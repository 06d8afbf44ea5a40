"""Regional ``torch.compile``: each DiT block compiled on its own.

All blocks share one ``Block.forward`` and one set of shapes, so torch compiles one graph and reuses it for every
block (parameters are graph inputs), in a fraction of a whole-model compile and without graph breaks at the
block loop or the sequence-parallel hooks around it. ``nn.Module.compile`` compiles in place: parameter names,
state dicts and forward hooks (LoRA) stay as they are.

Shapes are static by default (``dynamic=False``): a generation keeps one shape, and a new size compiles anew.
With torch's automatic dynamic shapes, a second size whose tokens per frame differ (so the conditioning split
moves) fails to compile in torch 2.13 (inductor's SDPA lowering: "Exponent must be non-negative").
"""

from __future__ import annotations

from typing import Any

from torch import nn


def compile_blocks(dit: nn.Module, **compile_kwargs: Any) -> nn.Module:
    """Compile every block of ``dit.blocks`` in place (``compile_kwargs`` go to ``torch.compile``); returns dit."""
    compile_kwargs.setdefault("dynamic", False)
    blocks = dit.get_submodule("blocks")
    assert isinstance(blocks, nn.ModuleList)
    for block in blocks:
        block.compile(**compile_kwargs)
    return dit

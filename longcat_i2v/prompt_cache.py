"""The prompt embeddings of a session's recent prompts, so that a prompt is encoded once: the text encoder (umT5-XXL,
11 GB) need not come back to the GPU, nor run on the CPU, for a prompt it has already seen."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch

Encoded = tuple[torch.Tensor, torch.Tensor]  # embeddings, mask


class PromptCache:
    """Least-recently-used cache of up to ``size`` encodings (each ~8 MB for umT5-XXL with CFG), keyed by
    everything the encoding depends on."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Encoded] = OrderedDict()

    def get(self, key: Hashable, encode: Callable[[], Encoded]) -> Encoded:
        """The cached encoding of ``key``, else ``encode()``'s, kept. Copies are returned: callers may write to
        them (sequence parallel broadcasts into them)."""
        if key in self._items:
            self._items.move_to_end(key)
        else:
            self._items[key] = encode()
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        embeds, mask = self._items[key]
        return embeds.clone(), mask.clone()

    def __len__(self) -> int:
        return len(self._items)

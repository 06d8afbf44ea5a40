"""Peak bytes of the tensors a computation creates, on any device (the CPU included).

torch reports allocator peaks only for accelerators. This counts every tensor storage an operator creates
inside the context, from its creation to its release: a TorchDispatchMode sees each operator call, a weak
reference on each new storage sees it freed. That is the quantity CUDA's ``max_memory_allocated`` reports, less
the allocator's rounding and caching. Storages made before the context (weights, inputs) are not counted, nor
are buffers a kernel allocates internally. (torch's ``MemTracker`` in ``torch.distributed._tools`` counts the
same, but refuses a module called twice in one pass, like the VAE decoder's per-frame loop.)
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class TensorMemory(TorchDispatchMode):
    """``with TensorMemory() as m: ...`` then ``m.peak`` (and ``m.current``) in bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: dict[int, weakref.ref] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {t.untyped_storage()._cdata for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                self._track(t.untyped_storage(), inputs)
        return out

    def _track(self, storage: torch.UntypedStorage, inputs: set[int]) -> None:
        key = storage._cdata
        if key in inputs or key in self._live:  # a view or an in-place result: no new memory
            return
        nbytes = storage.nbytes()
        self._live[key] = weakref.ref(storage, lambda _ref: self._release(key, nbytes))
        self.current += nbytes
        self.peak = max(self.peak, self.current)

    def _release(self, key: int, nbytes: int) -> None:
        if self._live.pop(key, None) is not None:
            self.current -= nbytes

"""Progress and cancel inside the VAE decode, which the core runs as one call.

diffusers' ``AutoencoderKLWan`` decodes one latent frame at a time (its decoder is called once per latent
frame, with a cache of the previous frames' features), so a pre-hook on the decoder sees every frame before it
is decoded: it can report "frame i of T" and stop the decode by raising. The decode itself is untouched, so the
frames are exactly those of an unwatched decode (tested).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch


@contextlib.contextmanager
def watch_decoder(vae: torch.nn.Module, before_frame: Callable[[int], None]) -> Iterator[None]:
    """Call ``before_frame(i)`` (0-based) before the VAE decodes latent frame i, for the duration of the block.

    An exception from ``before_frame`` (e.g. GenerationCancelled) ends the decode; the VAE's feature cache is
    then emptied so the cancelled decode holds no memory."""
    decoder, start = getattr(vae, "decoder", None), getattr(vae, "post_quant_conv", None)
    if decoder is None or start is None:  # not diffusers' frame-by-frame Wan VAE: nothing to watch
        yield
        return
    calls = 0

    def pre_hook(module: torch.nn.Module, args: tuple) -> None:
        nonlocal calls
        frame, calls = calls, calls + 1
        before_frame(frame)

    def reset(module: torch.nn.Module, args: tuple) -> None:
        nonlocal calls
        calls = 0

    handles = [decoder.register_forward_pre_hook(pre_hook), start.register_forward_pre_hook(reset)]
    try:
        yield
    except BaseException:
        if hasattr(vae, "clear_cache"):
            vae.clear_cache()
        raise
    finally:
        for handle in handles:
            handle.remove()

"""A checkpoint loaded with the runtime options applied, in the order they need: the attention kernel and the
parallel groups first (to fail before any weight is read), the offload mode (``auto``: the planner's pick), the
components read onto the device or, when they will be offloaded or sharded, into CPU memory; then quantization,
sharding, placement and regional compile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import defaults
from .attention import resolve_kernel
from .checkpoint import Components, check_layout, load_components
from .conditioning import bucket_size, resolve_size
from .errors import ParallelConfigError
from .offload import Placement, choose_mode
from .parallel import Parallel, setup_parallel
from .planner import Models, Request
from .quant import quantize_dit
from .refinement import refine_size
from .regional_compile import compile_blocks
from .settings import ContinuationSettings, I2VSettings, RefineSettings, RuntimeSettings
from .sharding import mesh_for, shard_dit, shard_text_encoder


@dataclass
class Loaded:
    components: Components
    parallel: Parallel | None
    placement: Placement
    attention_kernel: str


def default_request(options: RuntimeSettings, dtype: torch.dtype) -> Request:
    """What ``offload="auto"`` plans for when the caller does not say: the default generation (a 16:9 image at
    the default resolution and frame count, with CFG)."""
    height, width = bucket_size(16, 9, defaults.RESOLUTION)
    return generation_request(I2VSettings(height=height, width=width), options, dtype)


def generation_request(
    settings: I2VSettings | ContinuationSettings,
    options: RuntimeSettings,
    dtype: torch.dtype,
    refine_to: tuple[int, int] | None = None,
) -> Request:
    """The planner's request for a generation of ``settings`` at their explicit height and width: its conditioning
    frames and K/V cache (a continuation's, or image-to-video's one frame), and with ``settings.refine`` the
    refinement at ``refine_to`` (height, width)."""
    if settings.height is None or settings.width is None:
        raise ValueError("generation_request needs the settings' height and width (resolve the bucket first)")
    vc = settings if isinstance(settings, ContinuationSettings) else None
    return Request(
        settings.height, settings.width, settings.num_frames, cfg=settings.use_cfg, sp=options.sp_size,
        dtype_bytes=torch.empty((), dtype=dtype).element_size(), quantize=options.quantize,
        text_tokens=settings.max_sequence_length, cond_frames=1 if vc is None else vc.num_cond_frames,
        kv_cache=settings.use_kv_cache, offload_kv_cache=vc is not None and vc.offload_kv_cache,
        shard=options.shard_weights, refine=settings.refine, refine_size=refine_to if settings.refine else None,
    )  # fmt: skip


def auto_request(
    settings: I2VSettings | ContinuationSettings,
    refine: RefineSettings | None,
    options: RuntimeSettings,
    first_frame,
) -> Request | None:
    """What ``offload="auto"`` plans for in a front end: this generation (and its refinement), at the size its
    input (image, or a video's frame 0) gets; None for the other modes."""
    if options.offload != "auto":
        return None
    height, width = resolve_size(first_frame, settings.resolution, settings.height, settings.width)
    refine_to = None if refine is None else refine_size(height, width, refine.height, refine.width)
    dtype = defaults.DTYPES[options.dtype or defaults.default_dtype(options.device or defaults.default_device())]
    return generation_request(settings.replace(height=height, width=width), options, dtype, refine_to)


def load(
    root: str | Path,
    device: torch.device | str,
    dtype: torch.dtype,
    options: RuntimeSettings,
    request: Request | None = None,
) -> Loaded:
    """The components of checkpoint ``root`` for ``device``/``dtype`` with ``options`` (a RuntimeSettings; its
    checkpoint, device and dtype fields are not read); ``request`` sizes ``offload="auto"``."""
    device = torch.device(device)
    root = check_layout(root)
    kernel = resolve_kernel(options.attention, device, dtype)
    parallel = None
    if options.sp_size != 1 or options.cfg_parallel:
        parallel = setup_parallel(Models.from_checkpoint(root).dit.num_heads, options.sp_size, options.cfg_parallel)
    if options.shard_weights and (parallel is None or parallel.sp is None):
        raise ParallelConfigError(
            f"shard_weights shards the weights over the sequence-parallel ranks: it needs sp_size >= 2 (got "
            f"{options.sp_size}), under torchrun"
        )
    mode = options.offload
    if mode == "auto":
        mode = choose_mode(Models.from_checkpoint(root), request or default_request(options, dtype), device)
    direct = mode == "none" and not options.shard_weights and options.text_encoder_device is None
    components = load_components(root, device if direct else "cpu", dtype)
    if options.quantize is not None:
        quantize_dit(components.dit, options.quantize)
    if options.shard_weights:
        assert parallel is not None and parallel.sp is not None  # checked above
        mesh = mesh_for(parallel.sp.group, device)
        shard_dit(components.dit, mesh)
        shard_text_encoder(components.text_encoder, mesh)
    placement = Placement(components, device, mode, options.text_encoder_device)
    if options.compile:
        compile_blocks(components.dit)
    return Loaded(components, parallel, placement, kernel)

"""``longcat-i2v plan``: print the planner's estimated peak memory per stage for every offload mode, and the
cheapest mode that fits ``--gpu-memory``."""

from __future__ import annotations

import argparse

from . import defaults
from .conditioning import SIZE_MULTIPLE, bucket_size
from .errors import InvalidInputError
from .planner import (
    CUDA_RESERVE,
    FRAGMENTATION,
    GIB,
    Models,
    ModePlan,
    Request,
    dit_activation_bytes,
    dit_weights,
    fits,
    pick_mode,
    plan,
    refine_latents,
    text_encoder_weights,
    tokens,
    vae_weights,
)
from .quant import QUANT_MODES
from .refinement import refine_size

MODE_NOTES = {
    "none": "every component on the GPU",
    "model": "each component on the GPU only while it works",
    "group": "model + DiT blocks streamed from pinned CPU memory, one group ahead",
    "sequential": "text encoder on the CPU, every DiT layer moved in just for its forward, the VAE while it works",
}
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def add_plan_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plan", help="estimate GPU memory per offload mode and pick the cheapest that fits")
    p.add_argument("--gpu-memory", type=float, required=True, help="GPU memory budget in GiB (e.g. 24)")
    p.add_argument("--resolution", default=defaults.RESOLUTION, choices=defaults.RESOLUTIONS)
    p.add_argument("--aspect", default="16:9", help="input image width:height, for the bucket (default %(default)s)")
    p.add_argument("--height", type=int, help="explicit height (multiple of 16), with --width")
    p.add_argument("--width", type=int, help="explicit width (multiple of 16), with --height")
    p.add_argument("--num-frames", type=int, default=defaults.NUM_FRAMES)
    p.add_argument("--guidance", type=float, default=defaults.GUIDANCE, help="> 1 runs the CFG batch of 2")
    p.add_argument("--sp", type=int, default=1, help="sequence-parallel ranks (activations split; weights too with "
                   "--shard-weights)")  # fmt: skip
    p.add_argument("--shard-weights", action="store_true", help="DiT and text encoder sharded over the --sp ranks")
    p.add_argument("--refine", action="store_true", help="add the 720p refinement stage (no CFG)")
    p.add_argument("--quantize", choices=QUANT_MODES, help="weight-only DiT quantization")
    p.add_argument("--dtype", default="bfloat16", choices=tuple(DTYPE_BYTES))
    p.add_argument("--cond-frames", type=int, default=1, help="conditioning frames (a continuation's; I2V: 1)")
    p.add_argument("--kv-cache", action="store_true", help="conditioning tokens' K/V cached (continuation)")
    p.add_argument("--offload-kv-cache", action="store_true", help="that cache in CPU memory, streamed per block")
    p.add_argument("--max-sequence-length", type=int, default=defaults.MAX_SEQUENCE_LENGTH)
    p.add_argument("--checkpoint", help="read the component shapes from this checkpoint (default: the real model)")


def _aspect(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.split(":"))
    except ValueError:
        w = h = 0
    if w <= 0 or h <= 0:
        raise InvalidInputError(f"--aspect must be WIDTH:HEIGHT with positive integers (e.g. 16:9), got {text!r}")
    return w, h


def request_from_args(args: argparse.Namespace) -> Request:
    """The planner request for the command line, checked."""
    if args.gpu_memory <= 0:
        raise InvalidInputError(f"--gpu-memory must be a positive number of GiB, got {args.gpu_memory}")
    if args.num_frames < 1 or (args.num_frames - 1) % 4:
        raise InvalidInputError(f"--num-frames must be of the form 4k+1 (1, 5, ..., 93), got {args.num_frames}")
    if args.sp < 1:
        raise InvalidInputError(f"--sp must be >= 1, got {args.sp}")
    if args.shard_weights and args.sp < 2:
        raise InvalidInputError(f"--shard-weights shards over the --sp ranks: give --sp 2 or more (got {args.sp})")
    if not 1 <= args.cond_frames <= args.num_frames:
        raise InvalidInputError(f"--cond-frames must be between 1 and --num-frames, got {args.cond_frames}")
    if (args.height is None) != (args.width is None):
        raise InvalidInputError("give both --height and --width, or neither (then --resolution and --aspect decide)")
    if args.height is None:
        w, h = _aspect(args.aspect)
        height, width = bucket_size(w, h, args.resolution)
    else:
        height, width = args.height, args.width
        if height <= 0 or width <= 0 or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise InvalidInputError(f"--height/--width must be positive multiples of 16, got {height}x{width}")
    return Request(
        height, width, args.num_frames, cfg=args.guidance > 1, sp=args.sp, dtype_bytes=DTYPE_BYTES[args.dtype],
        quantize=args.quantize, text_tokens=args.max_sequence_length, cond_frames=args.cond_frames,
        kv_cache=args.kv_cache or args.offload_kv_cache, offload_kv_cache=args.offload_kv_cache,
        shard=args.shard_weights, refine=args.refine, refine_size=refine_size(height, width, None, None),
    )  # fmt: skip


def _gib(n: float) -> str:
    return f"{n / GIB:.1f}"


def format_plan(r: Request, models: Models, plans: list[ModePlan], budget_gib: float, dtype: str = "bfloat16") -> str:
    """The table ``longcat-i2v plan`` prints."""
    s, cfg = r.dtype_bytes, models.dit
    n = tokens(r.latent_frames, r.height, r.width)
    dit = dit_weights(cfg, s, r.quantize)
    lines = [
        f"Estimated peak GPU memory (GiB; estimated, not measured) for {r.height}x{r.width}, {r.num_frames} frames = "
        f"{r.latent_frames} latent frames = {n:,} tokens; CFG batch {2 if r.cfg else 1}; sp {r.sp}"
        f"{' (weights sharded)' if r.shard else ''}; {dtype}",
        f"weights: DiT {_gib(dit.total)} ({r.quantize or dtype}), text encoder "
        f"{_gib(text_encoder_weights(models.text, s).total)}, VAE {_gib(vae_weights(models.vae or {}, s).total)}; "
        f"DiT activations per rank {_gib(dit_activation_bytes(cfg, n, 2 if r.cfg else 1, s, r.sp))}",
    ]
    if r.refine:
        h, w = r.refine_size or (r.height, r.width)
        _, total = refine_latents(r.num_frames, r.refine_cond_frames)
        lines.append(f"refine: {h}x{w}, {total} latent frames = {tokens(total, h, w):,} tokens, no CFG, "
                     f"{r.refine_cond_frames} conditioning frame(s)")  # fmt: skip
    names = [st.name for st in plans[0].stages]
    widths = [max(7, len(name)) for name in names]
    picked = pick_mode(plans, budget_gib * GIB)
    lines.append("")
    head = f"{'mode':<11}" + "".join(f"{name:>{w + 2}}" for name, w in zip(names, widths, strict=True))
    lines.append(head + f"{'peak':>8}  fits {budget_gib:g} GiB")
    for p in plans:
        cells = "".join(f"{_gib(st.total):>{w + 2}}" for st, w in zip(p.stages, widths, strict=True))
        ok = "yes" if fits(p.peak, budget_gib * GIB) else "no"
        mark = "  <- cheapest that fits" if p.mode == picked else ""
        lines.append(f"{p.mode:<11}{cells}{_gib(p.peak):>8}  {ok}{mark}")
    lines.append("")
    lines.append(
        f"Peaks are tensor bytes; fits: peak + {FRAGMENTATION:.0%} (allocator slack) "
        f"+ {_gib(CUDA_RESERVE)} GiB (CUDA context, workspaces) <= budget."
    )
    lines += [f"  {mode}: {note}" for mode, note in MODE_NOTES.items()]
    if picked is None:
        lines.append("nothing fits: try --quantize fp8, --sp N [--shard-weights], fewer frames or a smaller size")
    if r.shard:
        lines.append("with --shard-weights the weights stay on the GPUs (offload none): one mode")
    return "\n".join(lines)


def run_plan(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    models = Models.from_checkpoint(args.checkpoint) if args.checkpoint else Models()
    print(format_plan(request, models, plan(request, models), args.gpu_memory, args.dtype))
    return 0

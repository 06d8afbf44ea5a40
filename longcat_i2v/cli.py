"""``longcat-i2v``: generate a video, write the tiny checkpoint, convert a checkpoint between the original
and FastVideo layouts. Under torchrun with ``--sp N`` the denoising is split over N ranks; rank 0 alone shows
progress and writes the file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import defaults
from .errors import LongCatError
from .layouts import LAYOUTS
from .plan_command import add_plan_command, run_plan


def _generate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate a video from an image and a prompt")
    p.add_argument(
        "--checkpoint", help="LongCat-Video checkpoint dir (hub or FastVideo layout); default: the built-in tiny one"
    )
    p.add_argument("--image", required=True, help="input image: file path or http(s) URL")
    p.add_argument("--prompt", required=True)
    p.add_argument(
        "--negative-prompt",
        default=defaults.NEGATIVE_PROMPT,
        help="used when guidance > 1; default: the original demo's; pass '' for none",
    )
    p.add_argument("--num-frames", type=int, default=defaults.NUM_FRAMES, help="4k+1 frames (default %(default)s)")
    p.add_argument("--resolution", default=defaults.RESOLUTION, choices=defaults.RESOLUTIONS)
    p.add_argument("--height", type=int, help="explicit height (multiple of 16), with --width; overrides --resolution")
    p.add_argument("--width", type=int, help="explicit width (multiple of 16), with --height")
    p.add_argument(
        "--steps", type=int, help=f"denoising steps (default {defaults.STEPS}; {defaults.DISTILL_STEPS} with --distill)"
    )
    p.add_argument(
        "--guidance",
        type=float,
        help=f"CFG scale (default {defaults.GUIDANCE}; {defaults.DISTILL_GUIDANCE} with --distill)",
    )
    p.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    p.add_argument("--distill", action="store_true", help=f"use the distill LoRA ({defaults.DISTILL_LORA_NAME})")
    p.add_argument(
        "--cond-rope",
        default=defaults.COND_ROPE,
        choices=defaults.COND_ROPE_MODES,
        help="'skip': no rotary embedding on the conditioning frame (default 'full', the original)",
    )
    p.add_argument("--max-sequence-length", type=int, default=defaults.MAX_SEQUENCE_LENGTH)
    p.add_argument("--resize-to-input", action="store_true", help="resize the video back to the input image size")
    p.add_argument("--fps", type=_fps, default=defaults.FPS, help="1 to 120 (default %(default)s)")
    p.add_argument("--output", default="output.mp4", help="mp4 path (default %(default)s)")
    p.add_argument("--device", default=defaults.default_device())
    p.add_argument(
        "--dtype", choices=defaults.DTYPES, help="DiT/VAE/text dtype (default bfloat16 on CUDA, float32 on CPU)"
    )
    p.add_argument(
        "--sp", type=int, default=1, help="sequence-parallel size (run under torchrun with as many processes)"
    )
    p.add_argument(
        "--cfg-parallel", action="store_true", help="uncond/cond CFG halves on two rank groups (2 x sp ranks)"
    )


def _fps(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 120:
        raise argparse.ArgumentTypeError(f"fps must be between 1 and 120, got {value}")
    return value


def _request(args: argparse.Namespace) -> dict:
    """The generate_video arguments, checked (and the image read) before any model is loaded."""
    from .conditioning import resolve_size
    from .images import load_image
    from .pipeline import check_inputs

    steps = defaults.steps_for(args.distill) if args.steps is None else args.steps
    guidance = defaults.guidance_for(args.distill) if args.guidance is None else args.guidance
    negative = args.negative_prompt or None
    check_inputs(args.prompt, negative, args.num_frames, steps, guidance, args.cond_rope, args.max_sequence_length)
    image = load_image(args.image)
    resolve_size(image, args.resolution, args.height, args.width)
    return {
        "prompt": args.prompt,
        "image": image,
        "negative_prompt": negative,
        "num_frames": args.num_frames,
        "resolution": args.resolution,
        "height": args.height,
        "width": args.width,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "seed": args.seed,
        "distill": args.distill,
        "cond_rope": args.cond_rope,
        "max_sequence_length": args.max_sequence_length,
    }


def _cmd_generate(args: argparse.Namespace) -> int:
    from . import parallel

    request = _request(args)
    device = args.device
    world = args.sp * (2 if args.cfg_parallel else 1)
    if world > 1:
        device = parallel.init_process_group(world, device)
    try:
        return _generate(args, request, device, parallel.is_main_process())
    finally:
        parallel.destroy_process_group()


def _generate(args: argparse.Namespace, request: dict, device: str, is_main: bool) -> int:
    from tqdm import tqdm

    from .pipeline import load_pipeline
    from .video import even_size, resize_frames, to_uint8, write_mp4

    pipe = load_pipeline(args.checkpoint, device, args.dtype, sp_size=args.sp, cfg_parallel=args.cfg_parallel)
    if is_main and pipe.is_tiny:
        print(
            f"note: {pipe.checkpoint_dir} is the built-in tiny random-weight checkpoint; its videos are noise",
            file=sys.stderr,
        )
    bar = tqdm(desc="denoising", total=request["num_inference_steps"], unit="step", disable=not is_main)
    start = time.perf_counter()
    with bar:
        out = pipe.generate_video(**request, callback=lambda step, total, latents: bar.update(1))
    if is_main:
        frames = to_uint8(out.frames)
        if args.resize_to_input:
            frames = resize_frames(frames, *even_size(*out.input_size))
        path = write_mp4(frames, args.output, fps=args.fps)
        elapsed = time.perf_counter() - start
        h, w = frames.shape[1:3]
        print(f"wrote {path} ({len(frames)} frames, {w}x{h}, {args.fps} fps) seed={out.seed} in {elapsed:.1f}s")
    return 0


def _cmd_make_tiny(args: argparse.Namespace) -> int:
    from .tiny import make_tiny_checkpoint

    print(f"wrote tiny checkpoint to {make_tiny_checkpoint(args.dir)}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint
    from .layouts import detect_layout

    dst = convert_checkpoint(args.src, args.dst, args.to)
    print(f"wrote {dst} ({detect_layout(args.src)} layout -> {detect_layout(dst)} layout)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="longcat-i2v", description="LongCat-Video image-to-video")
    sub = parser.add_subparsers(dest="command", required=True)
    _generate_parser(sub)
    tiny = sub.add_parser("make-tiny", help="write the deterministic tiny random-weight checkpoint to DIR")
    tiny.add_argument("dir", type=Path)
    convert = sub.add_parser(
        "convert",
        help="write a checkpoint in the other layout: original hub <-> FastVideo (LongCatImageToVideoPipeline)",
    )
    convert.add_argument("src", type=Path, help="checkpoint directory in either layout")
    convert.add_argument("dst", type=Path, help="new directory to write (must not exist)")
    convert.add_argument("--to", choices=LAYOUTS, help="target layout (default: the other one)")
    add_plan_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"generate": _cmd_generate, "make-tiny": _cmd_make_tiny, "convert": _cmd_convert, "plan": run_plan}
    try:
        return handlers[args.command](args)
    except (LongCatError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``longcat-i2v``: generate a video, write the tiny checkpoint, convert a checkpoint between the original
and FastVideo layouts. Under torchrun with ``--sp N`` the denoising is split over N ranks; rank 0 alone shows
progress and writes the file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import defaults
from .cli_args import add_settings_arguments, generation_settings
from .cli_long import add_long_commands
from .errors import LongCatError
from .layouts import LAYOUTS
from .plan_command import add_plan_command, run_plan
from .settings import I2VSettings, RefineSettings, RuntimeSettings
from .tiny import SMALL_REFINE_SETTINGS, SMALL_SETTINGS


def _generate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate a video from an image and a prompt")
    p.add_argument("--image", required=True, help="input image: file path or http(s) URL")
    p.add_argument("--output", default="output.mp4", help="mp4 path (default %(default)s)")
    p.add_argument("--settings", type=Path, help="a JSON file of generation settings (flags given override it)")
    add_settings_arguments(p, I2VSettings)
    add_settings_arguments(p, RefineSettings)
    add_settings_arguments(p, RuntimeSettings)


def _cmd_generate(args: argparse.Namespace) -> int:
    from . import parallel
    from .images import load_image
    from .video import check_output_path

    settings, refine, runtime = generation_settings(I2VSettings, args, SMALL_SETTINGS)
    check_output_path(args.output)
    image = load_image(args.image, allow_private_urls=runtime.allow_private_urls)
    device = runtime.device or defaults.default_device()
    world = runtime.sp_size * (2 if runtime.cfg_parallel else 1)
    if world > 1:
        device = parallel.init_process_group(world, device)
    try:
        return _generate(args, settings, refine, runtime.replace(device=device), image, parallel.is_main_process())
    finally:
        parallel.destroy_process_group()


def _generate(
    args: argparse.Namespace,
    settings: I2VSettings,
    refine: RefineSettings | None,
    runtime: RuntimeSettings,
    image,
    is_main: bool,
) -> int:
    from tqdm import tqdm

    from .loading import auto_request
    from .pipeline import load_pipeline
    from .video import even_size, resize_frames, to_uint8, write_mp4

    pipe = load_pipeline(runtime=runtime, plan=auto_request(settings, refine, runtime, image))
    if is_main:
        print(f"running with {pipe.describe()}{_requested(runtime)}", file=sys.stderr)
    if is_main and pipe.is_tiny:
        print(
            f"note: {pipe.checkpoint_dir} is the built-in tiny random-weight checkpoint; its videos are noise "
            f"(small settings unless given: {SMALL_SETTINGS}"
            + (f", refinement {SMALL_REFINE_SETTINGS})" if refine else ")"),
            file=sys.stderr,
        )
    bar = tqdm(desc="denoising", total=settings.steps, unit="step", disable=not is_main)

    def on_step(step: int, total: int, latents) -> None:
        if step == 0 and bar.n:  # the refinement's loop after image-to-video's
            bar.reset(total)
            bar.set_description("refining")
        bar.update(1)

    start = time.perf_counter()
    with bar:
        out = pipe.generate_video(image=image, settings=settings, refine_settings=refine, callback=on_step)
    if is_main:
        frames = to_uint8(out.frames)
        if settings.resize_to_input:
            frames = resize_frames(frames, *even_size(*out.input_size))
        path = write_mp4(frames, args.output, fps=out.fps)
        elapsed = time.perf_counter() - start
        h, w = frames.shape[1:3]
        print(f"wrote {path} ({len(frames)} frames, {w}x{h}, {out.fps} fps) seed={out.seed} in {elapsed:.1f}s")
    return 0


def _requested(runtime: RuntimeSettings) -> str:
    """The load options the pipeline does not report itself."""
    parts = [f"quantize {runtime.quantize}"] if runtime.quantize else []
    parts += ["compile"] * runtime.compile + [f"weights sharded over {runtime.sp_size} ranks"] * runtime.shard_weights
    return "".join(f", {p}" for p in parts)


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
    parser.set_defaults(more=add_long_commands(sub))  # continue, long
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
    handlers.update(args.more)  # continue, long
    try:
        return handlers[args.command](args)
    except (LongCatError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

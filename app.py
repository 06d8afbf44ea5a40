"""Start the LongCat-Video image-to-video web demo: ``python app.py [--checkpoint DIR] [--port P] [--share] ...``.

Without --checkpoint it serves the built-in tiny random-weight checkpoint (made on first run, no download),
whose videos are noise: it shows the page works. Point --checkpoint at LongCat-Video weights for real videos.
SIGINT (Ctrl-C) or SIGTERM stops it and deletes every file it made.

The loading flags (--checkpoint, --device, --dtype, --offload, --quantize, --compile, --attention,
--text-encoder-device) are generated from the core's RuntimeSettings, as the CLI's are; the demo starts with
--offload auto: the core's planner picks the mode that fits the GPU's free memory (none on a CPU), and the page
shows the mode in use.
"""

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from longcat_i2v.cli_args import add_settings_arguments, settings_from_args
from longcat_i2v.defaults import NUM_FRAMES
from longcat_i2v.errors import LongCatError
from longcat_i2v.settings import RuntimeSettings

TOKEN_ENV = "LONGCAT_DEMO_TOKEN"
# Runtime options the demo does not offer: several ranks (torchrun) and fetching image URLs.
NOT_FOR_THE_DEMO = ("sp_size", "cfg_parallel", "shard_weights", "allow_private_urls")
DEMO_RUNTIME = {"offload": "auto"}  # where the demo starts, unless a flag says otherwise


def user_password(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {text!r}")
    return user, password


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="LongCat-Video image-to-video web demo.",
        epilog="The demo starts with --offload auto (the planner's pick for the GPU), not none.",
    )
    add_settings_arguments(parser, RuntimeSettings, skip=NOT_FOR_THE_DEMO, start=DEMO_RUNTIME)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for your whole network)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    operators = parser.add_argument_group("serving several people")
    operators.add_argument("--max-queue", type=positive, default=32, help="requests that may wait (default 32)")
    operators.add_argument("--concurrency", type=positive, default=1,
                           help="requests taken from the queue at once; one generates, the others wait for the "
                                "device with their place and a Cancel (default 1)")  # fmt: skip
    operators.add_argument("--auth", type=user_password, action="append", metavar="USER:PASSWORD",
                           help="require a login (repeat for more users)")  # fmt: skip
    operators.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                           help=f"require this access token (header 'Authorization: Bearer …', or ?token=… once in "
                                f"the browser); default: ${TOKEN_ENV}")  # fmt: skip
    operators.add_argument(
        "--rate-limit",
        type=int,
        default=20,
        metavar="N",
        help="videos a minute one client address may request (default 20; 0: no limit)",
    )
    operators.add_argument(
        "--max-frames", type=positive, help=f"the most frames one request may ask for (4k+1; default {NUM_FRAMES})"
    )
    operators.add_argument("--max-segments", type=positive,
                           help="the most segments of a long or extended video (default 8)")  # fmt: skip
    operators.add_argument(
        "--keep-outputs",
        type=positive,
        default=3600,
        metavar="SECONDS",
        help="delete every video and upload once it is this old (default 3600)",
    )
    operators.add_argument(
        "--max-upload-mb",
        type=positive,
        default=50,
        help="largest image file accepted, uploaded or as a data: URL (default 50)",
    )
    return parser.parse_args(argv)


def config_changes(args: argparse.Namespace) -> dict:
    changes = {"max_queue": args.max_queue, "concurrency": args.concurrency, "keep_outputs_s": float(args.keep_outputs),
               "max_image_bytes": args.max_upload_mb * 2**20}  # fmt: skip
    if args.max_frames is not None:
        changes["max_frames"] = args.max_frames
    if args.max_segments is not None:
        changes["max_segments"] = args.max_segments
    return changes


def runtime_settings(args: argparse.Namespace) -> RuntimeSettings:
    """The loading options: the demo's starting values, then the flags given (a bad one named by its flag)."""
    return settings_from_args(RuntimeSettings, args, start=DEMO_RUNTIME)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runtime = runtime_settings(args)
    except LongCatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own health checks
    root = Path(tempfile.mkdtemp(prefix="longcat-demo-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    # gradio reads GRADIO_TEMP_DIR when it is first imported (it makes folders there then), so the demo, which
    # imports gradio, is imported only now that every file the server makes goes under its own folder.
    from demo.app import Access, serve

    access = Access(tuple(args.auth or ()), args.token or None, max(0, args.rate_limit))
    try:
        serve(runtime, args.host, args.port, args.share, access, root, **config_changes(args))
    except (LongCatError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

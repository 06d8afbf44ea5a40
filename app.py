"""Start the LongCat-Video image-to-video web demo: ``python app.py [--checkpoint DIR] [--port P] [--share] ...``.

Without --checkpoint it serves the built-in tiny random-weight checkpoint (made on first run, no download),
whose videos are noise: it shows the page works. Point --checkpoint at LongCat-Video weights for real videos.
SIGINT (Ctrl-C) or SIGTERM stops it and deletes every file it made.

Memory: the weights all live on --device; the core has no offload modes yet. Once ``load_pipeline`` takes one,
an ``--offload`` flag belongs here, passed through to it (the page already shows the memory mode).
"""

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from longcat_i2v.defaults import DTYPE_NAMES
from longcat_i2v.errors import LongCatError

TOKEN_ENV = "LONGCAT_DEMO_TOKEN"


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
    parser = argparse.ArgumentParser(description="LongCat-Video image-to-video web demo.")
    parser.add_argument(
        "--checkpoint", help="LongCat-Video checkpoint folder (hub or FastVideo layout); default: tiny demo weights"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for your whole network)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    parser.add_argument("--device", help="torch device, e.g. cuda:1 (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", choices=sorted(DTYPE_NAMES), help="default: bfloat16 on GPU, float32 on CPU")
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
    operators.add_argument("--max-frames", type=positive, help="the most frames one request may ask for (4k+1)")
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
    return changes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own health checks
    root = Path(tempfile.mkdtemp(prefix="longcat-demo-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    # gradio reads GRADIO_TEMP_DIR when it is first imported (it makes folders there then), so the demo, which
    # imports gradio, is imported only now that every file the server makes goes under its own folder.
    from demo.app import Access, serve

    access = Access(tuple(args.auth or ()), args.token or None, max(0, args.rate_limit))
    try:
        serve(args.checkpoint, args.host, args.port, args.share, args.device, args.dtype, access, root,
              **config_changes(args))  # fmt: skip
    except (LongCatError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

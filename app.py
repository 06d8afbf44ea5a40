"""Start the LongCat-Video image-to-video web demo: ``python app.py [--checkpoint DIR] [--port P] [--share]``.

Without --checkpoint it serves the built-in tiny random-weight checkpoint (made on first run, no download),
whose videos are noise: it shows the page works. Point --checkpoint at LongCat-Video weights for real videos.
"""

import argparse
import logging

from demo.app import serve
from longcat_i2v.defaults import DTYPE_NAMES


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
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own health checks
    serve(args.checkpoint, args.host, args.port, args.share, args.device, args.dtype)

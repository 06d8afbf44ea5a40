"""Draw the demo's example pictures from code, so the project owns them outright (no third-party photos).

Run ``python -m demo.examples.make_examples`` to rewrite the JPEGs and examples.json in this folder;
the output is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
RGB = tuple[int, int, int]


def vertical_gradient(width: int, height: int, stops: list[tuple[float, RGB]]) -> Image.Image:
    """A top-to-bottom gradient through (position in [0, 1], colour) stops."""
    positions = [p for p, _ in stops]
    t = np.linspace(0.0, 1.0, height)
    column = np.stack([np.interp(t, positions, [c[i] for _, c in stops]) for i in range(3)], axis=-1)
    return Image.fromarray(np.repeat(column[:, None, :], width, axis=1).astype(np.uint8))


def add_grain(image: Image.Image, rng: np.random.Generator, amount: float = 6.0) -> Image.Image:
    """Fine noise so the pictures do not look like flat vector art."""
    arr = np.asarray(image, dtype=np.float32) + rng.normal(0.0, amount, (image.height, image.width, 1))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def lighthouse(rng: np.random.Generator) -> Image.Image:
    w, h = 832, 480
    img = vertical_gradient(
        w, h, [(0.0, (24, 28, 72)), (0.45, (196, 104, 120)), (0.62, (250, 180, 110)), (1.0, (250, 180, 110))]
    )
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(60):
        x, y = rng.uniform(0, w), rng.uniform(0, h * 0.35)
        draw.ellipse([x, y, x + 2, y + 2], fill=(255, 255, 240, int(rng.uniform(90, 220))))
    sea = vertical_gradient(w, h - 300, [(0.0, (52, 70, 110)), (1.0, (14, 22, 48))])
    img.paste(sea, (0, 300))
    for y in range(306, h, 9):
        x0 = rng.uniform(-40, w)
        draw.line([x0, y, x0 + rng.uniform(60, 220), y], fill=(240, 200, 170, 70), width=2)
    draw.polygon([(480, 330), (560, 262), (700, 250), (832, 300), (832, 370), (470, 370)], fill=(22, 20, 28))
    draw.polygon([(596, 262), (640, 262), (632, 120), (604, 120)], fill=(236, 232, 222))
    for y in (150, 195, 240):
        draw.polygon([(600, y), (636, y), (635, y + 16), (601, y + 16)], fill=(180, 40, 40))
    draw.rectangle([598, 96, 638, 120], fill=(40, 40, 48))
    draw.polygon([(596, 96), (640, 96), (618, 76)], fill=(180, 40, 40))
    draw.polygon([(618, 108), (0, 40), (0, 150)], fill=(255, 240, 180, 70))
    draw.ellipse([608, 100, 628, 116], fill=(255, 250, 200))
    return add_grain(img.filter(ImageFilter.GaussianBlur(0.6)), rng)


def balloons(rng: np.random.Generator) -> Image.Image:
    w, h = 480, 832
    img = vertical_gradient(w, h, [(0.0, (70, 140, 220)), (0.7, (190, 220, 245)), (1.0, (210, 230, 240))])
    draw = ImageDraw.Draw(img, "RGBA")
    for cx, cy, rx in ((120, 120, 90), (380, 260, 70), (300, 620, 60)):
        draw.ellipse([cx - rx * 1.4, cy - rx * 0.5, cx + rx * 1.4, cy + rx * 0.5], fill=(255, 255, 255, 120))
    hills = [(0, 700, (70, 140, 70)), (0, 740, (50, 115, 55)), (0, 790, (38, 90, 44))]
    for i, (_, base, colour) in enumerate(hills):
        xs = np.linspace(0, w, 40)
        ys = base + 30 * np.sin(xs / (70 + 20 * i) + i) - 15 * np.cos(xs / 37)
        draw.polygon([*zip(xs, ys, strict=True), (w, h), (0, h)], fill=colour)
    palette = [((230, 60, 60), (250, 200, 40)), ((40, 110, 210), (240, 240, 240)), ((120, 60, 180), (250, 150, 40))]
    for (cx, cy, r), (a, b) in zip(((150, 330, 80), (340, 200, 55), (360, 520, 42)), palette, strict=True):
        envelope = Image.new("L", (w, h))
        shape = ImageDraw.Draw(envelope)
        shape.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        shape.polygon([(cx - r * 0.93, cy + r * 0.35), (cx + r * 0.93, cy + r * 0.35), (cx + r * 0.22, cy + r * 1.3),
                       (cx - r * 0.22, cy + r * 1.3)], fill=255)  # fmt: skip
        stripes = Image.new("RGB", (w, h), a)
        stripe_draw = ImageDraw.Draw(stripes)
        for k in range(-3, 4, 2):
            stripe_draw.ellipse([cx + k * r / 4 - r / 8, cy - r * 1.1, cx + k * r / 4 + r / 8, cy + r * 1.4], fill=b)
        img.paste(stripes, (0, 0), envelope)
        draw.line([cx - r * 0.22, cy + r * 1.3, cx - r * 0.14, cy + r * 1.55], fill=(60, 40, 30), width=2)
        draw.line([cx + r * 0.22, cy + r * 1.3, cx + r * 0.14, cy + r * 1.55], fill=(60, 40, 30), width=2)
        draw.rectangle([cx - r * 0.16, cy + r * 1.55, cx + r * 0.16, cy + r * 1.8], fill=(120, 80, 40))
    return add_grain(img.filter(ImageFilter.GaussianBlur(0.7)), rng)


def koi_pond(rng: np.random.Generator) -> Image.Image:
    w = h = 640
    yy, xx = np.mgrid[0:h, 0:w]
    ripple = 0.5 + 0.5 * np.sin(np.hypot(xx - 420, yy - 250) / 9.0)
    base = np.stack([10 + 12 * ripple, 60 + 25 * ripple, 70 + 25 * ripple], axis=-1)
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img, "RGBA")
    for x, y, r in ((90, 520, 70), (540, 90, 60), (560, 560, 50), (80, 110, 40)):
        draw.pieslice([x - r, y - r, x + r, y + r], 30, 350, fill=(60, 130, 60))
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=(235, 150, 190))
    for cx, cy, angle, colour in (
        (300, 300, 20, (245, 120, 30)),
        (420, 420, -40, (245, 245, 240)),
        (230, 460, 70, (240, 90, 40)),
    ):
        fish = Image.new("RGBA", (200, 80))
        fd = ImageDraw.Draw(fish)
        fd.ellipse([30, 20, 170, 60], fill=colour + (255,))
        fd.polygon([(30, 40), (0, 15), (8, 40), (0, 65)], fill=colour + (230,))
        for _ in range(4):
            sx, sy = rng.uniform(60, 150), rng.uniform(26, 50)
            fd.ellipse([sx, sy, sx + 16, sy + 10], fill=(250, 250, 250, 230) if colour[1] < 200 else (235, 90, 30, 230))
        rotated = fish.rotate(angle, expand=True, resample=Image.BICUBIC)
        img.paste(rotated, (cx - rotated.width // 2, cy - rotated.height // 2), rotated)
    return add_grain(img.filter(ImageFilter.GaussianBlur(0.8)), rng, 4.0)


def sunset_city(rng: np.random.Generator) -> Image.Image:
    w, h = 832, 480
    img = vertical_gradient(
        w, h, [(0.0, (40, 40, 110)), (0.5, (230, 110, 80)), (0.8, (255, 200, 120)), (1.0, (255, 200, 120))]
    )
    draw = ImageDraw.Draw(img, "RGBA")
    draw.ellipse([350, 250, 490, 390], fill=(255, 230, 160))
    for y, x0, length in ((90, 80, 260), (130, 480, 300), (60, 560, 180)):
        draw.rounded_rectangle([x0, y, x0 + length, y + 22], radius=11, fill=(255, 190, 170, 110))
    x = 0
    while x < w:
        bw, bh = int(rng.integers(40, 90)), int(rng.integers(90, 260))
        top = h - bh
        draw.rectangle([x, top, x + bw, h], fill=(28, 24, 40))
        for wy in range(top + 10, h - 10, 16):
            for wx in range(x + 6, x + bw - 8, 12):
                if rng.random() < 0.35:
                    draw.rectangle([wx, wy, wx + 5, wy + 7], fill=(255, 215, 120))
        x += bw + int(rng.integers(0, 8))
    return add_grain(img.filter(ImageFilter.GaussianBlur(0.5)), rng)


EXAMPLES: list[tuple[str, Callable[[np.random.Generator], Image.Image], str]] = [
    (
        "lighthouse.jpg",
        lighthouse,
        "A lighthouse on a rocky shore at dusk. Its beam sweeps across the darkening sky while waves roll in and "
        "sparkle in the last light. Slow cinematic push-in.",
    ),
    (
        "balloons.jpg",
        balloons,
        "Colorful hot-air balloons drift slowly upward over rolling green hills on a clear morning, clouds moving "
        "gently across the sky.",
    ),
    (
        "koi_pond.jpg",
        koi_pond,
        "Koi fish glide in slow circles through a calm pond, seen from above; ripples spread across the water and "
        "the lily pads sway.",
    ),
    (
        "sunset_city.jpg",
        sunset_city,
        "Timelapse of the sun setting behind a city skyline; windows light up one by one and clouds drift across "
        "the glowing sky.",
    ),
]


def main() -> None:
    manifest = []
    for index, (name, draw, prompt) in enumerate(EXAMPLES):
        draw(np.random.default_rng(index)).save(HERE / name, quality=90)
        manifest.append({"image": name, "prompt": prompt})
    (HERE / "examples.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()

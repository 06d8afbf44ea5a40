"""Draw the built-in eval images procedurally (numpy + PIL), so the set is ours to redistribute (CC0).

    python -m eval.data.make_default_set            # rewrites eval/data/default/*.png

Deterministic: the same numpy/PIL versions give the same files. Four scenes with different aspect ratios
(landscape, square, portrait, 3:2) and content that invites motion (sun, ball, sea, city lights).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT_DIR = Path(__file__).resolve().parent / "default"


def _gradient(height: int, width: int, top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    return np.broadcast_to((1 - t) * np.array(top) + t * np.array(bottom), (height, width, 3)).copy()


def _ridge(width: int, base: float, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    x = np.linspace(0, 2 * np.pi, width)
    waves = sum(amplitude / k * np.sin(k * x + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3, 5))
    return base + waves


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr * 255 + 0.5, 0, 255).astype(np.uint8))


def hills_sunset(rng: np.random.Generator, width: int = 320, height: int = 180) -> Image.Image:
    """Layered hills under a sunset sky with a glowing sun."""
    img = _gradient(height, width, (0.98, 0.62, 0.32), (0.45, 0.22, 0.45))
    yy, xx = np.mgrid[0:height, 0:width]
    dist = np.hypot(xx - 0.62 * width, yy - 0.42 * height)
    img += (np.exp(-((dist / 40.0) ** 2)) * 0.35)[..., None] * np.array([1.0, 0.85, 0.5])
    img[dist < 16] = (1.0, 0.93, 0.7)
    for layer, shade in enumerate([(0.35, 0.25, 0.4), (0.22, 0.3, 0.3), (0.1, 0.2, 0.12)]):
        ridge = _ridge(width, height * (0.55 + 0.13 * layer), 14 - 3 * layer, rng)
        img[yy > ridge[xx]] = shade
    return _to_image(img).filter(ImageFilter.SMOOTH)


def ball_on_floor(rng: np.random.Generator, size: int = 256) -> Image.Image:
    """A shaded red ball and its shadow on a perspective checkerboard floor."""
    img = _gradient(size, size, (0.55, 0.75, 0.95), (0.85, 0.92, 1.0))
    horizon = int(size * 0.45)
    yy, xx = np.mgrid[horizon:size, 0:size].astype(np.float64)
    depth = 40.0 / (yy - horizon + 4.0)
    u, v = (xx - size / 2) * depth / 8.0, depth * 6.0
    checks = (np.floor(u) + np.floor(v)) % 2
    fade = np.clip((yy - horizon) / (size - horizon) * 1.5, 0, 1)[..., None]
    floor = np.where(checks[..., None] > 0, (0.92, 0.9, 0.85), (0.25, 0.3, 0.38))
    img[horizon:] = fade * floor + (1 - fade) * 0.8
    cx, cy, r = size * (0.4 + rng.uniform(0, 0.2)), size * 0.62, size * 0.14
    gy, gx = np.mgrid[0:size, 0:size]
    shadow = ((gx - cx) / (1.3 * r)) ** 2 + ((gy - (cy + r * 0.95)) / (0.3 * r)) ** 2 < 1
    img[shadow] *= 0.55
    d2 = ((gx - cx) ** 2 + (gy - cy) ** 2) / r**2
    inside = d2 < 1
    nz = np.sqrt(np.clip(1 - d2, 0, 1))
    light = np.clip(0.25 + 0.75 * (nz * 0.7 + (cx - gx) / r * 0.3 + (cy - gy) / r * 0.4), 0, 1)
    ball = light[..., None] * np.array([0.9, 0.12, 0.1]) + (light[..., None] ** 12) * 0.6
    img[inside] = ball[inside]
    return _to_image(img)


def lighthouse_sea(rng: np.random.Generator, width: int = 180, height: int = 320) -> Image.Image:
    """A striped lighthouse on a rock above a wavy sea (portrait)."""
    img = _gradient(height, width, (0.3, 0.5, 0.8), (0.75, 0.85, 0.95))
    horizon = int(height * 0.6)
    yy, xx = np.mgrid[horizon:height, 0:width].astype(np.float64)
    waves = 0.5 + 0.5 * np.sin(xx / 6.0 + np.sin(yy / 9.0) * 2 + rng.uniform(0, 6)) * np.sin(yy / 3.0)
    img[horizon:] = (0.05, 0.25, 0.45) + waves[..., None] * np.array([0.1, 0.15, 0.15])
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    draw.ellipse([width * 0.15, horizon - 25, width * 0.85, horizon + 40], fill=(70, 60, 55))
    left, right, top = width * 0.42, width * 0.58, height * 0.2
    for i, y in enumerate(np.linspace(top, horizon - 5, 7)[:-1]):
        draw.rectangle([left, y, right, y + (horizon - 5 - top) / 6], fill=(210, 40, 40) if i % 2 else (245, 245, 240))
    draw.rectangle([left - 4, top - 22, right + 4, top], fill=(250, 230, 120))
    draw.polygon([(left - 8, top - 22), (right + 8, top - 22), (width / 2, top - 40)], fill=(40, 40, 45))
    return pil.filter(ImageFilter.SMOOTH)


def city_night(rng: np.random.Generator, width: int = 300, height: int = 200) -> Image.Image:
    """A skyline at night with lit windows, a moon and their reflection in a river."""
    img = _gradient(height, width, (0.02, 0.03, 0.12), (0.12, 0.1, 0.3))
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    draw.ellipse([width * 0.75, 18, width * 0.75 + 26, 44], fill=(245, 240, 210))
    water = int(height * 0.75)
    x = 0
    while x < width:
        w, h = int(rng.integers(18, 40)), int(rng.integers(40, 120))
        shade = tuple(int(c) for c in rng.integers(20, 45, 3))
        draw.rectangle([x, water - h, x + w, water], fill=shade)
        for wy in range(water - h + 5, water - 6, 8):
            for wx in range(x + 3, x + w - 4, 6):
                if rng.random() < 0.45:
                    draw.rectangle([wx, wy, wx + 2, wy + 3], fill=(255, 214, 120))
        x += w + int(rng.integers(0, 4))
    arr = np.asarray(pil, dtype=np.float64) / 255
    reflection = arr[water - (height - water) : water][::-1] * 0.45
    ripple = 0.85 + 0.15 * np.sin(np.arange(height - water) * 1.7)[:, None, None]
    arr[water:] = reflection * ripple + np.array([0.0, 0.02, 0.06])
    return _to_image(arr)


SCENES = {
    "hills_sunset": hills_sunset,
    "ball_on_floor": ball_on_floor,
    "lighthouse_sea": lighthouse_sea,
    "city_night": city_night,
}


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for seed, (name, draw) in enumerate(SCENES.items()):
        draw(np.random.default_rng(seed)).save(OUT_DIR / f"{name}.png", optimize=True)
        print(OUT_DIR / f"{name}.png")


if __name__ == "__main__":
    main()

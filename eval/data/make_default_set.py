"""Draw the built-in eval images procedurally (numpy + PIL), so the set is ours to redistribute (CC0).

    python -m eval.data.make_default_set            # rewrites eval/data/default/*.png

Deterministic: the same numpy/PIL versions give the same files. Twelve scenes with different aspect ratios
(landscape, square, portrait, 3:2) and content that invites motion (sun, ball, sea, city lights, balloons,
boat, windmill, car, fish, fire, tower, planet), so that a setting's consistent effect over the set can reach
significance in the paired comparisons (``eval.stats``). Each scene is drawn from its own seeded generator.
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


def balloons_sky(rng: np.random.Generator, size: int = 224) -> Image.Image:
    """Coloured balloons on strings against a blue sky with a cloud."""
    pil = _to_image(_gradient(size, size, (0.35, 0.6, 0.95), (0.8, 0.9, 1.0)))
    draw = ImageDraw.Draw(pil)
    draw.ellipse([size * 0.55, size * 0.15, size * 0.95, size * 0.3], fill=(250, 250, 252))
    for _ in range(6):
        x, y, r = rng.uniform(0.15, 0.85) * size, rng.uniform(0.25, 0.6) * size, size * rng.uniform(0.06, 0.09)
        colour = tuple(int(c) for c in rng.integers(60, 255, 3))
        draw.line([(x, y + r * 1.2), (x + rng.uniform(-8, 8), size * 0.95)], fill=(90, 90, 90), width=1)
        draw.ellipse([x - r, y - r * 1.2, x + r, y + r * 1.2], fill=colour)
        draw.ellipse([x - r * 0.5, y - r * 0.8, x - r * 0.2, y - r * 0.4], fill=(255, 255, 255))
    return pil.filter(ImageFilter.SMOOTH)


def sailboat_lake(rng: np.random.Generator, width: int = 320, height: int = 200) -> Image.Image:
    """A sailboat on a calm lake below snowy mountains, mirrored in the water."""
    img = _gradient(height, width, (0.55, 0.75, 0.95), (0.9, 0.95, 1.0))
    yy, xx = np.mgrid[0:height, 0:width]
    ridge = _ridge(width, height * 0.45, 30, rng)
    img[yy > ridge[xx]] = (0.35, 0.4, 0.5)
    img[(yy > ridge[xx]) & (yy < ridge[xx] + 12)] = (0.95, 0.96, 0.98)
    shore = int(height * 0.62)
    img[shore:] = img[shore - (height - shore) : shore][::-1] * 0.7 + np.array([0.0, 0.05, 0.12])
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    x = width * rng.uniform(0.25, 0.45)
    draw.polygon(
        [(x - 22, shore + 8), (x + 26, shore + 8), (x + 16, shore + 18), (x - 14, shore + 18)], fill=(120, 60, 30)
    )
    draw.polygon([(x, shore + 6), (x, shore - 40), (x + 24, shore + 4)], fill=(250, 250, 245))
    return pil.filter(ImageFilter.SMOOTH)


def windmill_field(rng: np.random.Generator, width: int = 256, height: int = 192) -> Image.Image:
    """A windmill with four blades on a green field."""
    img = _gradient(height, width, (0.5, 0.7, 0.95), (0.85, 0.9, 0.95))
    horizon = int(height * 0.65)
    yy, xx = np.mgrid[horizon:height, 0:width]
    stripes = 0.5 + 0.5 * np.sin(xx / 5.0 + yy / 3.0 + rng.uniform(0, 6))
    img[horizon:] = (0.2, 0.5, 0.15) + stripes[..., None] * np.array([0.08, 0.12, 0.04])
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    cx, cy = width * 0.6, height * 0.35
    draw.polygon([(cx - 14, horizon + 6), (cx + 14, horizon + 6), (cx + 7, cy), (cx - 7, cy)], fill=(225, 215, 195))
    angle0 = rng.uniform(0, np.pi / 2)
    for k in range(4):
        a = angle0 + k * np.pi / 2
        tip = (cx + 60 * np.cos(a), cy + 60 * np.sin(a))
        side = (8 * -np.sin(a), 8 * np.cos(a))
        draw.polygon([(cx, cy), (tip[0], tip[1]), (tip[0] + side[0], tip[1] + side[1])], fill=(90, 70, 60))
    draw.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill=(60, 50, 45))
    return pil.filter(ImageFilter.SMOOTH)


def road_car(rng: np.random.Generator, width: int = 320, height: int = 180) -> Image.Image:
    """A red car on a straight road running to the horizon between fields."""
    img = _gradient(height, width, (0.6, 0.78, 0.98), (0.92, 0.94, 0.98))
    horizon = int(height * 0.45)
    img[horizon:] = (0.45, 0.6, 0.3)
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    vx = width * rng.uniform(0.45, 0.55)
    draw.polygon(
        [(vx - 3, horizon), (vx + 3, horizon), (width * 0.85, height), (width * 0.15, height)], fill=(70, 70, 75)
    )
    for t in np.linspace(0.1, 0.9, 6):
        y0, y1 = horizon + t * (height - horizon), horizon + (t + 0.06) * (height - horizon)
        draw.line(
            [(vx + (width / 2 - vx) * t, y0), (vx + (width / 2 - vx) * (t + 0.06), y1)], fill=(240, 230, 120), width=2
        )
    cx, cy = width * 0.45, height * 0.78
    draw.rectangle([cx - 30, cy - 14, cx + 30, cy + 6], fill=(200, 30, 30))
    draw.rectangle([cx - 18, cy - 26, cx + 18, cy - 14], fill=(170, 25, 25))
    for wx in (cx - 20, cx + 20):
        draw.ellipse([wx - 7, cy, wx + 7, cy + 14], fill=(20, 20, 20))
    return pil.filter(ImageFilter.SMOOTH)


def fish_tank(rng: np.random.Generator, width: int = 240, height: int = 180) -> Image.Image:
    """Orange fish, plants and rising bubbles in a blue aquarium."""
    pil = _to_image(_gradient(height, width, (0.2, 0.55, 0.8), (0.05, 0.2, 0.4)))
    draw = ImageDraw.Draw(pil)
    draw.rectangle([0, height - 18, width, height], fill=(200, 180, 130))
    for x in rng.uniform(0, width, 5):
        draw.line([(x, height - 18), (x + rng.uniform(-10, 10), height * 0.5)], fill=(40, 140, 60), width=4)
    for _ in range(4):
        x, y = rng.uniform(0.15, 0.8) * width, rng.uniform(0.2, 0.7) * height
        draw.ellipse([x - 16, y - 8, x + 16, y + 8], fill=(250, 140, 30))
        draw.polygon([(x + 14, y), (x + 26, y - 9), (x + 26, y + 9)], fill=(240, 110, 20))
        draw.ellipse([x - 10, y - 3, x - 6, y + 1], fill=(20, 20, 20))
    for _ in range(10):
        x, y, r = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.85) * height, rng.uniform(2, 5)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(220, 240, 255))
    return pil.filter(ImageFilter.SMOOTH)


def campfire_night(rng: np.random.Generator, width: int = 200, height: int = 256) -> Image.Image:
    """A campfire glowing under a starry sky (portrait)."""
    img = _gradient(height, width, (0.02, 0.02, 0.08), (0.1, 0.06, 0.12))
    yy, xx = np.mgrid[0:height, 0:width]
    glow = np.exp(-((np.hypot(xx - width / 2, (yy - height * 0.72) * 1.3) / 45.0) ** 2))
    img += glow[..., None] * np.array([0.9, 0.45, 0.1])
    pil = _to_image(img)
    draw = ImageDraw.Draw(pil)
    for x, y in rng.uniform(0, 1, (25, 2)) * (width, height * 0.5):
        draw.point((x, y), fill=(255, 255, 230))
    base = height * 0.8
    draw.line([(width * 0.3, base + 8), (width * 0.7, base - 4)], fill=(90, 50, 25), width=8)
    draw.line([(width * 0.3, base - 4), (width * 0.7, base + 8)], fill=(80, 45, 20), width=8)
    for scale, colour in ((1.0, (240, 90, 20)), (0.65, (255, 180, 40)), (0.35, (255, 240, 150))):
        w, h = 34 * scale, 70 * scale
        draw.polygon([(width / 2 - w, base), (width / 2 + w, base), (width / 2, base - h)], fill=colour)
    return pil.filter(ImageFilter.SMOOTH)


def clock_tower(rng: np.random.Generator, width: int = 180, height: int = 300) -> Image.Image:
    """A stone clock tower against a dusk sky, with birds (portrait)."""
    pil = _to_image(_gradient(height, width, (0.25, 0.3, 0.6), (0.95, 0.7, 0.5)))
    draw = ImageDraw.Draw(pil)
    left, right = width * 0.3, width * 0.7
    draw.rectangle([left, height * 0.25, right, height], fill=(150, 140, 125))
    draw.polygon([(left - 6, height * 0.25), (right + 6, height * 0.25), (width / 2, height * 0.1)], fill=(90, 60, 55))
    cx, cy, r = width / 2, height * 0.36, width * 0.15
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(245, 240, 220), outline=(60, 50, 40), width=2)
    hour, minute = rng.uniform(0, 2 * np.pi, 2)
    draw.line([(cx, cy), (cx + 0.5 * r * np.sin(hour), cy - 0.5 * r * np.cos(hour))], fill=(30, 30, 30), width=3)
    draw.line([(cx, cy), (cx + 0.85 * r * np.sin(minute), cy - 0.85 * r * np.cos(minute))], fill=(30, 30, 30), width=2)
    for y in np.arange(height * 0.5, height, 22):
        draw.rectangle([width * 0.45, y, width * 0.55, y + 10], fill=(60, 55, 70))
    for x, y in rng.uniform(0, 1, (4, 2)) * (width, height * 0.2) + (0, height * 0.05):
        draw.line([(x - 6, y - 3), (x, y), (x + 6, y - 3)], fill=(30, 30, 40), width=2)
    return pil.filter(ImageFilter.SMOOTH)


def planet_space(rng: np.random.Generator, size: int = 256) -> Image.Image:
    """A ringed planet and a small moon in a field of stars."""
    img = np.zeros((size, size, 3))
    stars = rng.uniform(0, 1, (size, size)) > 0.992
    img[stars] = 0.9
    yy, xx = np.mgrid[0:size, 0:size]
    cx, cy, r = size * 0.5, size * 0.52, size * 0.22
    d = np.hypot(xx - cx, yy - cy) / r
    bands = 0.5 + 0.5 * np.sin((yy - cy) / r * 9 + rng.uniform(0, 6))
    planet = np.array([0.85, 0.65, 0.4]) * (0.6 + 0.4 * bands[..., None]) * np.clip(1.2 - d, 0, 1)[..., None]
    img[d < 1] = planet[d < 1]
    ring = np.abs(np.hypot((xx - cx) / 1.9, (yy - cy) / 0.45) - r * 0.95) < r * 0.09
    img[ring & ((yy > cy) | (d >= 1))] = (0.8, 0.75, 0.6)
    moon = np.hypot(xx - size * 0.82, yy - size * 0.2) < size * 0.05
    img[moon] = (0.75, 0.75, 0.78)
    return _to_image(img).filter(ImageFilter.SMOOTH)


SCENES = {
    "hills_sunset": hills_sunset,
    "ball_on_floor": ball_on_floor,
    "lighthouse_sea": lighthouse_sea,
    "city_night": city_night,
    "balloons_sky": balloons_sky,
    "sailboat_lake": sailboat_lake,
    "windmill_field": windmill_field,
    "road_car": road_car,
    "fish_tank": fish_tank,
    "campfire_night": campfire_night,
    "clock_tower": clock_tower,
    "planet_space": planet_space,
}


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for seed, (name, draw) in enumerate(SCENES.items()):
        draw(np.random.default_rng(seed)).save(OUT_DIR / f"{name}.png", optimize=True)
        print(OUT_DIR / f"{name}.png")


if __name__ == "__main__":
    main()

"""The stages of the 720p refinement (``LongCatI2V.refine``), computing what the original ``generate_refine`` does.

The stage-1 video is up-sampled to the refinement size (bilinear, as 0–255 floats) and, unless spatial only, to
twice the frames (trilinear: the new frames are interpolations, not copies); padded to whole blocks of 4 latents
(block-sparse attention's granularity in time, applied with dense attention too): in front with copies of its
first frame where conditioning frames need them, at the back with copies of its last; VAE-encoded (a posterior
sample) and mixed with noise at t_thresh. The conditioning (an image, or the last frames of a video) is encoded
the same way into the leading latents. After denoising all latents are decoded and the pads cropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import conditioning
from .buckets import BUCKETS_720P_F64, closest_bucket
from .errors import InvalidInputError
from .images import ImageLike, load_image
from .video import to_uint8

BLOCK_LATENTS = 4  # latents per block-sparse chunk in time; the original pads to it with BSA off as well
VAE_TEMPORAL = 4  # frames per latent after the first

FramesLike = np.ndarray | Sequence[Image.Image] | Sequence[np.ndarray]
# draw(shape, dtype, device) -> a standard normal tensor
Draw = Callable[[tuple[int, ...], torch.dtype, torch.device], torch.Tensor]


def to_frames(frames: FramesLike, name: str) -> np.ndarray:
    """uint8 [F, H, W, 3] from PIL images, uint8 frames, or float frames in [0, 1] (truncated as the demos
    convert them, ``(x * 255).astype(uint8)``)."""
    if isinstance(frames, np.ndarray):
        array = frames
    else:
        items = list(frames)
        if not items:
            raise InvalidInputError(f"{name} has no frames")
        array = np.stack([np.asarray(f.convert("RGB") if isinstance(f, Image.Image) else f) for f in items])
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        raise InvalidInputError(f"{name} must be frames [F, H, W, 3] (F >= 1), got shape {list(array.shape)}")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise InvalidInputError(f"{name} must be uint8 frames or finite floats in [0, 1], got {array.dtype}")
    if array.min() < 0 or array.max() > 1:
        raise InvalidInputError(f"{name} as floats must lie in [0, 1], got [{array.min():.3g}, {array.max():.3g}]")
    return to_uint8(array)


@dataclass(frozen=True)
class Layout:
    """The refined frames along time: how many, which condition, the pads and the latents they make."""

    frames: int  # refined frames: the output's length, conditioning frames included
    cond_frames: int  # the first ones, replaced by the conditioning
    front: int  # copies of the first frame in front (conditioning clips are 4k+1 frames)
    back: int  # copies of the last frame behind
    cond_latents: int
    noise_latents: int

    @property
    def latents(self) -> int:
        return self.cond_latents + self.noise_latents

    @property
    def encoded_frames(self) -> int:
        """Frames the VAE encodes: without conditioning 4L, of which it keeps 4L − 3 (hence ``plan_layout``)."""
        return self.front + self.frames + self.back


def _ceil_blocks(n: int) -> int:
    return math.ceil(n / BLOCK_LATENTS) * BLOCK_LATENTS


def plan_layout(stage1_frames: int, num_cond_frames: int, temporal_factor: int) -> Layout:
    """The original's padding: ncl = the latents of the conditioning frames rounded up to 4, the clip front-padded
    to 1 + 4(ncl − 1) frames; the other frames to 4·(their latents rounded up to 4). Refuses what the original
    would silently shorten (no conditioning, 4L frames encoded but only 4L − 3 decoded)."""
    frames = stage1_frames * temporal_factor
    noise = frames - num_cond_frames
    if noise < 1:
        raise InvalidInputError(
            f"too few stage-1 frames: {stage1_frames} make {frames} refined frames, none left to refine after the "
            f"{num_cond_frames} conditioning frames; give at least {math.ceil((num_cond_frames + 1) / temporal_factor)}"
            f" stage-1 frames, or fewer conditioning frames"
        )
    cond_latents = front = 0
    if num_cond_frames > 0:
        cond_latents = _ceil_blocks(1 + math.ceil((num_cond_frames - 1) / VAE_TEMPORAL))
        front = 1 + (cond_latents - 1) * VAE_TEMPORAL - num_cond_frames
    noise_latents = _ceil_blocks(math.ceil(noise / VAE_TEMPORAL))
    back = noise_latents * VAE_TEMPORAL - noise
    if num_cond_frames == 0 and noise_latents * VAE_TEMPORAL - 3 < frames:
        kept = noise_latents * VAE_TEMPORAL - 3
        raise InvalidInputError(
            f"{stage1_frames} stage-1 frames without conditioning would come out short: the refinement pads their "
            f"{frames} refined frames to {noise_latents * VAE_TEMPORAL}, of which the VAE keeps {kept} (the original "
            f"silently returns {kept} frames); allowed without conditioning: refined frame counts n with n mod 16 in "
            f"1..13 (stage-1 lengths F with F mod 8 not 0 or 7, or with spatial_refine_only F mod 16 in 1..13), "
            f"or give conditioning frames"
        )
    return Layout(frames, num_cond_frames, front, back, cond_latents, noise_latents)


def refine_size(stage1_height: int, stage1_width: int, height: int | None, width: int | None) -> tuple[int, int]:
    """(height, width): the explicit size, or the 720p bucket (64-pixel grid) closest to the stage-1 frames' shape."""
    if height is not None and width is not None:
        return height, width
    return closest_bucket(BUCKETS_720P_F64, stage1_width, stage1_height)


def cond_frame_count(image: object, video: np.ndarray | None, num_cond_frames: int | None) -> int:
    """The number of conditioning frames: checked against what is given (an image is one frame)."""
    if image is not None and video is not None:
        raise InvalidInputError("give the conditioning as image= or as video=, not both")
    if num_cond_frames is None:
        if video is not None:
            raise InvalidInputError(
                "num_cond_frames is required with video=: how many of its last frames condition the refinement "
                "(the demos: twice the stage-1 conditioning frames, or as many with spatial_refine_only)"
            )
        return 1 if image is not None else 0
    if image is not None and num_cond_frames != 1:
        raise InvalidInputError(f"num_cond_frames={num_cond_frames} is invalid with image=: an image is 1 frame")
    if video is not None and not 1 <= num_cond_frames <= len(video):
        raise InvalidInputError(
            f"num_cond_frames={num_cond_frames} is invalid with a video of {len(video)} frames: must be 1 to "
            f"{len(video)} (its last frames condition the refinement)"
        )
    if image is None and video is None and num_cond_frames != 0:
        raise InvalidInputError(
            f"num_cond_frames={num_cond_frames} needs conditioning frames: pass image= or video=, or use 0"
        )
    return num_cond_frames


@dataclass(frozen=True)
class Plan:
    """A refinement's inputs, checked: the stage-1 frames, the conditioning, the size and the frame layout."""

    stage1: np.ndarray  # uint8 [F, H1, W1, 3]
    image: Image.Image | None
    video: np.ndarray | None  # uint8 [N, Hv, Wv, 3]
    layout: Layout
    height: int
    width: int

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """(latents, patch rows, patch cols) of the DiT input."""
        return self.layout.latents, self.height // conditioning.SIZE_MULTIPLE, self.width // conditioning.SIZE_MULTIPLE

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the conditioning input, else of the stage-1 frames (what the demos resize back to)."""
        if self.image is not None:
            return self.image.size
        source = self.video if self.video is not None else self.stage1
        return source.shape[2], source.shape[1]


def plan(
    stage1: FramesLike,
    image: ImageLike | None,
    video: FramesLike | None,
    num_cond_frames: int | None,
    temporal_factor: int,
    height: int | None,
    width: int | None,
) -> Plan:
    """Every input checked before any work."""
    frames = to_frames(stage1, "stage1_frames")
    video_frames = None if video is None else to_frames(video, "video")
    ncf = cond_frame_count(image, video_frames, num_cond_frames)
    layout = plan_layout(len(frames), ncf, temporal_factor)
    pil = None if image is None else load_image(image)
    size = refine_size(frames.shape[1], frames.shape[2], height, width)
    return Plan(frames, pil, video_frames, layout, *size)


def upsample(plan: Plan, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The padded up-sampled video [1, 3, frames, H, W] in [-1, 1]. Computed in ``dtype`` (the DiT's), as the
    original computes it."""
    video = torch.from_numpy(plan.stage1).permute(0, 3, 1, 2).to(device, dtype)
    video = F.interpolate(video, size=(plan.height, plan.width), mode="bilinear", align_corners=True)
    video = video.permute(1, 0, 2, 3)[None] / 255.0
    size = (plan.layout.frames, plan.height, plan.width)
    video = F.interpolate(video, size=size, mode="trilinear", align_corners=True) * 2 - 1
    front = video[:, :, :1].repeat(1, 1, plan.layout.front, 1, 1)
    back = video[:, :, -1:].repeat(1, 1, plan.layout.back, 1, 1)
    return torch.cat([front, video, back], dim=2)


def noise_source(rng: str, generator: torch.Generator) -> Draw:
    """Where the up-sampled video's draws come from: ``generator``, or torch's global RNG on the drawing device
    (``rng="original"``: what the original's ``latent_dist.sample()`` and ``randn_like`` use)."""
    if rng == "original":
        return lambda shape, dtype, device: torch.randn(shape, dtype=dtype, device=device)
    return lambda shape, dtype, device: conditioning.randn(shape, generator, device, dtype)


@torch.no_grad()
def encode_mixed(vae, video: torch.Tensor, t_thresh: float, draw: Draw) -> torch.Tensor:
    """(1 − t)·normalize(posterior sample of the video) + t·noise, float32 [1, 16, T, h, w]; the posterior ε
    first, then the noise, both in the VAE's dtype as the original draws them."""
    device = next(vae.parameters()).device
    dist = vae.encode(video.to(device, vae.dtype)).latent_dist
    sample = dist.mean + dist.std * draw(tuple(dist.mean.shape), dist.mean.dtype, device)
    latent = conditioning.normalize(sample, vae)
    noise = draw(tuple(latent.shape), latent.dtype, device)
    return ((1 - t_thresh) * latent + t_thresh * noise).float()


def condition_pixels(plan: Plan) -> torch.Tensor | None:
    """The conditioning clip [1, 3, front + ncf, H, W] in [-1, 1]: the image, or the video's last ncf frames, each
    resized as image-to-video resizes its image, front-padded with copies of its first frame; None without."""
    layout = plan.layout
    if layout.cond_frames == 0:
        return None
    if plan.image is not None:
        sources = [plan.image]
    else:
        assert plan.video is not None  # a plan with conditioning frames has an image or a video
        sources = [Image.fromarray(f) for f in plan.video[len(plan.video) - layout.cond_frames :]]
    pixels = torch.cat([conditioning.image_to_pixels(s, plan.height, plan.width) for s in sources], dim=2)
    return torch.cat([pixels[:, :, :1].repeat(1, 1, layout.front, 1, 1), pixels], dim=2)


def first_frame(clip: torch.Tensor, layout: Layout) -> np.ndarray:
    """The first frame after the front pads of a clip in [-1, 1] (the conditioning clip, else the up-sampled
    video) as float32 [H, W, 3] in [0, 1]: what the refined video starts from."""
    return conditioning.pixels_to_image(clip[:, :, layout.front : layout.front + 1].float())


def crop(frames: np.ndarray, layout: Layout) -> np.ndarray:
    """The refined frames without the pads: they start with the conditioning frames, as the original returns them."""
    return frames[layout.front : layout.front + layout.frames]


def segment_windows(segments: Sequence[FramesLike], overlap: int) -> list[np.ndarray]:
    """Each segment's stage-1 window of the long video, as the long-video demo slices it: a segment after the
    first starts with ``overlap`` frames continuing the previous ones; its window takes those from the long video
    (the earlier segments' frames) and the rest from the segment."""
    frames = [to_frames(s, f"segment {j}") for j, s in enumerate(segments)]
    if not frames:
        raise InvalidInputError("refine_segments needs at least one stage-1 segment")
    for j, seg in enumerate(frames[1:], start=1):
        if not 0 <= overlap < len(seg):
            raise InvalidInputError(
                f"num_cond_frames={overlap} is invalid for segment {j} of {len(seg)} frames: "
                f"must be 0 to {len(seg) - 1}"
            )
        if seg.shape[1:] != frames[0].shape[1:]:
            raise InvalidInputError(
                f"segment {j} has {seg.shape[2]}x{seg.shape[1]} frames, segment 0 {frames[0].shape[2]}x"
                f"{frames[0].shape[1]}: the segments of a long video share one size"
            )
    long = np.concatenate([frames[0]] + [seg[overlap:] for seg in frames[1:]])
    windows, start = [], 0
    for seg in frames:
        windows.append(long[start : start + len(seg)])
        start += len(seg) - overlap
    return windows


def segment_prompts(prompts: str | Sequence[str], count: int) -> list[str]:
    """One prompt per segment: the same for all, or one each."""
    if isinstance(prompts, str):
        return [prompts] * count
    prompts = list(prompts)
    if len(prompts) != count or not all(isinstance(p, str) for p in prompts):
        raise InvalidInputError(f"prompts must be one string or {count} strings (one per segment), got {prompts!r}")
    return prompts

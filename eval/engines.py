"""Generation engines for the harness, behind one small interface: ``native`` (our ``LongCatI2V``) or
``fastvideo`` (FastVideo 0.2.1's own LongCat I2V pipeline through ``interop.fastvideo_engine``), fed the same
checkpoint, image, prompt, settings and starting latents, so their scores, speed and parity sit side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from longcat_i2v import LongCatI2V, conditioning
from longcat_i2v.images import load_image
from longcat_i2v.settings import LongVideoSettings

FASTVIDEO_PRECISION = {"float32": "fp32", "bfloat16": "bf16"}
OnStep = Callable[[torch.Tensor], None]


@dataclass
class EngineRun:
    """One generation: float frames [F, H, W, 3], the conditioning image as the model saw it, final latents
    (None for a long video: each segment had its own), the wall time of each step, and the latents after each
    step (when the engine can report them). A refined video carries its stage 1's frames, a long video its
    resolved settings (where its segments lie)."""

    frames: np.ndarray
    cond_image: np.ndarray
    latents: torch.Tensor | None
    step_seconds: list[float]
    steps: list[torch.Tensor] = field(default_factory=list)
    stage1: np.ndarray | None = None
    long: LongVideoSettings | None = None

    @property
    def seconds_per_step(self) -> float:
        """Median wall time of a denoising step."""
        return statistics.median(self.step_seconds)


class Engine(Protocol):
    name: str

    def generate(
        self, image: str, prompt: str, request: dict, seed: int, on_step: OnStep, keep_steps: bool
    ) -> EngineRun: ...

    def close(self) -> None: ...


class NativeEngine:
    """Our pipeline; a step's time runs from its DiT call to the end of its scheduler step (the step callback),
    as FastVideo's engine measures it."""

    name = "native"

    def __init__(self, pipe: LongCatI2V) -> None:
        self.pipe = pipe

    def generate(
        self, image: str, prompt: str, request: dict, seed: int, on_step: OnStep, keep_steps: bool
    ) -> EngineRun:
        starts: list[float] = []
        seconds: list[float] = []
        steps: list[torch.Tensor] = []

        def callback(step: int, total: int, latents: torch.Tensor) -> None:
            seconds.append(stamp() - starts[-1])
            if keep_steps:
                steps.append(latents.detach().float().cpu().clone())
            on_step(latents)

        sync = torch.cuda.synchronize if self.pipe.device.type == "cuda" else lambda: None

        def stamp() -> float:
            sync()  # CUDA runs asynchronously: wait for the queued kernels before reading the clock
            return time.perf_counter()

        hook = self.pipe.dit.register_forward_pre_hook(lambda module, args: starts.append(stamp()))
        generator = torch.Generator("cpu").manual_seed(seed)
        try:
            if "long" in request:
                return self._long(image, prompt, request["long"], generator, callback, seconds)
            out = self.pipe.generate_video(prompt, image=image, generator=generator, callback=callback, **request)
        finally:
            hook.remove()
        stage1 = out.stage1.frames if out.stage1 is not None else None
        return EngineRun(out.frames, out.cond_image, out.latents, seconds, steps, stage1=stage1)

    def _long(self, image: str, prompt: str, settings: LongVideoSettings, generator, callback, seconds) -> EngineRun:
        """``generate_long_video``; its uint8 frames (as the core assembles them) as floats, and the input as the
        first segment saw it."""
        out = self.pipe.generate_long_video(image, prompt, generator=generator, callback=callback, settings=settings)
        pil = load_image(image)
        height, width = conditioning.resolve_size(pil, settings.resolution, settings.height, settings.width)
        cond_image = conditioning.pixels_to_image(conditioning.image_to_pixels(pil, height, width))
        frames = out.frames.astype(np.float32) / 255.0
        return EngineRun(frames, cond_image, None, seconds, long=out.settings)

    def close(self) -> None:
        """Nothing to release: the pipeline belongs to the caller."""


class FastVideoPeer:
    """FastVideo's pipeline on the same checkpoint; one loaded engine per (checkpoint, precision, distill)."""

    name = "fastvideo"

    def __init__(self, checkpoint_dir: str, dtype: str, distill: bool) -> None:
        from interop.fastvideo_engine import FastVideoEngine

        self.engine = FastVideoEngine(checkpoint_dir, FASTVIDEO_PRECISION[dtype], distill)

    def generate(
        self, image: str, prompt: str, request: dict, seed: int, on_step: OnStep, keep_steps: bool
    ) -> EngineRun:
        pil = load_image(image)
        height, width = conditioning.resolve_size(pil, request["resolution"], request["height"], request["width"])
        run = self.engine.generate(
            pil,
            prompt,
            num_frames=request["num_frames"],
            height=height,
            width=width,
            steps=request["num_inference_steps"],
            guidance=request["guidance_scale"],
            seed=seed,
            negative_prompt=request["negative_prompt"],
            max_sequence_length=request["max_sequence_length"],
        )
        for _ in run.step_seconds:
            on_step(run.latents)
        cond_image = conditioning.pixels_to_image(conditioning.image_to_pixels(pil, height, width))
        return EngineRun(run.frames, cond_image, run.latents, list(run.step_seconds))

    def close(self) -> None:
        self.engine.close()

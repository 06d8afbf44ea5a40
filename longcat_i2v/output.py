"""What every generation returns: the frames, the latents and what produced them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import defaults
from .settings import RefineSettings, SamplingSettings


@dataclass
class GenerationOutput:
    """A generated video and what produced it."""

    frames: np.ndarray  # float32 [F, H, W, 3] in [0, 1]
    latents: torch.Tensor  # final latents [1, 16, T, H/8, W/8]
    seed: int  # the generator's seed (the one drawn when none was given)
    cond_image: np.ndarray  # float32 [H, W, 3] in [0, 1]: the conditioning image as the model saw it
    input_size: tuple[int, int]  # (width, height) of the input image, for resizing back
    fps: int = defaults.FPS  # the frame rate the video is meant to play at
    settings: SamplingSettings | None = None  # the settings used, steps and guidance resolved
    refine_settings: RefineSettings | None = None  # the refinement's settings (seed resolved), if refined
    stage1: GenerationOutput | None = None  # after generate_video(refine=True): the video that was refined

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]

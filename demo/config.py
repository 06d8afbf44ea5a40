"""The form's bounds and initial values, in one place, so tests and small machines can shrink them."""

from __future__ import annotations

from dataclasses import dataclass

from longcat_i2v import defaults

CUSTOM_SIZE = "custom"
SIZE_MULTIPLE = 16
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class DemoConfig:
    """What the web form allows and starts with. The defaults suit real LongCat-Video weights on one GPU;
    ``tiny()`` suits the random-weight demo checkpoint on a CPU."""

    num_frames: int = defaults.NUM_FRAMES
    min_frames: int = 5
    max_frames: int = defaults.NUM_FRAMES
    resolution: str = defaults.RESOLUTION
    width: int = 832  # the custom size the form starts with
    height: int = 480
    min_side: int = 128
    max_side: int = 1920
    max_area: int = 960 * 960  # the largest 720p bucket
    steps: int = defaults.STEPS
    max_steps: int = 100
    max_guidance: float = 20.0
    fps: int = defaults.FPS
    max_fps: int = 60
    max_prompt_chars: int = 4000
    max_image_pixels: int = defaults.MAX_IMAGE_PIXELS
    max_queue: int = 32
    keep_outputs_s: float = 3600.0

    def __post_init__(self) -> None:
        problems = []
        if self.min_frames < 1 or (self.min_frames - 1) % 4 or (self.max_frames - 1) % 4:
            problems.append(f"min_frames/max_frames must be 4k+1, got {self.min_frames}/{self.max_frames}")
        if not self.min_frames <= self.num_frames <= self.max_frames or (self.num_frames - 1) % 4:
            problems.append(f"num_frames {self.num_frames} must be 4k+1 in [{self.min_frames}, {self.max_frames}]")
        if self.resolution not in self.resolution_choices:
            problems.append(f"resolution {self.resolution!r} must be one of {self.resolution_choices}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value % SIZE_MULTIPLE or not self.min_side <= value <= self.max_side:
                problems.append(f"{name} {value} must be a multiple of {SIZE_MULTIPLE} in [min_side, max_side]")
        if not 1 <= self.steps <= self.max_steps or self.max_steps < defaults.STEPS:
            problems.append(
                f"steps {self.steps} must be in [1, max_steps={self.max_steps}], max_steps >= {defaults.STEPS}"
            )
        if not 1 <= self.fps <= self.max_fps:
            problems.append(f"fps {self.fps} must be in [1, {self.max_fps}]")
        if problems:
            raise ValueError("invalid DemoConfig: " + "; ".join(problems))

    @classmethod
    def tiny(cls) -> DemoConfig:
        """Short, few-step defaults so the random-weight demo checkpoint answers in seconds on a CPU."""
        return cls(num_frames=9, steps=8)

    @property
    def resolution_choices(self) -> tuple[str, ...]:
        return (*defaults.RESOLUTIONS, CUSTOM_SIZE)

"""The form's bounds and initial values, in one place, so tests and small machines can shrink them."""

from __future__ import annotations

from dataclasses import dataclass

from longcat_i2v import defaults
from longcat_i2v.buckets import BUCKETS
from longcat_i2v.options import SettingsError
from longcat_i2v.settings import ContinuationSettings, I2VSettings, RefineSettings
from longcat_i2v.tiny import SMALL_REFINE_SETTINGS, SMALL_SETTINGS

CUSTOM_SIZE = "custom"
MAX_SEED = 2**31 - 1
# The largest frame any bucket produces (1856×512 in the 720p table): what a custom size may reach.
LARGEST_BUCKET_AREA = max(h * w for table in BUCKETS.values() for h, w in table.values())


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
    max_area: int = LARGEST_BUCKET_AREA
    steps: int = defaults.STEPS
    max_steps: int = 100
    max_guidance: float = 20.0
    fps: int = defaults.FPS
    max_fps: int = defaults.MAX_FPS
    max_prompt_chars: int = defaults.MAX_PROMPT_CHARS
    max_image_pixels: int = defaults.MAX_IMAGE_PIXELS
    max_image_bytes: int = defaults.MAX_IMAGE_BYTES  # one limit for uploads, data: URLs and request bodies
    max_queue: int = 32  # requests waiting for their turn, beyond which new ones are refused
    concurrency: int = 1  # requests taken from the queue at once (one generates; the rest wait for the device)
    keep_outputs_s: float = 3600.0  # every file the server makes is deleted once older than this
    history_size: int = 12  # results kept in each visitor's history
    preview_interval_s: float = 0.5  # at most one live preview per this many seconds
    num_cond_frames: int | None = None  # Extend/long video: frames each segment continues; None: 13, or fewer
    max_segments: int = 8  # the most segments a long or extended video may have (its length cap)
    refine_height: int | None = None  # the refined size the form starts with; None: the 720p bucket
    refine_width: int | None = None
    offload: str = "none"  # the offload mode the operator asked for ("auto": the planner's pick), for the header

    def __post_init__(self) -> None:
        problems = []
        # The starting values and the caps must themselves be valid settings (the core's rules, defined once).
        for what, values in (
            ("starting values", (self.num_frames, self.steps, self.fps, self.width, self.height)),
            ("lower caps", (self.min_frames, 1, 1, self.min_side, self.min_side)),
            ("upper caps", (self.max_frames, self.max_steps, self.max_fps, self.max_side, self.max_side)),
        ):
            frames, steps, fps, width, height = values
            try:
                I2VSettings(num_frames=frames, num_inference_steps=steps, fps=fps, width=width, height=height)
            except SettingsError as exc:
                problems.append(f"{what}: {exc}")
        for name, low, value, high in (
            ("num_frames", self.min_frames, self.num_frames, self.max_frames),
            ("steps", 1, self.steps, self.max_steps),
            ("fps", 1, self.fps, self.max_fps),
            ("width", self.min_side, self.width, self.max_side),
            ("height", self.min_side, self.height, self.max_side),
        ):
            if not low <= value <= high:
                problems.append(f"{name} {value} must be in [{low}, {high}]")
        try:
            ContinuationSettings(num_frames=self.num_frames, num_cond_frames=self.cond_frames)
            RefineSettings(height=self.refine_height, width=self.refine_width)
        except SettingsError as exc:
            problems.append(f"extend/refine starting values: {exc}")
        for name in ("max_image_bytes", "max_queue", "concurrency", "keep_outputs_s", "history_size", "max_segments"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.offload not in (*defaults.OFFLOAD_MODES, "auto"):
            problems.append(f"offload {self.offload!r} must be one of {(*defaults.OFFLOAD_MODES, 'auto')}")
        if self.preview_interval_s < 0:
            problems.append(f"preview_interval_s must be >= 0, got {self.preview_interval_s}")
        if self.max_steps < defaults.STEPS:
            problems.append(f"max_steps must be >= {defaults.STEPS} (the model's default), got {self.max_steps}")
        if self.resolution not in self.resolution_choices:
            problems.append(f"resolution {self.resolution!r} must be one of {self.resolution_choices}")
        if problems:
            raise ValueError("invalid DemoConfig: " + "; ".join(problems))

    @classmethod
    def tiny(cls) -> DemoConfig:
        """Short, few-step, small defaults so the random-weight demo checkpoint answers in seconds on a CPU."""
        small = SMALL_SETTINGS
        return cls(
            num_frames=small["num_frames"],
            steps=small["num_inference_steps"],
            resolution=CUSTOM_SIZE,
            width=small["width"],
            height=small["height"],
            refine_height=SMALL_REFINE_SETTINGS["height"],
            refine_width=SMALL_REFINE_SETTINGS["width"],
        )

    @property
    def cond_frames(self) -> int:
        """The conditioning frames Extend starts with: the given count, else the model's 13 when the clip holds
        more, else the most a clip of ``num_frames`` (4k+1) leaves room for."""
        if self.num_cond_frames is not None:
            return self.num_cond_frames
        return min(defaults.NUM_COND_FRAMES, max(1, self.num_frames - 4))

    @property
    def resolution_choices(self) -> tuple[str, ...]:
        return (*defaults.RESOLUTIONS, CUSTOM_SIZE)

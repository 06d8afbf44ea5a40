"""How long a running job still needs, from what this job and the worker's earlier jobs have measured.

Denoising steps all cost the same, so the steps done so far time the ones left (the first step is left out once
there are others: it carries one-off warm-up). Decoding and writing the mp4 happen once per job, so before they
start their cost comes from the last finished job, scaled by the amount of work (latent frames × latent pixels
for decoding, frames × pixels for writing); until one job has finished, the estimate says that it leaves them out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

AFTER_DENOISING = ("decoding", "writing")


class Rates:
    """Seconds per unit of work of decoding and of writing, from the most recent finished job."""

    def __init__(self) -> None:
        self._seconds_per_unit: dict[str, float] = {}

    def learn(self, phase: str, seconds: float, units: int) -> None:
        if units > 0 and seconds >= 0:
            self._seconds_per_unit[phase] = seconds / units

    def estimate(self, phase: str, units: int) -> float | None:
        rate = self._seconds_per_unit.get(phase)
        return None if rate is None else rate * units


@dataclass
class Remaining:
    """An estimate of the time left: ``seconds`` covers everything unless ``leaves_out`` names phases it omits."""

    seconds: float
    leaves_out: tuple[str, ...] = ()


@dataclass
class JobClock:
    """The times one job reached each point: phase starts, the end of each denoising step and of each decoded
    frame. ``units`` holds the work of decoding and writing once the job knows its size."""

    clock: Callable[[], float] = time.monotonic
    phase_started: dict[str, float] = field(default_factory=dict)
    segment_started: dict[str, float] = field(default_factory=dict)  # the phases' starts in the current segment
    steps: list[float] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)
    units: dict[str, int] = field(default_factory=dict)

    def start(self, phase: str) -> None:
        now = self.clock()
        self.phase_started.setdefault(phase, now)
        self.segment_started.setdefault(phase, now)

    def next_segment(self) -> None:
        """A long video's next segment: its steps and chunks are timed afresh (the job's phase starts stay, for its
        timing)."""
        self.segment_started.clear()
        self.steps.clear()
        self.frames.clear()

    def step_done(self) -> None:
        self.steps.append(self.clock())

    def frame_done(self) -> None:
        self.frames.append(self.clock())

    def seconds_in(self, phase: str, until: str) -> float | None:
        """How long ``phase`` lasted, up to the start of ``until``."""
        if phase not in self.phase_started or until not in self.phase_started:
            return None
        return self.phase_started[until] - self.phase_started[phase]

    def remaining(self, phase: str, total_steps: int, total_frames: int, rates: Rates) -> Remaining | None:
        """The time left in ``phase`` and after it, or None while nothing of this job has been timed yet."""
        now = self.clock()
        if phase in ("denoising", "refining") and self.steps:
            left = max(0, total_steps - len(self.steps)) * self._per_item(self.steps, phase)
            return self._plus(left, AFTER_DENOISING, rates)
        if phase == "decoding":
            if self.frames:
                left = (total_frames - len(self.frames)) * self._per_item(self.frames, "decoding")
            else:
                guess = rates.estimate("decoding", self.units.get("decoding", 0))
                if guess is None:
                    return self._plus(0.0, AFTER_DENOISING, rates)
                left = max(0.0, guess - (now - self.segment_started["decoding"]))
            return self._plus(left, ("writing",), rates)
        if phase == "writing":
            guess = rates.estimate("writing", self.units.get("writing", 0))
            if guess is None:
                return Remaining(0.0, ("writing",))
            return Remaining(max(0.0, guess - (now - self.segment_started["writing"])))
        return None

    def _per_item(self, marks: list[float], phase: str) -> float:
        if len(marks) >= 2:
            return (marks[-1] - marks[0]) / (len(marks) - 1)
        return marks[0] - self.segment_started[phase]

    def _plus(self, seconds: float, phases: tuple[str, ...], rates: Rates) -> Remaining:
        unknown = []
        for phase in phases:
            guess = rates.estimate(phase, self.units.get(phase, 0))
            if guess is None:
                unknown.append(phase)
            else:
                seconds += guess
        return Remaining(seconds, tuple(unknown))


def describe(remaining: Remaining | None) -> str:
    """'about 1 min 5 s left', 'about 4 s left (decoding not measured yet)', or '' when nothing is known."""
    if remaining is None:
        return ""
    seconds = round(remaining.seconds)
    text = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{max(seconds, 1)} s"
    note = f" ({' and '.join(remaining.leaves_out)} not measured yet)" if remaining.leaves_out else ""
    return f"about {text} left{note}"

"""The time-left estimate on a clock the test moves: steps time the steps left, earlier jobs time decoding."""

from __future__ import annotations

import pytest

from demo.eta import JobClock, Rates, Remaining, describe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steps_left_are_timed_by_the_steps_done_leaving_out_the_first() -> None:
    clock, rates = Clock(), Rates()
    job = JobClock(clock)
    job.start("denoising")
    clock.now += 5.0  # the first step carries warm-up
    job.step_done()
    assert job.remaining("denoising", 10, 3, rates) == Remaining(45.0, ("decoding", "writing"))
    for _ in range(2):
        clock.now += 2.0
        job.step_done()
    assert job.remaining("denoising", 10, 3, rates) == Remaining(14.0, ("decoding", "writing"))


def test_each_segment_of_a_long_video_is_timed_afresh() -> None:
    clock, rates = Clock(), Rates()
    job = JobClock(clock)
    job.start("denoising")
    for _ in range(4):  # segment 1: 4 steps of 1 s
        clock.now += 1.0
        job.step_done()
    job.start("decoding")
    clock.now += 20.0  # its decode, then segment 2's encoding: not steps
    job.next_segment()
    job.start("denoising")
    clock.now += 3.0
    job.step_done()
    # 3 of segment 2's 4 steps left at its own first step's 3 s (not 4 − 5 steps at the 23 s gap)
    assert job.remaining("denoising", 4, 1, rates) == Remaining(9.0, ("decoding", "writing"))
    assert job.phase_started["denoising"] == 100.0  # the job's timing keeps where it began


def test_decoding_and_writing_are_timed_by_the_last_job_scaled_by_size() -> None:
    rates = Rates()
    rates.learn("decoding", 6.0, 3 * 100)  # 3 latent frames of 100 latent pixels took 6 s
    rates.learn("writing", 1.0, 1000)
    clock = Clock()
    job = JobClock(clock, units={"decoding": 6 * 100, "writing": 500})
    job.start("denoising")
    clock.now += 1.0
    job.step_done()
    assert job.remaining("denoising", 3, 6, rates) == Remaining(2.0 + 12.0 + 0.5)
    job.start("decoding")
    clock.now += 4.0
    assert job.remaining("decoding", 3, 6, rates) == Remaining(8.0 + 0.5)
    job.frame_done()
    clock.now += 3.0
    job.frame_done()  # frames now take 3 s each here: this job's own pace wins
    assert job.remaining("decoding", 3, 6, rates) == Remaining(4 * 3.0 + 0.5)
    job.start("writing")
    clock.now += 0.2
    assert job.remaining("writing", 3, 6, rates).seconds == pytest.approx(0.3)


def test_nothing_is_promised_before_the_first_step() -> None:
    job = JobClock(Clock())
    assert job.remaining("encoding", 8, 3, Rates()) is None
    assert job.remaining("denoising", 8, 3, Rates()) is None
    assert describe(None) == ""


@pytest.mark.parametrize(
    ("remaining", "text"),
    [
        (Remaining(0.2), "about 1 s left"),
        (Remaining(65.4), "about 1 min 5 s left"),
        (Remaining(3, ("decoding", "writing")), "about 3 s left (decoding and writing not measured yet)"),
    ],
)
def test_describe(remaining: Remaining, text: str) -> None:
    assert describe(remaining) == text

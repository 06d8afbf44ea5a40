"""Metrics on constructed videos where the right answer is known."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from eval import metrics
from eval.metrics.flow import dis_flow, occlusion_mask, warp
from eval.scoring import score_video

from .conftest import panning_clip, texture, with_flicker


@pytest.fixture(scope="module")
def perceptual():
    return metrics.load_perceptual("auto", "alex")


def test_identical_frames_are_perfect(perceptual):
    frame = texture(64, 64)
    static = np.stack([frame] * 5)
    assert metrics.psnr(frame, frame) == math.inf
    assert metrics.ssim(frame, frame) == pytest.approx(1.0, abs=1e-6)
    assert metrics.perceptual_distance(frame, frame, perceptual) == pytest.approx(0.0, abs=1e-6)
    assert metrics.warping_error(static) == pytest.approx(0.0, abs=1e-8)
    assert metrics.flicker(static) == 0.0
    assert metrics.consecutive_ssim(static) == pytest.approx(1.0, abs=1e-6)
    assert metrics.consecutive_perceptual(static, perceptual) == pytest.approx(0.0, abs=1e-6)


def test_flow_follows_a_pan_and_warping_undoes_it():
    clip = panning_clip(frames=2, shift=3)
    flow = dis_flow(clip[1], clip[0])  # clip[1](p) ≈ clip[0](p + flow(p)): content moved 3 px left
    mask = occlusion_mask(flow, dis_flow(clip[0], clip[1]))
    interior = (slice(8, -8), slice(8, -8))
    assert np.median(flow[interior][..., 0]) == pytest.approx(3.0, abs=0.3)
    assert np.median(np.abs(flow[interior][..., 1])) < 0.3
    assert mask[interior].mean() > 0.9
    assert not mask[:, -2:].any()  # the rightmost columns come from outside frame 0: occluded
    warped_error = np.mean((warp(clip[0], flow) - clip[1])[interior] ** 2)
    assert warped_error < 0.1 * np.mean((clip[0] - clip[1])[interior] ** 2)


def test_smooth_pan_is_more_consistent_than_the_same_pan_with_flicker(perceptual):
    pan = panning_clip()
    flickering = with_flicker(pan)
    assert metrics.warping_error(pan) < 1e-4 < metrics.warping_error(flickering)
    assert metrics.flicker(pan) < metrics.flicker(flickering)
    assert metrics.consecutive_ssim(pan) > metrics.consecutive_ssim(flickering)
    assert metrics.consecutive_perceptual(pan, perceptual) < metrics.consecutive_perceptual(flickering, perceptual)


@pytest.mark.parametrize("degrade", ["shift", "blur"])
def test_first_frame_equal_to_the_input_scores_best(perceptual, degrade):
    image = texture(64, 64, seed=3)
    worse = np.roll(image, 4, axis=1) if degrade == "shift" else cv2.GaussianBlur(image, (0, 0), 2)
    video, worse_video = np.stack([image, image]), np.stack([worse, image])
    good = score_video(video, image, perceptual, temporal=False)
    bad = score_video(worse_video, image, perceptual, temporal=False)
    assert good["first_frame_psnr"] == math.inf > bad["first_frame_psnr"]
    assert good["first_frame_ssim"] > bad["first_frame_ssim"]
    assert good["first_frame_perceptual"] < bad["first_frame_perceptual"]


def test_score_video_names_and_one_frame_videos(perceptual):
    clip = panning_clip(frames=3)
    scores = score_video(clip, clip[0], perceptual)
    assert set(scores) == {
        "first_frame_psnr",
        "first_frame_ssim",
        "first_frame_perceptual",
        "warping_error",
        "consecutive_ssim",
        "consecutive_perceptual",
        "flicker",
    }
    assert set(score_video(clip[:1], clip[0], None)) == {"first_frame_psnr", "first_frame_ssim"}


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="at least 2 frames"):
        metrics.flicker(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 16, 3)))
    with pytest.raises(ValueError, match=r"\[F, H, W, 3\]"):
        metrics.warping_error(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="unknown DIS preset"):
        dis_flow(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), "slowest")


def test_parity_diffs():
    a = np.zeros((2, 3), np.float32)
    b = a.copy()
    b[1, 2] = 0.5
    assert metrics.abs_diff(a, b) == {"max_abs": 0.5, "mean_abs": pytest.approx(0.5 / 6)}
    steps = metrics.per_step_diffs([a, b], [a, a])
    assert [s["max_abs"] for s in steps] == [0.0, 0.5]
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.abs_diff(a, a[0])
    with pytest.raises(ValueError, match="1 steps recorded here, 2 in the reference"):
        metrics.per_step_diffs([a], [a, a])

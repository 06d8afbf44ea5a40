"""Long-video and refinement scores on constructed videos whose answer is known: segment bounds from the
settings, drift of a changed segment, a jump at a seam against the same jump mid-segment, and the refined
video's fidelity to its stage 1."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from eval import metrics
from eval.metrics.flow import VideoFlows
from eval.metrics.stage1_fidelity import stage1_positions
from eval.scoring import Scorer
from longcat_i2v.settings import LongVideoSettings

from .conftest import texture

# 2 segments of 9 frames, 1 conditioning frame: frames 0-8, then 8 new ones 9-16; the seam is the pair (8, 9).
LAYOUT = LongVideoSettings(num_frames=9, num_cond_frames=1, num_segments=2)


def pan(frames: int, jump_at: int | None = None, jump: int = 12, shift: int = 2, size: int = 64) -> np.ndarray:
    """A pan ``shift`` px per frame; from frame ``jump_at`` on, ``jump`` px further (a jump between two frames)."""
    tex = texture(size, size + shift * frames + jump)
    offsets = [shift * i + (jump if jump_at is not None and i >= jump_at else 0) for i in range(frames)]
    return np.stack([tex[:, o : o + size] for o in offsets])


def test_segment_bounds_follow_the_settings():
    settings = LongVideoSettings(num_frames=9, num_cond_frames=5, num_segments=3)
    assert metrics.segment_bounds(settings, 17) == [(0, 9), (9, 13), (13, 17)]
    assert metrics.seam_pairs(metrics.segment_bounds(settings)).tolist() == [8, 12]
    with pytest.raises(ValueError, match="the long video has 18 frames; its settings .* make 17"):
        metrics.segment_bounds(settings, 18)


def test_seam_ratio():
    assert metrics.seam_ratio(np.array([1.0, 1.0, 5.0, 1.0]), np.array([2])) == 5.0
    assert metrics.seam_ratio(np.array([2.0, 1.0, 1.0]), np.array([1])) == pytest.approx(2 / 3)
    assert math.isnan(metrics.seam_ratio(np.array([1.0, 2.0]), np.array([], dtype=int)))
    assert metrics.seam_ratio(np.array([0.0, 3.0]), np.array([1])) == math.inf


def test_a_colour_shifted_second_segment_drifts_more():
    video = pan(17)
    shifted = video.copy()
    shifted[9:, ..., 0] = np.clip(shifted[9:, ..., 0] + 0.15, 0, 1)  # segment 1 redder
    scorer = Scorer(None, temporal=False)
    steady, drifted = scorer.score_long(video, video[0], LAYOUT), scorer.score_long(shifted, video[0], LAYOUT)
    assert steady.values["color_drift"] < 5.0 < 10.0 < drifted.values["color_drift"]  # the pan shows new texture
    assert [s["color_drift"] for s in drifted.segments][0] == 0.0  # segment 0 against itself
    assert metrics.color_drift(video, video) == 0.0
    grey = np.full((2, 8, 8, 3), 0.5, np.float32)
    assert metrics.lab_stats(grey)[3:] == pytest.approx([0, 0, 0], abs=1e-3)  # no spread
    assert metrics.lab_stats(grey)[1:3] == pytest.approx([0, 0], abs=1e-2)  # grey: a = b = 0


def test_a_blurred_segment_loses_sharpness():
    video = pan(17)
    blurred = video.copy()
    blurred[9:] = np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in video[9:]])
    scorer = Scorer(None, temporal=False)
    steady, soft = scorer.score_long(video, video[0], LAYOUT), scorer.score_long(blurred, video[0], LAYOUT)
    assert soft.segments[1]["sharpness_ratio"] < 0.5 < 0.8 < steady.segments[1]["sharpness_ratio"] < 1.25
    assert soft.values["sharpness_drift"] > 1.0 > 0.3 > steady.values["sharpness_drift"]
    assert metrics.sharpness(np.full((1, 8, 8, 3), 0.3, np.float32)) == 0.0
    assert metrics.sharpness_drift(0.5) == metrics.sharpness_drift(2.0) == 1.0


def test_a_jump_at_the_seam_scores_worse_than_the_same_jump_mid_segment():
    at_seam, mid_segment, smooth = pan(17, jump_at=9), pan(17, jump_at=4), pan(17)
    scorer = Scorer(None, fidelity=False, flow_preset="medium")
    seam = scorer.score_long(at_seam, at_seam[0], LAYOUT).values
    mid = scorer.score_long(mid_segment, mid_segment[0], LAYOUT).values
    even = scorer.score_long(smooth, smooth[0], LAYOUT).values
    for name in ("seam_flicker_ratio", "seam_warping_ratio"):
        assert seam[name] > 1.5 * even[name] and seam[name] > 1.5 * mid[name], name
    assert 0.7 < even["seam_flicker_ratio"] < 1.3  # a seam like any other pair
    assert (seam["seam_cuts"], mid["seam_cuts"], even["seam_cuts"]) == (1.0, 0.0, 0.0)
    assert mid["cut_count"] == 1.0  # the whole-video detector still sees the mid-segment jump


def test_per_segment_scores_and_input_fidelity_drift():
    perceptual = metrics.load_perceptual("auto", "alex")
    video = pan(17)
    drifting = video.copy()
    drifting[9:] = texture(64, 64, seed=5)  # segment 1 turns into another picture
    scorer = Scorer(perceptual, temporal=False)
    steady, away = scorer.score_long(video, video[0], LAYOUT), scorer.score_long(drifting, video[0], LAYOUT)
    assert [(s["segment"], s["start"], s["end"]) for s in steady.segments] == [(0, 0, 9), (1, 9, 17)]
    assert away.values["input_fidelity_drift"] > steady.values["input_fidelity_drift"] + 0.03
    assert away.segments[1]["input_vs_mean"] < steady.segments[1]["input_vs_mean"]
    assert {"input_fidelity_proxy", "input_vs_last", "sharpness_ratio"} <= set(steady.segments[1])
    assert Scorer(perceptual, task="long").versions["long_video"] == "1"
    per_segment = Scorer(None, fidelity=False, flow_preset="ultrafast").score_long(video, video[0], LAYOUT)
    assert per_segment.segments[0]["flicker"] == pytest.approx(metrics.flicker(video[:9]))
    assert per_segment.segments[1]["warping_error"] == pytest.approx(metrics.warping_error(video[9:], "ultrafast"))


def linear_stage1(frames: int = 5, size: int = 32) -> np.ndarray:
    """A stage-1 video whose frames change linearly in time (a fade), so that linear up-sampling is exact."""
    tex = texture(size, size)
    return np.stack([tex * (0.5 + 0.1 * i) for i in range(frames)]).astype(np.float32)


def upsampled(stage1: np.ndarray, factor: int = 2, scale: int = 2) -> np.ndarray:
    """Stage 1 up-sampled as the refinement's input is (trilinear, align_corners) to ``scale``× the size and
    ``factor``× the frames."""
    video = torch.from_numpy(stage1).permute(3, 0, 1, 2)[None]
    f, h, w = stage1.shape[:3]
    size = (f * factor, scale * h, scale * w)
    up = torch.nn.functional.interpolate(video, size=size, mode="trilinear", align_corners=True)
    return up[0].permute(1, 2, 3, 0).numpy()


def test_a_refined_video_equal_to_the_upsampled_stage1_is_perfect_and_a_shifted_one_worse():
    stage1 = linear_stage1()
    assert metrics.stage1_fidelity(np.repeat(np.repeat(stage1, 2, 1), 2, 2), stage1)["refine_psnr"] == math.inf
    refined = np.repeat(np.repeat(upsampled(stage1, 2, scale=1), 2, 1), 2, 2)  # 2x frames, each pixel 2x2
    assert stage1_positions(5, 10).tolist() == [0, 2.25, 4.5, 6.75, 9]
    perfect = metrics.stage1_fidelity(refined, stage1)
    assert perfect["refine_psnr"] > 70 and perfect["refine_ssim"] == pytest.approx(1.0, abs=1e-5)
    shifted = metrics.stage1_fidelity(np.roll(refined, 6, axis=2), stage1)
    assert shifted["refine_psnr"] < perfect["refine_psnr"] - 40 and shifted["refine_ssim"] < 0.9


def test_refined_pan_fidelity_and_smoothness_at_30_fps():
    stage1 = pan(9, size=32)
    refined = upsampled(stage1, 2)  # bilinear in space and time: close to stage 1, not equal
    good = Scorer(None, fps=30, task="refine").score_refined(refined, refined[0], stage1).values
    late = Scorer(None, fps=30, task="refine").score_refined(refined[::-1].copy(), refined[0], stage1).values
    assert good["refine_psnr"] > 28 > late["refine_psnr"] and good["refine_ssim"] > late["refine_ssim"]
    assert {"motion_smoothness", "flicker", "warping_error"} <= set(good)  # the 30 fps result's own smoothness
    assert Scorer(None, fps=30, task="refine").versions["refinement"] == "1"
    with pytest.raises(ValueError, match="cannot refine 9 stage-1 frames"):
        metrics.stage1_fidelity(refined[:4], stage1)


def test_a_segment_window_reuses_the_whole_videos_flows():
    flows = VideoFlows(pan(6, size=32), "ultrafast")
    whole = flows.flow(3, 2)
    part = flows.window(2, 5)
    assert part.flow(1, 0) is whole and len(part) == 3  # not recomputed
    assert np.array_equal(part.flow(2, 1), flows.flow(4, 3))  # computed fresh where the video had none

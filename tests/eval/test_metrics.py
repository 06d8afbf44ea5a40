"""Metrics on constructed videos where the right answer is known."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from eval import metrics
from eval.metrics.flow import VideoFlows, dis_flow, occlusion_mask, warp
from eval.metrics.temporal import temporal_flickering
from eval.scoring import Scorer, score_video
from longcat_i2v.video import to_uint8

from .conftest import hard_cut, panning_clip, texture, with_flicker


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


def test_the_occlusion_mask_keeps_a_pan_consistent():
    """A 3 px/frame pan brings 3 new columns in per frame, which no flow can predict: the mask leaves them out.
    Over all pixels the same pan's warping error is >100x larger, so a warping error without the mask fails."""
    pan = panning_clip(frames=5, shift=3)
    flows = VideoFlows(pan)
    unmasked = np.mean([np.mean((pan[i] - warp(pan[i - 1], flows.flow(i, i - 1))) ** 2) for i in range(1, len(pan))])
    assert unmasked > 1e-4
    assert metrics.warping_error(flows) < 1e-5
    assert metrics.occluded_fraction(flows) == pytest.approx(3 / 64, abs=0.05)  # the incoming columns


def test_a_flickering_pan_is_worse_than_the_pan_on_every_temporal_metric(perceptual):
    pan = panning_clip()
    scorer = Scorer(perceptual)
    smooth, flickering = scorer.score(pan, pan[0]).values, scorer.score(with_flicker(pan), pan[0]).values
    for lower_is_better in ("warping_error", "flicker", "consecutive_perceptual"):
        assert smooth[lower_is_better] < flickering[lower_is_better], lower_is_better
    for higher_is_better in ("motion_smoothness", "temporal_flickering", "consecutive_ssim"):
        assert smooth[higher_is_better] > flickering[higher_is_better], higher_is_better
    assert smooth["warping_error"] < 1e-4 < flickering["warping_error"]
    assert smooth["cut_count"] == flickering["cut_count"] == 0  # flicker is not a cut
    # odd frames 0.1 brighter than the mean of their neighbours: interpolation misses them by ~0.1
    assert flickering["motion_smoothness"] == pytest.approx(0.9, abs=0.01)
    assert smooth["motion_smoothness"] > 0.995


def test_a_hard_cut_is_detected_and_never_scored_perfect():
    cut = hard_cut(frames=8, at=4)
    assert metrics.detect_cuts(cut).tolist() == [False, False, False, True, False, False, False]  # frames 3 → 4
    assert metrics.cut_count(cut) == 1
    two_frames = cut[3:5]  # nothing but the cut
    assert metrics.cut_count(two_frames) == 1
    assert metrics.warping_error(two_frames) > 0.01  # over all pixels: the flow explains nothing
    held = np.concatenate([cut[:4], np.stack([cut[3]] * 4)])  # the same pan, holding its last frame instead
    assert metrics.warping_error(cut) > 10 * metrics.warping_error(held)


def test_a_jump_is_detected():
    tex = texture(64, 64 + 80)
    offsets = [0, 2, 4, 6, 18, 20, 22, 24, 26]  # 2 px per frame, then one 12 px jump
    clip = np.stack([tex[:, o : o + 64] for o in offsets])
    assert metrics.detect_cuts(clip).tolist() == [False, False, False, True, False, False, False, False]
    assert metrics.cut_count(panning_clip(frames=9)) == 0


def test_a_still_does_not_move_and_a_pan_does():
    pan = panning_clip(frames=9, shift=2)
    still = np.stack([pan[0]] * 9)
    assert metrics.dynamic_degree(still, fps=15) == 0.0
    assert metrics.motion_magnitude(still) == 0.0
    assert metrics.dynamic_degree(pan, fps=15) == 1.0
    assert metrics.motion_magnitude(pan) == pytest.approx(2 * 256 / 64, rel=0.05)  # px/frame at 256 px


def test_dynamic_degree_follows_vbench_thresholds():
    from eval.metrics.motion import dynamic_threshold, sample_stride, top_flow_magnitude

    assert dynamic_threshold(256, 256, 8) == 6.0
    assert dynamic_threshold(480, 832, 15) == 6.0 * 480 / 256  # scaled to the short side
    assert dynamic_threshold(256, 256, 4) == 12.0  # below 8 fps a pair spans more time
    assert (sample_stride(8), sample_stride(15), sample_stride(30)) == (1, 2, 4)
    flow = np.zeros((20, 20, 2), np.float32)
    flow.reshape(-1, 2)[:20] = (6.0, 8.0)  # 5 % of the pixels move 10 px
    assert top_flow_magnitude(flow) == pytest.approx(10.0)
    # at 8 fps every pair counts and 64 px frames need 1.5 px: 1 px/frame is static, 2 px/frame dynamic
    assert metrics.dynamic_degree(panning_clip(frames=9, shift=1), fps=8) == 0.0
    assert metrics.dynamic_degree(panning_clip(frames=9, shift=2), fps=8) == 1.0


def test_temporal_flickering_is_one_minus_the_uint8_flicker():
    frames = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    u8 = to_uint8(frames).astype(np.float32) / 255
    assert temporal_flickering(frames) == pytest.approx(1 - metrics.flicker(u8), abs=1e-6)  # flicker is float32
    assert temporal_flickering(np.stack([frames[0]] * 3)) == 1.0


def test_input_fidelity_proxy_formula_and_drift(perceptual):
    from eval.metrics.input_fidelity import cosine_similarities, vbench_i2v_formula

    assert vbench_i2v_formula(np.array([1.0, 0.5]), np.array([0.8, 0.6])) == pytest.approx(0.4 + 0.21 + 0.18)
    assert cosine_similarities(np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])).tolist() == [0.0]  # clipped
    from .conftest import drifting

    pan = panning_clip(frames=9, shift=1)
    drift = drifting(pan)
    stays, drifts = Scorer(perceptual).score(pan, pan[0]), Scorer(perceptual).score(drift, pan[0])
    assert drifts.values["input_fidelity_proxy"] < stays.values["input_fidelity_proxy"]
    assert drifts.values["input_vs_last"] < stays.values["input_vs_last"] - 0.02
    assert drifts.values["input_vs_mean"] < stays.values["input_vs_mean"]
    assert stays.curves["input_similarity"][0] == pytest.approx(1.0)  # frame 0 is the input
    assert len(drifts.curves["input_similarity"]) == 9


@pytest.mark.parametrize("degrade", ["shift", "blur"])
def test_vae_round_trip_is_best_when_frame_0_equals_the_input(perceptual, degrade):
    image = texture(64, 64, seed=3)
    worse = np.roll(image, 4, axis=1) if degrade == "shift" else cv2.GaussianBlur(image, (0, 0), 2)
    video, worse_video = np.stack([image, image]), np.stack([worse, image])
    good = score_video(video, image, perceptual, temporal=False)
    bad = score_video(worse_video, image, perceptual, temporal=False)
    assert good["vae_roundtrip_psnr"] == math.inf > bad["vae_roundtrip_psnr"]
    assert good["vae_roundtrip_ssim"] > bad["vae_roundtrip_ssim"]
    assert good["vae_roundtrip_perceptual"] < bad["vae_roundtrip_perceptual"]


def test_score_names_versions_and_one_frame_videos(perceptual):
    clip = panning_clip(frames=3)
    scorer = Scorer(perceptual)
    scores = scorer.score(clip, clip[0]).values
    assert set(scores) == {
        "vae_roundtrip_psnr",
        "vae_roundtrip_ssim",
        "vae_roundtrip_perceptual",
        "input_fidelity_proxy",
        "input_vs_last",
        "input_vs_mean",
        "dynamic_degree",
        "motion_magnitude",
        "warping_error",
        "occluded_fraction",
        "cut_count",
        "motion_smoothness",
        "temporal_flickering",
        "flicker",
        "consecutive_ssim",
        "consecutive_perceptual",
    }
    assert set(score_video(clip[:1], clip[0], None)) == {"vae_roundtrip_psnr", "vae_roundtrip_ssim"}
    versions = scorer.versions
    assert versions["perceptual"] == perceptual.name and versions["features"].startswith(perceptual.name)
    assert versions["flow"].startswith("dis-medium/opencv-")
    assert set(Scorer(None, flow_preset="fast").versions) == {"metrics", "flow", "motion_fps"}


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

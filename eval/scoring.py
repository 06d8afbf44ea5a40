"""All enabled metrics of one generated video: a flat dict of floats (the names used in every table, described
in ``eval.catalog``) plus per-frame curves, and the versions of the metrics that produced them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from longcat_i2v import defaults

from . import metrics
from .metrics import Perceptual, VideoFlows
from .metrics.flow import flow_version
from .metrics.input_fidelity import feature_name, similarity_curves, vbench_i2v_formula
from .metrics.segments import SegmentLayout, segment_bounds

METRICS_VERSION = 2  # bump when a metric's definition changes; the aggregate refuses to mix versions
LONG_VIDEO_VERSION = 1  # the same for the long-video scores (segments, drift, seams)
REFINEMENT_VERSION = 1  # and for the refinement's fidelity to stage 1
TASKS = ("i2v", "long", "refine")


@dataclass
class ItemScores:
    values: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    segments: list[dict] = field(default_factory=list)  # long videos: one dict of scores per segment


@dataclass
class Scorer:
    """The job's metric choices; ``score`` runs them on one video, ``versions`` says what produced the numbers."""

    perceptual: Perceptual | None = None
    fidelity: bool = True
    temporal: bool = True
    flow_preset: str = "medium"
    fps: float = defaults.FPS  # the frame rate the video plays at (a refined one's: 30)
    task: str = "i2v"  # what is scored: i2v videos, long videos (score_long) or refined ones (score_refined)

    @property
    def versions(self) -> dict[str, str]:
        """One entry per metric family that is on; results whose entries differ are not put in one table."""
        out = {"metrics": str(METRICS_VERSION)}
        if self.temporal:
            out["flow"] = flow_version(self.flow_preset)
            out["motion_fps"] = str(self.fps)
        if self.perceptual is not None:
            out["perceptual"] = self.perceptual.name
            if self.fidelity:
                out["features"] = feature_name(self.perceptual)
        if self.task == "long":
            out["long_video"] = str(LONG_VIDEO_VERSION)
        if self.task == "refine":
            out["refinement"] = str(REFINEMENT_VERSION)
        return out

    def score(self, frames: np.ndarray, cond_image: np.ndarray) -> ItemScores:
        """``frames`` are float [F, H, W, 3] in [0, 1], never compressed; ``cond_image`` the input as the model
        saw it (after the bucket resize). Temporal metrics are skipped for a one-frame video."""
        return self._score(frames, cond_image)[0]

    def score_long(self, frames: np.ndarray, cond_image: np.ndarray, layout: SegmentLayout) -> ItemScores:
        """A long video: the whole video's scores; per segment (``segments``, one dict each, bounds from
        ``layout``, the video's ``LongVideoSettings``) its temporal scores, its input fidelity and its drift
        from segment 0; and the video's worst drift and its seam scores (``eval.catalog``, family long video)."""
        bounds = segment_bounds(layout, len(frames))
        out, sims, flows = self._score(frames, cond_image)
        first = frames[: bounds[0][1]]
        for k, (a, b) in enumerate(bounds):
            part = frames[a:b]
            seg: dict = {"segment": k, "start": a, "end": b}
            if flows is not None and len(part) > 1:
                seg.update(self._temporal(flows.window(a, b)))
            if sims is not None:
                seg.update(self._input_fidelity(sims[0][a:b], sims[1][a : b - 1], {}))
            seg["color_drift"] = metrics.color_drift(part, first)
            seg["sharpness_ratio"] = metrics.sharpness_ratio(part, first)
            out.segments.append(seg)
        later = out.segments[1:]
        if later:
            out.values["color_drift"] = max(s["color_drift"] for s in later)
            out.values["sharpness_drift"] = max(metrics.sharpness_drift(s["sharpness_ratio"]) for s in later)
            if sims is not None:
                drop = out.segments[0]["input_vs_mean"] - min(s["input_vs_mean"] for s in later)
                out.values["input_fidelity_drift"] = float(drop)
        if flows is not None and later:
            seams = metrics.seam_pairs(bounds)
            out.values["seam_flicker_ratio"] = metrics.seam_ratio(metrics.pair_differences(frames), seams)
            out.values["seam_warping_ratio"] = metrics.seam_ratio(metrics.warping_errors(flows), seams)
            out.values["seam_cuts"] = float(np.sum(metrics.detect_cuts(flows)[seams]))
        return out

    def score_refined(self, frames: np.ndarray, cond_image: np.ndarray, stage1: np.ndarray) -> ItemScores:
        """A refined video: its own scores (temporal ones at the refined frame rate, ``fps``) and, with
        ``fidelity``, its fidelity to the stage-1 video it refined (``metrics.stage1_fidelity``)."""
        out = self.score(frames, cond_image)
        if self.fidelity:
            out.values.update(metrics.stage1_fidelity(frames, stage1, self.perceptual))
        return out

    def _score(self, frames: np.ndarray, cond_image: np.ndarray) -> tuple[ItemScores, tuple | None, VideoFlows | None]:
        """The scores, and the similarity curves and flows they came from (None when not computed)."""
        out, sims, flows = ItemScores(), None, None
        if self.fidelity:
            out.values.update(self._vae_roundtrip(frames[0], cond_image))
            if self.perceptual is not None:
                sims = similarity_curves(frames, cond_image, self.perceptual)
                out.values.update(self._input_fidelity(*sims, out.curves))
        if self.temporal and len(frames) > 1:
            flows = VideoFlows(frames, self.flow_preset)
            out.values.update(self._temporal(flows))
        return out, sims, flows

    def _vae_roundtrip(self, first: np.ndarray, cond_image: np.ndarray) -> dict[str, float]:
        """Frame 0 against the input: the VAE's decode of the conditioning latent, the same for every sampler
        setting, so it measures the VAE (and dtype), not the sampler."""
        scores = {
            "vae_roundtrip_psnr": metrics.psnr(first, cond_image),
            "vae_roundtrip_ssim": metrics.ssim(first, cond_image),
        }
        if self.perceptual is not None:
            scores["vae_roundtrip_perceptual"] = metrics.perceptual_distance(first, cond_image, self.perceptual)
        return scores

    @staticmethod
    def _input_fidelity(to_input: np.ndarray, consecutive: np.ndarray, curves: dict) -> dict[str, float]:
        curves["input_similarity"] = [float(v) for v in to_input]
        scores = {"input_vs_last": float(to_input[-1]), "input_vs_mean": float(np.mean(to_input))}
        if len(consecutive):
            scores["input_fidelity_proxy"] = vbench_i2v_formula(to_input, consecutive)
        return scores

    def _temporal(self, flows: VideoFlows) -> dict[str, float]:
        frames = flows.frames
        scores = {
            "dynamic_degree": metrics.dynamic_degree(flows, self.fps),
            "motion_magnitude": metrics.motion_magnitude(flows),
            "warping_error": metrics.warping_error(flows),
            "occluded_fraction": metrics.occluded_fraction(flows),
            "cut_count": metrics.cut_count(flows),
            "motion_smoothness": metrics.motion_smoothness(flows),
            "temporal_flickering": metrics.temporal_flickering(frames),
            "flicker": metrics.flicker(frames),
            "consecutive_ssim": metrics.consecutive_ssim(frames),
        }
        if self.perceptual is not None:
            scores["consecutive_perceptual"] = metrics.consecutive_perceptual(frames, self.perceptual)
        return scores


def score_video(
    frames: np.ndarray,
    cond_image: np.ndarray,
    perceptual: Perceptual | None,
    fidelity: bool = True,
    temporal: bool = True,
    flow_preset: str = "medium",
) -> dict[str, float]:
    """The scalar scores of one video (``Scorer.score(...).values``)."""
    return Scorer(perceptual, fidelity, temporal, flow_preset).score(frames, cond_image).values

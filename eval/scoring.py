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

METRICS_VERSION = 2  # bump when a metric's definition changes; the aggregate refuses to mix versions


@dataclass
class ItemScores:
    values: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Scorer:
    """The job's metric choices; ``score`` runs them on one video, ``versions`` says what produced the numbers."""

    perceptual: Perceptual | None = None
    fidelity: bool = True
    temporal: bool = True
    flow_preset: str = "medium"
    fps: float = defaults.FPS

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
        return out

    def score(self, frames: np.ndarray, cond_image: np.ndarray) -> ItemScores:
        """``frames`` are float [F, H, W, 3] in [0, 1], never compressed; ``cond_image`` the input as the model
        saw it (after the bucket resize). Temporal metrics are skipped for a one-frame video."""
        out = ItemScores()
        if self.fidelity:
            out.values.update(self._vae_roundtrip(frames[0], cond_image))
            if self.perceptual is not None:
                out.values.update(self._input_fidelity(frames, cond_image, out.curves))
        if self.temporal and len(frames) > 1:
            out.values.update(self._temporal(frames))
        return out

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

    def _input_fidelity(self, frames: np.ndarray, cond_image: np.ndarray, curves: dict) -> dict[str, float]:
        to_input, consecutive = similarity_curves(frames, cond_image, self.perceptual)
        curves["input_similarity"] = [float(v) for v in to_input]
        scores = {"input_vs_last": float(to_input[-1]), "input_vs_mean": float(np.mean(to_input))}
        if len(frames) > 1:
            scores["input_fidelity_proxy"] = vbench_i2v_formula(to_input, consecutive)
        return scores

    def _temporal(self, frames: np.ndarray) -> dict[str, float]:
        flows = VideoFlows(frames, self.flow_preset)
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

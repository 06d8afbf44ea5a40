"""Fidelity to the input image beyond frame 0, on deep features of the perceptual backbone (the AlexNet/VGG
that ships with ST-LPIPS, or standard LPIPS's when its ImageNet weights are cached), so it runs offline.

``input_fidelity_proxy`` uses the formula of VBench's I2V subject consistency (``vbench2_beta_i2v/
i2v_subject.py``, github.com/Vchitect/VBench): 0.4 · max over frames of sim(input, frame) + 0.3 · mean and
0.3 · min over consecutive frames of sim(frame, next frame), each cosine similarity clipped at 0. VBench
computes it on DINO features, which are not available offline; on these features it is a proxy with VBench's
formula, not VBench's score, and is never reported under VBench's name.

Frame 0 of an I2V video is the VAE decode of the conditioning latent (identical across sampler settings), so
``input_similarities`` and the input-vs-last-frame score are what show drift away from the input.
"""

from __future__ import annotations

import numpy as np
import torch

from ._tensors import as_nchw, check_video
from .perceptual import BATCH, Perceptual

MAX_WEIGHT, MEAN_WEIGHT, MIN_WEIGHT = 0.4, 0.3, 0.3
FEATURES_VERSION = "pooled-unit-channels-all-layers/1"


def feature_name(perceptual: Perceptual) -> str:
    """The features' backend and recipe, recorded with every result."""
    return f"{perceptual.name}:{FEATURES_VERSION}"


@torch.no_grad()
def frame_features(frames: np.ndarray, perceptual: Perceptual) -> np.ndarray:
    """Unit-length feature vector per frame [N, D]: each backbone layer's activations normalized across channels
    at every position (as LPIPS does), averaged over the image, layers concatenated with equal weight."""
    t = as_nchw(frames) * 2 - 1  # LPIPS nets take [-1, 1]
    out = []
    for i in range(0, len(t), BATCH):
        layers = perceptual.net.net(perceptual.net.scaling_layer(t[i : i + BATCH]))
        pooled = [torch.nn.functional.normalize(x, dim=1).mean(dim=(2, 3)) for x in layers]
        pooled = [torch.nn.functional.normalize(p, dim=1) for p in pooled]
        out.append(torch.nn.functional.normalize(torch.cat(pooled, dim=1), dim=1))
    return torch.cat(out).double().numpy()


def cosine_similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two feature arrays [N, D], clipped at 0 as VBench does."""
    dots = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.clip(dots, 0.0, None)


def similarity_curves(
    frames: np.ndarray, cond_image: np.ndarray, perceptual: Perceptual
) -> tuple[np.ndarray, np.ndarray]:
    """(sim(input, frame i) for every frame, sim(frame i, frame i+1) for every consecutive pair), from one pass of
    the backbone over the input and the frames. The first is the input-vs-every-frame curve."""
    frames = check_video(frames)
    feats = frame_features(np.concatenate([cond_image[None], frames]), perceptual)
    to_input = cosine_similarities(np.repeat(feats[:1], len(frames), axis=0), feats[1:])
    return to_input, cosine_similarities(feats[1:-1], feats[2:])


def vbench_i2v_formula(to_input: np.ndarray, consecutive: np.ndarray) -> float:
    """0.4 · max(to_input) + 0.3 · mean(consecutive) + 0.3 · min(consecutive)."""
    return float(MAX_WEIGHT * np.max(to_input) + MEAN_WEIGHT * np.mean(consecutive) + MIN_WEIGHT * np.min(consecutive))


def input_fidelity_proxy(frames: np.ndarray, cond_image: np.ndarray, perceptual: Perceptual) -> float:
    """VBench's I2V-subject formula on this backbone's features (module docstring); higher is more faithful.
    Needs at least 2 frames."""
    check_video(frames, min_frames=2)
    return vbench_i2v_formula(*similarity_curves(frames, cond_image, perceptual))

"""What each metric column means: which way is better, its family, whether a still could win it, its label.

Read by the scorer (which columns exist), ``eval.stats`` (verdict direction; metrics that a still would win
are compared only on pairs where both videos move) and the report (grouping, labels). Kept free of torch so
the aggregate imports it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

MOTION, TEMPORAL, INPUT, VAE, TIMING = "motion", "temporal quality", "input fidelity", "VAE round trip", "timing"
LONG, REFINE = "long video", "refinement"
FAMILIES = (INPUT, TEMPORAL, MOTION, LONG, REFINE, VAE, TIMING)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    family: str
    higher_is_better: bool | None  # None: neither (motion amounts are reported, not ranked)
    label: str
    rewards_stillness: bool = False  # a still scores best: compare only where both videos move
    verdict: bool = True  # False: shown in tables, no paired verdict (timing)
    uses: tuple[str, ...] = ()  # the entries of a result's metric_versions its values depend on


def _m(name: str, family: str, higher: bool | None, label: str, **kw) -> MetricInfo:
    uses = {INPUT: ("features",), TEMPORAL: ("flow",), MOTION: ("flow", "motion_fps"), LONG: ("long_video",)}.get(
        family, ()
    )
    uses = ("refinement", *uses) if family == REFINE else uses
    if name == "motion_magnitude":
        uses = ("flow",)
    elif name.endswith("perceptual"):
        uses = (*uses, "perceptual") if family == REFINE else ("perceptual",)
    elif name in ("temporal_flickering", "flicker", "consecutive_ssim"):
        uses = ()
    return MetricInfo(name, family, higher, label, **{"uses": () if family == TIMING else ("metrics", *uses), **kw})


LONG_FLOW = ("metrics", "long_video", "flow")
CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        _m("input_fidelity_proxy", INPUT, True, "input fidelity (proxy, VBench I2V-subject formula)"),
        _m("input_vs_last", INPUT, True, "similarity input vs last frame"),
        _m("input_vs_mean", INPUT, True, "similarity input vs every frame (mean)"),
        _m("warping_error", TEMPORAL, False, "warping error", rewards_stillness=True),
        _m("occluded_fraction", TEMPORAL, None, "occluded fraction (ignored by warping error)", verdict=False),
        _m("cut_count", TEMPORAL, False, "cuts / jumps (pairs)"),
        _m("motion_smoothness", TEMPORAL, True, "motion smoothness (DIS interpolation)", rewards_stillness=True),
        _m("temporal_flickering", TEMPORAL, True, "temporal flickering (VBench formula)", rewards_stillness=True),
        _m("flicker", TEMPORAL, False, "flicker (mean |Δ| between frames)", rewards_stillness=True),
        _m("consecutive_ssim", TEMPORAL, True, "SSIM between consecutive frames", rewards_stillness=True),
        _m("consecutive_perceptual", TEMPORAL, False, "perceptual distance between frames", rewards_stillness=True),
        _m("dynamic_degree", MOTION, None, "dynamic degree (VBench rule, DIS flow)"),
        _m("motion_magnitude", MOTION, None, "motion magnitude (px/frame at 256 px)"),
        _m("color_drift", LONG, False, "colour drift of later segments from the first (Lab, worst segment)"),
        _m("sharpness_drift", LONG, False, "sharpness drift from the first segment (|log2 ratio|, worst)"),
        _m(
            "input_fidelity_drift",
            LONG,
            False,
            "input similarity lost by later segments (first − worst)",
            uses=("metrics", "long_video", "features"),
        ),
        _m("seam_flicker_ratio", LONG, False, "|Δ| across segment seams / within segments"),
        _m("seam_warping_ratio", LONG, False, "warping error across seams / within segments", uses=LONG_FLOW),
        _m("seam_cuts", LONG, False, "seams detected as cuts or jumps", uses=LONG_FLOW),
        _m("sharpness_ratio", LONG, None, "sharpness vs the first segment (per segment)", verdict=False),
        _m("refine_psnr", REFINE, True, "refined vs stage 1 PSNR (downscaled, stage-1 times)"),
        _m("refine_ssim", REFINE, True, "refined vs stage 1 SSIM (downscaled, stage-1 times)"),
        _m("refine_perceptual", REFINE, False, "refined vs stage 1 perceptual distance"),
        _m("vae_roundtrip_psnr", VAE, True, "frame 0 vs input PSNR (VAE round trip)"),
        _m("vae_roundtrip_ssim", VAE, True, "frame 0 vs input SSIM (VAE round trip)"),
        _m("vae_roundtrip_perceptual", VAE, False, "frame 0 vs input perceptual (VAE round trip)"),
        _m("step_s", TIMING, False, "seconds per step", verdict=False),
        _m("generation_s", TIMING, False, "seconds per video", verdict=False),
        _m("native_step_s", TIMING, False, "our seconds per step (same items)", verdict=False),
    ]
}
# per-frame curves stored with each item → the metric computed from the same values (whose versions they share)
CURVES = {"input_similarity": "input_vs_mean"}  # sim(input, frame i)


def info(name: str) -> MetricInfo:
    """The metric's entry; an unknown column (e.g. ``vs_native_*`` differences) is lower-is-better, no verdict."""
    return CATALOG.get(name) or MetricInfo(name, "other", False, name.replace("_", " "), verdict=False)


def direction(name: str) -> str:
    better = info(name).higher_is_better
    return "higher is better" if better else "lower is better" if better is False else "more = more motion"

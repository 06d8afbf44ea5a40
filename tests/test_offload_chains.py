"""The offload modes give the frames of "none" (bit-identical on CPU) beyond image-to-video: continuation with
the K/V cache (also offloaded to the CPU), a long video of two segments, and a refined continuation. Each runs a
cache pass or a VAE encode that must place its component first (an offloaded weight is a meta tensor)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from longcat_i2v import load_pipeline
from longcat_i2v.settings import RefineSettings, RuntimeSettings
from longcat_i2v.video import write_mp4

RNG = np.random.RandomState(11)
IMG = Image.fromarray((RNG.rand(40, 60, 3) * 255).astype(np.uint8))
CLIP = (RNG.rand(7, 32, 48, 3) * 255).astype(np.uint8)
SIZE = {"num_frames": 5, "height": 32, "width": 48, "num_inference_steps": 2, "seed": 5}
ALL = ("continuation", "long video", "refined continuation")
REFINE = RefineSettings(height=32, width=32, attention="dense", num_inference_steps=10, seed=5)


def _runs(pipe, video_file, offload_kv_cache: bool = False, names: tuple[str, ...] = ALL) -> dict[str, np.ndarray]:
    """Continuation with CFG and the K/V cache (on the device, or in CPU memory: the same frames), a long video
    of two segments, and a refined continuation (the refinement's VAE encodes of the video and conditioning)."""
    vc = {**SIZE, "num_cond_frames": 1, "guidance_scale": 4.0, "use_kv_cache": True}
    runs = {
        "continuation": lambda: pipe.generate_continuation("a fox", CLIP, offload_kv_cache=offload_kv_cache, **vc),
        "long video": lambda: pipe.generate_long_video(IMG, "a fox", num_segments=2, num_cond_frames=1, **SIZE),
        "refined continuation": lambda: pipe.generate_continuation(
            "a fox", video_file, refine=True, refine_settings=REFINE, **{**vc, "guidance_scale": 1.0}
        ),
    }
    return {name: runs[name]().frames for name in names}


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("offload") / "in.mp4"
    write_mp4(np.concatenate([CLIP, CLIP[::-1]]), path, fps=30)
    return path


@pytest.fixture(scope="module")
def reference(tiny_pipe, video_file):
    return _runs(tiny_pipe, video_file)


# The long video is image-to-video and continuations, the refinement's encodes are the VAE's: left out where slow
# (sequential runs a hook per layer) or covered (group places the VAE as model does), for time.
@pytest.mark.parametrize(
    ("mode", "offload_kv_cache", "names"),
    [
        ("model", False, ALL),
        ("group", True, ("continuation",)),
        ("sequential", True, ("continuation", "refined continuation")),
    ],
)
def test_every_mode_gives_the_frames_of_none_in_every_generation(
    tiny_ckpt, reference, video_file, mode, offload_kv_cache, names
):
    pipe = load_pipeline(runtime=RuntimeSettings(checkpoint=str(tiny_ckpt), offload=mode))
    assert pipe.offload == mode
    for name, frames in _runs(pipe, video_file, offload_kv_cache, names).items():
        assert np.array_equal(frames, reference[name]), (mode, name)


def test_quantized_continuation_with_the_cache_offloads_like_any_other(tiny_ckpt, reference):
    """int8 weights through the cache pass and the cached steps: the same frames with the model offloaded and the
    cache in CPU memory as without; and not the unquantized frames (the quantization is applied)."""
    pytest.importorskip("torchao")
    root, vc = str(tiny_ckpt), {**SIZE, "num_cond_frames": 1, "guidance_scale": 4.0, "use_kv_cache": True}
    plain = load_pipeline(runtime=RuntimeSettings(checkpoint=root, quantize="int8"))
    moved = load_pipeline(runtime=RuntimeSettings(checkpoint=root, quantize="int8", offload="model"))
    a = plain.generate_continuation("a fox", CLIP, **vc).frames
    b = moved.generate_continuation("a fox", CLIP, offload_kv_cache=True, **vc).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, reference["continuation"])
